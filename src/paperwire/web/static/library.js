// Progressive enhancement of the library's one-click forms (save, follow, 👎): send them with fetch()
// and update the page in place. Without JavaScript the forms post and come back to the same page.
async function refreshList(list) {
  // After a 👎 the reader's list is ranked again: fetch this page and take its new list.
  const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(list.id);
  if (fresh) list.replaceChildren(...fresh.childNodes);
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.js-feedback");
  if (!form) return;
  event.preventDefault();
  let response;
  try {
    // getAttribute: the form has an input named "action", which shadows form.action.
    response = await fetch(form.getAttribute("action"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch (error) {
    form.submit();
    return;
  }
  if (response.status === 401) {
    location.href = (await response.json()).login;
    return;
  }
  if (!response.ok) {
    form.submit();
    return;
  }
  const data = await response.json();
  if (form.classList.contains("js-dismiss")) {
    const card = form.closest("[data-paper-id]");
    const list = card ? card.parentElement : null;
    if (card) card.remove();
    if (list && list.id) await refreshList(list);
    return;
  }
  const action = form.querySelector("input[name=action]");
  const button = form.querySelector("button");
  action.value = data.on ? action.dataset.on : action.dataset.off;
  button.setAttribute("aria-pressed", String(data.on));
  button.textContent = data.on ? button.dataset.onLabel : button.dataset.offLabel;
});

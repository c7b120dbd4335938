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
  const data = await window.postForm(form);  // upvote.js; null when the page is being left
  if (!data) return;
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

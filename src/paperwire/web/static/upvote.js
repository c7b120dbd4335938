// Progressive enhancement of the upvote forms: send them with fetch() and update the count in place,
// so the page neither reloads nor scrolls, no history entry is added and the button keeps the focus.
// Without JavaScript the forms post and come back to the same card.
// The form's `action` attribute is read with getAttribute: `form.action` would be its
// <input name="action">, which shadows the property.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.upvote");
  if (!form) return;
  event.preventDefault();
  const button = form.querySelector("button");
  let response;
  try {
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
  form.querySelector(".count").textContent = data.upvotes;
  const label = form.querySelector(".label, .visually-hidden");
  if (label) label.textContent = data.upvotes === 1 ? " upvote" : " upvotes";
  form.classList.toggle("voted", data.voted);
  form.querySelector("input[name=action]").value = data.voted ? "undo" : "up";
  button.setAttribute("aria-pressed", String(data.voted));
  button.title = data.voted ? "Withdraw your upvote" : "Upvote";
  button.focus({ preventScroll: true });
});

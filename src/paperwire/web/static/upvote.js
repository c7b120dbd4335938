// Progressive enhancement of the upvote forms: send them with fetch() and update the count in place,
// so the page neither reloads nor scrolls, no history entry is added and the button keeps the focus.
// Without JavaScript the forms post and come back to the same card.
// The form's `action` attribute is read with getAttribute: `form.action` would be its
// <input name="action">, which shadows the property.
// postForm(form): POST a one-click form with fetch() and return its JSON answer; null when the page is
// being left instead (sign-in needed, or the plain submit that is the fallback). library.js uses it too.
window.postForm = async (form) => {
  let response;
  try {
    response = await fetch(form.getAttribute("action"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch (error) {
    form.submit();
    return null;
  }
  if (response.status === 401) {
    location.href = (await response.json()).login;
    return null;
  }
  if (!response.ok) {
    form.submit();
    return null;
  }
  return response.json();
};

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.upvote");
  if (!form) return;
  event.preventDefault();
  const button = form.querySelector("button");
  const data = await window.postForm(form);
  if (!data) return;
  form.querySelector(".count").textContent = data.upvotes;
  const label = form.querySelector(".label, .visually-hidden");
  if (label) label.textContent = data.upvotes === 1 ? " upvote" : " upvotes";
  form.classList.toggle("voted", data.voted);
  form.querySelector("input[name=action]").value = data.voted ? "undo" : "up";
  button.setAttribute("aria-pressed", String(data.voted));
  button.title = data.voted ? "Withdraw your upvote" : "Upvote";
  button.focus({ preventScroll: true });
});

// Progressive enhancement of the upvote forms: send them with fetch() and update the count in place.
// Without JavaScript the forms post and come back to the same page.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.upvote");
  if (!form) return;
  event.preventDefault();
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
  form.classList.toggle("voted", data.voted);
  form.querySelector("input[name=action]").value = data.voted ? "undo" : "up";
  const button = form.querySelector("button");
  button.setAttribute("aria-pressed", String(data.voted));
  button.title = data.voted ? "Withdraw your upvote" : "Upvote";
});

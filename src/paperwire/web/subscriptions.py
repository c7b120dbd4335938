"""Subscription pages and API: subscribe (form and JSON), confirm, preferences, unsubscribe, export, delete.

Every state change is a POST: forms carry CSRF; links carry a signed single-purpose token. The
unsubscribe POST needs nothing else, so RFC 8058 one-click unsubscribe from a mail client works.
Subscribing always answers the same, whether the address was known or not. Every POST that changes
something answers 303 to a page, so reloading it does not send the form again; deleting asks first.

Accounts and subscriptions are one: they are linked by the case-folded address. A signed-in reader
subscribes without typing it (confirmed at once: the sign-in link proved the address) and reaches the
digest's preferences from /account/digest.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperwire.mail import subscribers as lifecycle
from paperwire.mail.subscribers import CADENCES, InvalidSubscription, Subscriber
from paperwire.mail.tokens import InvalidToken
from paperwire.web.api import json_error
from paperwire.web.security import RateLimiter, client_ip, require_csrf
from paperwire.web.social import current_user

router = APIRouter()

ACCEPTED = {
    "status": "accepted",
    "message": "If this address can receive mail, a confirmation link is on its way. "
    "Nothing else is sent until it is used.",
}
IP_LIMIT = (20, 3600)  # subscribe requests per client address per hour
ADDRESS_LIMIT = (5, 3600)  # per email address per hour (beyond: same answer, no mail)


def _store(request: Request):
    return request.app.state.store


def _settings(request: Request):
    return request.app.state.settings


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    context = {"active_tab": "subscribe", "cadences": CADENCES, **context}
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def message_page(request: Request, title: str, message: str, status_code: int = 200, **links: str) -> HTMLResponse:
    return render(
        request, "subscribe_message.html", {"title": title, "message": message, "actions": links}, status_code
    )


def invalid_link(request: Request, error: InvalidToken) -> HTMLResponse:
    return message_page(request, "This link does not work", f"{str(error).capitalize()}. You can subscribe again "
                        "from the subscribe page.", 400, subscribe="/subscribe")  # fmt: skip


def within_limits(request: Request, email: str) -> bool:
    """Enforce the per-IP limit (429); report whether the per-address limit still allows a mail."""
    store, settings = _store(request), _settings(request)
    RateLimiter(store, settings, "subscribe-ip", limit=IP_LIMIT[0], window_seconds=IP_LIMIT[1]).enforce(
        client_ip(request)
    )
    address_limiter = RateLimiter(
        store, settings, "subscribe-address", limit=ADDRESS_LIMIT[0], window_seconds=ADDRESS_LIMIT[1]
    )
    return address_limiter.hit(email.strip().lower())


def subscribe_from(
    request: Request, background: BackgroundTasks, email: str, cadence: str, interests: lifecycle.Interests,
    max_papers: int,
) -> None:  # fmt: skip
    """Validate and count now; the address-dependent work (new, pending or confirmed: a different mail or
    none) runs after the answer is sent, so the answer's timing says nothing about the address."""
    lifecycle.normalise_email(email)  # validate before counting against the address
    lifecycle.check_cadence(cadence)
    if within_limits(request, email):
        background.add_task(lifecycle.request_subscription, _store(request), _settings(request), email, cadence,
                            interests, max_papers)  # fmt: skip


# ---- subscribe ---------------------------------------------------------------------------------


# Lists longer than this are refused while the body is parsed, before any other work (the domain's own
# limit, MAX_INTEREST_ITEMS distinct entries, is checked after de-duplication).
MAX_LIST = 2 * lifecycle.MAX_INTEREST_ITEMS
ListOfText = Annotated[list[Annotated[str, Field(max_length=lifecycle.MAX_INTEREST_CHARS)]], Field(max_length=MAX_LIST)]


class SubscriptionRequest(BaseModel):
    email: str = Field(..., max_length=320)
    cadence: str = Field("daily", max_length=20)
    topics: ListOfText = Field(default_factory=list)
    categories: ListOfText = Field(default_factory=list)
    authors: ListOfText = Field(default_factory=list)
    keywords: ListOfText = Field(default_factory=list)
    max_papers: int = 10


@router.post("/api/subscriptions", status_code=202, tags=["subscriptions"])
def api_subscribe(body: SubscriptionRequest, request: Request, background: BackgroundTasks) -> Response:
    """Ask for a digest. Always 202 with the same body, whether the address was known or not."""
    try:
        interests = lifecycle.make_interests(body.topics, body.categories, body.authors, body.keywords)
        max_papers = lifecycle.check_max_papers(body.max_papers)
        subscribe_from(request, background, body.email, body.cadence, interests, max_papers)
    except InvalidSubscription as error:
        return json_error(422, str(error))
    return JSONResponse(ACCEPTED, status_code=202)


def signed_in_email(request: Request) -> str | None:
    user = current_user(request)
    return user["email"] if user else None


@router.get("/subscribe", response_class=HTMLResponse, include_in_schema=False)
def subscribe_page(request: Request) -> HTMLResponse:
    email = signed_in_email(request)
    subscriber = lifecycle.subscriber_of_address(_store(request), email) if email else None
    context = {"form": {"cadence": "daily", "max_papers": 10}, "account_email": email, "subscriber": subscriber}
    if subscriber is not None and subscriber.status == "confirmed":
        context["manage_url"] = preferences_path(request, subscriber)
    return render(request, "subscribe.html", context)


@router.get("/subscribe/sent", response_class=HTMLResponse, include_in_schema=False)
def subscribe_sent(request: Request) -> HTMLResponse:
    return message_page(request, "Check your inbox", ACCEPTED["message"])


@router.post("/subscribe", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(require_csrf)])
def subscribe_form(
    request: Request,
    background: BackgroundTasks,
    email: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "daily",
    topics: Annotated[str, Form()] = "",
    categories: Annotated[str, Form()] = "",
    authors: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    max_papers: Annotated[str, Form()] = "10",
) -> Response:
    account_email = signed_in_email(request)
    form = {"email": email, "cadence": cadence, "topics": topics, "categories": categories, "authors": authors,
            "keywords": keywords, "max_papers": max_papers}  # fmt: skip
    try:
        interests = lifecycle.make_interests(topics, categories, authors, keywords)
        if account_email is not None:
            subscriber = lifecycle.subscribe_proven_address(_store(request), _settings(request), account_email,
                                                            cadence, interests, lifecycle.check_max_papers(max_papers))  # fmt: skip
            return RedirectResponse(preferences_path(request, subscriber) + "?saved=subscribed", status_code=303)
        subscribe_from(request, background, email, cadence, interests, lifecycle.check_max_papers(max_papers))
    except InvalidSubscription as error:
        context = {"form": form, "error": str(error), "account_email": account_email}
        return render(request, "subscribe.html", context, 422)
    return RedirectResponse("/subscribe/sent", status_code=303)


@router.get("/account/digest", include_in_schema=False)
def account_digest(request: Request) -> Response:
    """The signed-in reader's digest: its preferences when subscribed, else the subscribe form."""
    email = signed_in_email(request)
    if email is None:
        return RedirectResponse("/login?next=/account/digest", status_code=303)
    subscriber = lifecycle.subscriber_of_address(_store(request), email)
    if subscriber is None or subscriber.status not in ("confirmed", "bouncing"):
        return RedirectResponse("/subscribe", status_code=303)
    return RedirectResponse(preferences_path(request, subscriber), status_code=303)


def preferences_path(request: Request, subscriber: Subscriber) -> str:
    return lifecycle.path_for(_settings(request), "preferences", subscriber.id, subscriber.nonce)


# ---- confirm ------------------------------------------------------------------------------------


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """Shows a button: a GET never changes anything (mail scanners open links too). A confirmed address
    sees that it is subscribed, and where to choose its interests."""
    try:
        subscriber = lifecycle.subscriber_for_token(_store(request), _settings(request), "confirm", token)
    except InvalidToken as error:
        return invalid_link(request, error)
    if subscriber.status == "confirmed":
        return message_page(request, "You are subscribed", f"Your {subscriber.cadence} digest goes to {subscriber.email}.",
                            preferences=preferences_path(request, subscriber))  # fmt: skip
    return render(request, "subscribe_confirm.html", {"subscriber": subscriber, "token": token})


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
def confirm(request: Request, token: str) -> Response:
    try:
        lifecycle.confirm_subscription(_store(request), _settings(request), token)
    except InvalidToken as error:
        return invalid_link(request, error)
    return RedirectResponse(f"/subscribe/confirm/{token}", status_code=303)


# ---- preferences, export, delete ----------------------------------------------------------------


def subscriber_or_error(request: Request, purpose: str, token: str) -> Subscriber | HTMLResponse:
    try:
        return lifecycle.subscriber_for_token(_store(request), _settings(request), purpose, token)
    except InvalidToken as error:
        return invalid_link(request, error)


def preferences_form(subscriber: Subscriber) -> dict:
    interests = subscriber.interests
    return {"email": subscriber.email, "cadence": subscriber.cadence, "topics": "\n".join(interests.topics),
            "categories": ", ".join(interests.categories), "authors": "\n".join(interests.authors),
            "keywords": ", ".join(interests.keywords), "max_papers": subscriber.max_papers}  # fmt: skip


def preferences_context(request: Request, subscriber: Subscriber, token: str, form: dict) -> dict:
    unsubscribe = lifecycle.path_for(_settings(request), "unsubscribe", subscriber.id, subscriber.nonce)
    return {"subscriber": subscriber, "token": token, "form": form, "unsubscribe_path": unsubscribe}


@router.get("/preferences/{token}", response_class=HTMLResponse, include_in_schema=False)
def preferences_page(request: Request, token: str, saved: str | None = None) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    context = preferences_context(request, subscriber, token, preferences_form(subscriber))
    return render(
        request, "preferences.html", {**context, "saved": saved if saved in ("saved", "subscribed") else None}
    )


@router.post(
    "/preferences/{token}", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(require_csrf)]
)
def save_preferences(
    request: Request,
    token: str,
    cadence: Annotated[str, Form()] = "daily",
    topics: Annotated[str, Form()] = "",
    categories: Annotated[str, Form()] = "",
    authors: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    max_papers: Annotated[str, Form()] = "10",
) -> Response:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    form = {"email": subscriber.email, "cadence": cadence, "topics": topics, "categories": categories,
            "authors": authors, "keywords": keywords, "max_papers": max_papers}  # fmt: skip
    try:
        interests = lifecycle.make_interests(topics, categories, authors, keywords)
        lifecycle.update_preferences(
            _store(request), subscriber, cadence, interests, lifecycle.check_max_papers(max_papers)
        )
    except InvalidSubscription as error:
        context = preferences_context(request, subscriber, token, form)
        return render(request, "preferences.html", {**context, "error": str(error)}, 422)
    return RedirectResponse(f"/preferences/{token}?saved=saved", status_code=303)


@router.get("/preferences/{token}/export.json", tags=["subscriptions"])
def export_data(request: Request, token: str) -> Response:
    """Everything kept about this subscription, as JSON."""
    try:
        subscriber = lifecycle.subscriber_for_token(_store(request), _settings(request), "preferences", token)
    except InvalidToken as error:
        return json_error(400, f"{str(error).capitalize()}: open the link of your latest mail.")
    return JSONResponse(lifecycle.export_subscriber(_store(request), subscriber),
                        headers={"Content-Disposition": 'attachment; filename="paperwire-subscription.json"'})  # fmt: skip


@router.get("/preferences/{token}/delete", response_class=HTMLResponse, include_in_schema=False)
def delete_data_page(request: Request, token: str) -> HTMLResponse:
    """Deleting cannot be undone: this page asks first; its button sends the POST."""
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    return render(request, "delete_confirm.html", {"subscriber": subscriber, "token": token})


@router.post(
    "/preferences/{token}/delete",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Depends(require_csrf)],
)
def delete_data(request: Request, token: str) -> Response:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    lifecycle.delete_subscriber(_store(request), subscriber)
    return RedirectResponse("/subscribe/deleted", status_code=303)


@router.get("/subscribe/deleted", response_class=HTMLResponse, include_in_schema=False)
def data_deleted(request: Request) -> HTMLResponse:
    return message_page(request, "Your data is deleted",
                        "The subscription, its preferences and its mail history are gone. Old links no longer work.",
                        subscribe="/subscribe")  # fmt: skip


# ---- unsubscribe ---------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "unsubscribe", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    return render(request, "unsubscribe.html", {"subscriber": subscriber, "token": token})


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe(request: Request, token: str) -> Response:
    """Unsubscribe at once: the page's button, the preferences page's, and RFC 8058 one-click POSTs from
    mail clients; then the page that says so."""
    subscriber = subscriber_or_error(request, "unsubscribe", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    lifecycle.unsubscribe(_store(request), subscriber)
    return RedirectResponse(f"/unsubscribe/{token}", status_code=303)

"""Subscription pages and API: subscribe (form and JSON), confirm, preferences, unsubscribe, export, delete.

Every state change is a POST: forms carry CSRF; links carry a signed single-purpose token. The
unsubscribe POST needs nothing else, so RFC 8058 one-click unsubscribe from a mail client works.
Subscribing always answers the same, whether the address was known or not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from paperwire.mail import subscribers as lifecycle
from paperwire.mail.subscribers import CADENCES, InvalidSubscription, Subscriber
from paperwire.mail.tokens import InvalidToken
from paperwire.web.security import RateLimiter, client_ip, require_csrf

router = APIRouter()

ACCEPTED = {
    "status": "accepted",
    "message": "If this address can receive mail, a confirmation link is on its way. "
    "Nothing else is sent until it is used.",
}
IP_LIMIT = (20, 3600)  # subscribe requests per client address per hour
ADDRESS_LIMIT = (5, 3600)  # per email address per hour (beyond: same answer, no mail)


def _store(request: Request):  # noqa: ANN202
    return request.app.state.store


def _settings(request: Request):  # noqa: ANN202
    return request.app.state.settings


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    context = {"active_tab": "subscribe", "cadences": CADENCES, **context}
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def message_page(request: Request, title: str, message: str, status_code: int = 200, **links: str) -> HTMLResponse:
    return render(request, "subscribe_message.html", {"title": title, "message": message, "actions": links}, status_code)


def invalid_link(request: Request, error: InvalidToken) -> HTMLResponse:
    return message_page(request, "This link does not work", f"{str(error).capitalize()}. You can subscribe again "
                        "from the subscribe page.", 400, subscribe="/subscribe")  # fmt: skip


def within_limits(request: Request, email: str) -> bool:
    """Enforce the per-IP limit (429); report whether the per-address limit still allows a mail."""
    store, settings = _store(request), _settings(request)
    RateLimiter(store, settings, "subscribe-ip", limit=IP_LIMIT[0], window_seconds=IP_LIMIT[1]).enforce(client_ip(request))
    address_limiter = RateLimiter(store, settings, "subscribe-address", limit=ADDRESS_LIMIT[0], window_seconds=ADDRESS_LIMIT[1])
    return address_limiter.hit(email.strip().lower())


def subscribe_from(request: Request, email: str, cadence: str, interests: lifecycle.Interests, max_papers: int) -> None:
    lifecycle.normalise_email(email)  # validate before counting against the address
    lifecycle.check_cadence(cadence)
    if within_limits(request, email):
        lifecycle.request_subscription(_store(request), _settings(request), email, cadence, interests, max_papers)


# ---- subscribe ---------------------------------------------------------------------------------


class SubscriptionRequest(BaseModel):
    email: str = Field(..., max_length=320)
    cadence: str = "daily"
    topics: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    max_papers: int = 10


@router.post("/api/subscriptions", status_code=202, tags=["subscriptions"])
def api_subscribe(body: SubscriptionRequest, request: Request) -> JSONResponse:
    """Ask for a digest. Always 202 with the same body, whether the address was known or not."""
    try:
        interests = lifecycle.make_interests(body.topics, body.categories, body.authors, body.keywords)
        max_papers = lifecycle.check_max_papers(body.max_papers)
        subscribe_from(request, body.email, body.cadence, interests, max_papers)
    except InvalidSubscription as error:
        return JSONResponse({"detail": str(error)}, status_code=422)
    return JSONResponse(ACCEPTED, status_code=202)


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(request: Request) -> HTMLResponse:
    from paperwire.web.social import current_user

    # A signed-in reader's address is filled in: the subscription is linked to the account by address,
    # which is what gives their digest its "For you" section.
    user = current_user(request)
    form = {"cadence": "daily", "max_papers": 10, "email": user["email"] if user else ""}
    return render(request, "subscribe.html", {"form": form})


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def subscribe_form(
    request: Request,
    email: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "daily",
    topics: Annotated[str, Form()] = "",
    categories: Annotated[str, Form()] = "",
    authors: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    max_papers: Annotated[str, Form()] = "10",
) -> HTMLResponse:
    form = {"email": email, "cadence": cadence, "topics": topics, "categories": categories, "authors": authors,
            "keywords": keywords, "max_papers": max_papers}  # fmt: skip
    try:
        interests = lifecycle.make_interests(topics, categories, authors, keywords)
        subscribe_from(request, email, cadence, interests, lifecycle.check_max_papers(max_papers))
    except InvalidSubscription as error:
        return render(request, "subscribe.html", {"form": form, "error": str(error)}, 422)
    return message_page(request, "Check your inbox", ACCEPTED["message"])


# ---- confirm ------------------------------------------------------------------------------------


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """Shows a button: a GET never changes anything (mail scanners open links too)."""
    try:
        subscriber = lifecycle.subscriber_for_token(_store(request), _settings(request), "confirm", token)
    except InvalidToken as error:
        return invalid_link(request, error)
    return render(request, "subscribe_confirm.html", {"subscriber": subscriber, "token": token})


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    try:
        subscriber = lifecycle.confirm_subscription(_store(request), _settings(request), token)
    except InvalidToken as error:
        return invalid_link(request, error)
    preferences = lifecycle.link_for(_settings(request), "preferences", subscriber.id, subscriber.nonce)
    return message_page(request, "You are subscribed",
                        f"Your {subscriber.cadence} digest goes to {subscriber.email}.",
                        preferences=preferences)  # fmt: skip


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


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    return render(request, "preferences.html", {"subscriber": subscriber, "token": token,
                                                "form": preferences_form(subscriber)})  # fmt: skip


@router.post("/preferences/{token}", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def save_preferences(
    request: Request,
    token: str,
    cadence: Annotated[str, Form()] = "daily",
    topics: Annotated[str, Form()] = "",
    categories: Annotated[str, Form()] = "",
    authors: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    max_papers: Annotated[str, Form()] = "10",
) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    form = {"email": subscriber.email, "cadence": cadence, "topics": topics, "categories": categories,
            "authors": authors, "keywords": keywords, "max_papers": max_papers}  # fmt: skip
    try:
        interests = lifecycle.make_interests(topics, categories, authors, keywords)
        lifecycle.update_preferences(_store(request), subscriber, cadence, interests, lifecycle.check_max_papers(max_papers))
    except InvalidSubscription as error:
        return render(request, "preferences.html", {"subscriber": subscriber, "token": token, "form": form,
                                                    "error": str(error)}, 422)  # fmt: skip
    return render(request, "preferences.html", {"subscriber": subscriber, "token": token, "form": form,
                                                "saved": True})  # fmt: skip


@router.get("/preferences/{token}/export.json", tags=["subscriptions"])
def export_data(request: Request, token: str) -> Response:
    """Everything kept about this subscription, as JSON."""
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    return JSONResponse(lifecycle.export_subscriber(_store(request), subscriber),
                        headers={"Content-Disposition": 'attachment; filename="paperwire-subscription.json"'})  # fmt: skip


@router.post("/preferences/{token}/delete", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
def delete_data(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "preferences", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    lifecycle.delete_subscriber(_store(request), subscriber)
    return message_page(request, "Your data is deleted",
                        "The subscription, its preferences and its mail history are gone. Old links no longer work.",
                        subscribe="/subscribe")  # fmt: skip


# ---- unsubscribe ---------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    subscriber = subscriber_or_error(request, "unsubscribe", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    return render(request, "unsubscribe.html", {"subscriber": subscriber, "token": token})


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """Unsubscribe at once: the page's button, and RFC 8058 one-click POSTs from mail clients."""
    subscriber = subscriber_or_error(request, "unsubscribe", token)
    if isinstance(subscriber, HTMLResponse):
        return subscriber
    lifecycle.unsubscribe(_store(request), subscriber)
    return message_page(request, "You are unsubscribed",
                        f"No more digests go to {subscriber.email}. Changed your mind? Subscribe again any time.",
                        subscribe="/subscribe")  # fmt: skip

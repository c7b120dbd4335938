"""Subscribers: the life of an address (pending → confirmed → unsubscribed, or bouncing) and its links.

Double opt-in: a request only ever sends the confirmation mail; digests start after the signed link
is used, and the consent time is recorded. A request never reveals whether an address was known.
"""

from __future__ import annotations

import csv
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TextIO

import orjson
from email_validator import EmailNotValidError, validate_email

from paperwire.categories import UnknownCategory, canonical_category
from paperwire.mail.outbox import enqueue_transactional
from paperwire.mail.render import MailRenderer
from paperwire.mail.tokens import InvalidToken, make_token, read_token
from paperwire.models import utc_now_iso
from paperwire.settings import Settings
from paperwire.storage import Store

log = logging.getLogger("paperwire.mail")

CADENCES = ("daily", "weekly", "monthly")
PERIOD_OF_CADENCE = {"daily": "day", "weekly": "week", "monthly": "month"}
STATUSES = ("pending", "confirmed", "unsubscribed", "bouncing")
MAX_PAPERS_RANGE = (1, 50)
MAX_INTEREST_ITEMS = 20
MAX_INTEREST_CHARS = 200
RECONFIRM_AFTER_SECONDS = 600  # one confirmation mail per address per ten minutes at most
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # utc_now_iso()'s form


class InvalidSubscription(ValueError):
    """A request that cannot become a subscription; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Interests:
    topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topics or self.categories or self.authors or self.keywords)

    def to_json(self) -> str:
        return orjson.dumps({name: list(value) for name, value in asdict(self).items()}).decode()

    @classmethod
    def from_json(cls, text: str | None) -> Interests:
        data = orjson.loads(text or "{}")
        return cls(**{name: tuple(data.get(name, ())) for name in ("topics", "categories", "authors", "keywords")})


@dataclass(slots=True)
class Subscriber:
    id: int
    email: str
    status: str
    cadence: str
    interests: Interests
    max_papers: int
    nonce: str
    created_at: str
    consent_at: str | None = None
    consent_source: str | None = None
    unsubscribed_at: str | None = None
    bounce_count: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Subscriber:
        return cls(
            id=row["id"], email=row["email"], status=row["status"], cadence=row["cadence"],
            interests=Interests.from_json(row["interests"]), max_papers=row["max_papers"], nonce=row["nonce"],
            created_at=row["created_at"], consent_at=row["consent_at"], consent_source=row["consent_source"],
            unsubscribed_at=row["unsubscribed_at"], bounce_count=row["bounce_count"],
            extra={"updated_at": row["updated_at"], "confirmation_sent_at": row["confirmation_sent_at"]},
        )  # fmt: skip


# ---- validation (pure) ------------------------------------------------------------------------


def normalise_email(text: str) -> str:
    """The address in its normalised ASCII form; InvalidSubscription with the reason otherwise."""
    try:
        result = validate_email((text or "").strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidSubscription(f"not a valid email address: {error}") from error
    return result.normalized


def email_key(address: str) -> str:
    return address.strip().lower()


def check_cadence(cadence: str) -> str:
    value = (cadence or "").strip().lower()
    if value not in CADENCES:
        raise InvalidSubscription(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    return value


def check_max_papers(value: int | str | None) -> int:
    low, high = MAX_PAPERS_RANGE
    try:
        number = int(value) if value not in (None, "") else 10
    except (TypeError, ValueError) as error:
        raise InvalidSubscription(f"max_papers must be a number from {low} to {high}") from error
    if not low <= number <= high:
        raise InvalidSubscription(f"max_papers must be from {low} to {high}, not {number}")
    return number


def _clean_list(values: Iterable[str] | str | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.replace("\n", ",").split(",")
    cleaned: dict[str, str] = {}  # lower-cased → as written: linear, and stops at the first item too many
    for value in values:
        text = " ".join(str(value).split())
        if not text:
            continue
        if len(text) > MAX_INTEREST_CHARS:
            raise InvalidSubscription(f"each of {name} can be at most {MAX_INTEREST_CHARS} characters")
        cleaned.setdefault(text.lower(), text)
        if len(cleaned) > MAX_INTEREST_ITEMS:
            raise InvalidSubscription(f"at most {MAX_INTEREST_ITEMS} {name}")
    return tuple(cleaned.values())


def check_categories(values: tuple[str, ...]) -> tuple[str, ...]:
    """arXiv category codes in arXiv's spelling (`cs.ro` → `cs.RO`); InvalidSubscription names an unknown one
    ("robotics") and the codes that fit it."""
    try:
        return tuple(dict.fromkeys(canonical_category(value) for value in values))
    except UnknownCategory as error:
        raise InvalidSubscription(str(error)) from error


def make_interests(topics=None, categories=None, authors=None, keywords=None) -> Interests:
    """Interests from lists or comma/newline separated text: trimmed, de-duplicated, bounded; categories
    must be arXiv's."""
    return Interests(
        _clean_list(topics, "topics"), check_categories(_clean_list(categories, "categories")),
        _clean_list(authors, "authors"), _clean_list(keywords, "keywords"),
    )  # fmt: skip


# ---- links --------------------------------------------------------------------------------------


def path_for(settings: Settings, purpose: str, subscriber_id: int, nonce: str) -> str:
    """The site path of a subscriber's link for `purpose`: /subscribe/confirm/…, /preferences/…, /unsubscribe/…"""
    path = {"confirm": "subscribe/confirm", "preferences": "preferences", "unsubscribe": "unsubscribe"}[purpose]
    return f"/{path}/{make_token(settings, purpose, subscriber_id, nonce)}"


def link_for(settings: Settings, purpose: str, subscriber_id: int, nonce: str) -> str:
    return f"{settings.base_url}{path_for(settings, purpose, subscriber_id, nonce)}"


def subscriber_for_token(store: Store, settings: Settings, purpose: str, token: str) -> Subscriber:
    """The subscriber a link belongs to; InvalidToken when it is invalid, expired or revoked."""
    subscriber_id, nonce = read_token(settings, purpose, token)
    row = store.get_subscriber(subscriber_id)
    if row is None or not secrets.compare_digest(row["nonce"], nonce):
        raise InvalidToken("this link is no longer valid")
    return Subscriber.from_row(row)


# ---- the life of a subscription --------------------------------------------------------------


def request_subscription(
    store: Store, settings: Settings, email: str, cadence: str, interests: Interests, max_papers: int = 10
) -> None:
    """Handle a subscribe request. Sends one mail at most; the caller answers the same either way.

    New, unsubscribed or bouncing addresses become pending with the request's preferences and get a
    confirmation link. A pending address takes the corrected preferences and gets a fresh link (an
    unchanged request not more often than every ten minutes; the web layer caps mails per address). A
    confirmed address keeps its preferences (nobody but its owner may change them) and gets a note
    with its preferences link instead.
    """
    address = normalise_email(email)
    key = email_key(address)
    cadence = check_cadence(cadence)
    now = utc_now_iso()
    row = store.find_subscriber(key)
    if row is None:
        nonce = secrets.token_urlsafe(12)
        new_id = store.add_subscriber(
            {"email": address, "email_key": key, "status": "pending", "cadence": cadence,
             "interests": interests.to_json(), "max_papers": max_papers, "nonce": nonce,
             "created_at": now, "updated_at": now, "confirmation_sent_at": now}
        )  # fmt: skip
        if new_id is None:  # a concurrent request added it first: that one sends the mail
            return
        send_confirmation(store, settings, new_id, nonce, address, cadence)
        return
    if row["status"] == "confirmed":
        if _recently(row["confirmation_sent_at"], now):
            return
        store.update_subscriber(row["id"], confirmation_sent_at=now)
        renderer = MailRenderer(None, settings)
        links = {
            "preferences_url": link_for(settings, "preferences", row["id"], row["nonce"]),
            "unsubscribe_url": link_for(settings, "unsubscribe", row["id"], row["nonce"]),
        }
        text, _ = renderer.render_named("known", cadence=row["cadence"], **links)
        enqueue_transactional(store, settings, row["email"], f"Your {settings.site_name} subscription", text,
                              None, subscriber_id=row["id"], secrets=list(links.values()))  # fmt: skip
        return
    unchanged = (row["cadence"], Interests.from_json(row["interests"]), row["max_papers"]) == (
        cadence,
        interests,
        max_papers,
    )
    if row["status"] == "pending" and unchanged and _recently(row["confirmation_sent_at"], now):
        return
    store.update_subscriber(
        row["id"], status="pending", cadence=cadence, interests=interests.to_json(), max_papers=max_papers,
        confirmation_sent_at=now, bounce_count=0,
    )  # fmt: skip
    send_confirmation(store, settings, row["id"], row["nonce"], row["email"], cadence)


def subscribe_proven_address(
    store: Store, settings: Settings, email: str, cadence: str, interests: Interests, max_papers: int = 10
) -> Subscriber:
    """Subscribe an address its owner has just proven (a signed-in reader: the sign-in link reached it).

    Confirmed at once with these preferences, whatever the address's state was; no confirmation mail."""
    address = normalise_email(email)
    key = email_key(address)
    cadence, max_papers = check_cadence(cadence), check_max_papers(max_papers)
    now = utc_now_iso()
    values = {"status": "confirmed", "cadence": cadence, "interests": interests.to_json(), "max_papers": max_papers,
              "consent_at": now, "consent_source": "signed-in", "unsubscribed_at": None, "bounce_count": 0}  # fmt: skip
    row = store.find_subscriber(key)
    if row is None:
        store.add_subscriber({"email": address, "email_key": key, "nonce": secrets.token_urlsafe(12),
                              "created_at": now, "updated_at": now, **values})  # fmt: skip
        row = store.find_subscriber(key)
    else:
        store.update_subscriber(row["id"], **values)
        row = store.get_subscriber(row["id"])
    if row is None:  # deleted by a concurrent request
        raise InvalidSubscription("the subscription could not be saved; please try again")
    log.info("subscriber %s confirmed by a signed-in reader", row["id"])
    return Subscriber.from_row(row)


def subscriber_of_address(store: Store, email: str) -> Subscriber | None:
    """The subscription of an address (accounts and subscriptions are linked by the case-folded address)."""
    row = store.find_subscriber(email_key(email))
    return Subscriber.from_row(row) if row else None


def _recently(moment: str | None, now: str) -> bool:
    """Whether `moment` (a stored UTC timestamp) lies less than RECONFIRM_AFTER_SECONDS before `now`."""
    if not moment:
        return False
    elapsed = datetime.strptime(now, TIMESTAMP) - datetime.strptime(moment, TIMESTAMP)
    return elapsed.total_seconds() < RECONFIRM_AFTER_SECONDS


def send_confirmation(
    store: Store, settings: Settings, subscriber_id: int, nonce: str, address: str, cadence: str
) -> None:
    confirm_url = link_for(settings, "confirm", subscriber_id, nonce)
    text, html = MailRenderer(None, settings).render_named("confirm", cadence=cadence, confirm_url=confirm_url)
    enqueue_transactional(store, settings, address, f"Confirm your {settings.site_name} subscription", text, html,
                          subscriber_id=subscriber_id, secrets=[confirm_url])  # fmt: skip


def confirm_subscription(store: Store, settings: Settings, token: str) -> Subscriber:
    """Use a confirmation link: the subscriber becomes confirmed, consent recorded (idempotent)."""
    subscriber = subscriber_for_token(store, settings, "confirm", token)
    if subscriber.status != "confirmed":
        now = utc_now_iso()
        store.update_subscriber(subscriber.id, status="confirmed", consent_at=now, consent_source="double-opt-in",
                                unsubscribed_at=None, bounce_count=0)  # fmt: skip
        subscriber.status, subscriber.consent_at = "confirmed", now
        log.info("subscriber %s confirmed", subscriber.id)
    return subscriber


def update_preferences(
    store: Store, subscriber: Subscriber, cadence: str, interests: Interests, max_papers: int
) -> None:
    store.update_subscriber(subscriber.id, cadence=check_cadence(cadence), interests=interests.to_json(),
                            max_papers=check_max_papers(max_papers))  # fmt: skip


def unsubscribe(store: Store, subscriber: Subscriber) -> None:
    """Stop every digest at once (queued ones are not sent: the sender skips unsubscribed rows)."""
    if subscriber.status != "unsubscribed":
        store.update_subscriber(subscriber.id, status="unsubscribed", unsubscribed_at=utc_now_iso())
        store.cancel_queued_digests(subscriber.id)
        log.info("subscriber %s unsubscribed", subscriber.id)


def export_subscriber(store: Store, subscriber: Subscriber) -> dict:
    """Everything paperwire keeps about one subscriber, as JSON-ready data."""
    row: Mapping[str, Any] = store.get_subscriber(subscriber.id) or {}
    mails = store.outbox_rows(subscriber_id=subscriber.id, limit=10_000)
    return {
        "email": row.get("email"), "status": row.get("status"), "cadence": row.get("cadence"),
        "interests": orjson.loads(row.get("interests") or "{}"), "max_papers": row.get("max_papers"),
        "created_at": row.get("created_at"), "consent_at": row.get("consent_at"),
        "consent_source": row.get("consent_source"), "unsubscribed_at": row.get("unsubscribed_at"),
        "bounce_count": row.get("bounce_count"),
        "mails": [
            {"kind": m["kind"], "subject": m["subject"], "period": m["period_label"], "status": m["status"],
             "created_at": m["created_at"], "sent_at": m["sent_at"]}
            for m in mails
        ],
        "papers_received": sorted(store.papers_sent_to([subscriber.id]).get(subscriber.id, ())),
    }  # fmt: skip


def delete_subscriber(store: Store, subscriber: Subscriber) -> None:
    store.delete_subscriber(subscriber.id)
    log.info("subscriber %s deleted on request", subscriber.id)


# ---- import ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    added: int = 0
    known: int = 0
    invalid: list[str] = field(default_factory=list)


def import_subscribers(store: Store, stream: TextIO, *, confirmed: bool = False, source: str = "csv") -> ImportResult:
    """CSV with columns email, cadence (default daily), topics (separated by ';' or ','); known
    addresses are left alone. Imported addresses stay pending unless the operator vouches for their
    consent (`confirmed`); pending imports get no mail until they subscribe themselves."""
    result = ImportResult()
    reader = csv.DictReader(stream)
    if not reader.fieldnames or "email" not in [name.strip().lower() for name in reader.fieldnames]:
        raise InvalidSubscription("the CSV needs a header line with at least an 'email' column")
    now = utc_now_iso()
    batch: list[dict] = []
    for line, record in enumerate(reader, start=2):
        record = {(k or "").strip().lower(): (v or "") for k, v in record.items()}
        try:
            address = normalise_email(record.get("email", ""))
            cadence = check_cadence(record.get("cadence") or "daily")
            interests = make_interests(topics=(record.get("topics") or "").replace(";", ","))
        except InvalidSubscription as error:
            result.invalid.append(f"{source}:{line}: {error}")
            continue
        batch.append(
            {"email": address, "email_key": email_key(address), "status": "confirmed" if confirmed else "pending",
             "cadence": cadence, "interests": interests.to_json(), "max_papers": 10,
             "nonce": secrets.token_urlsafe(12), "created_at": now, "updated_at": now,
             "consent_at": now if confirmed else None,
             "consent_source": "import --confirmed" if confirmed else None}
        )  # fmt: skip
        if len(batch) >= 1000:
            added = store.add_subscribers(batch)
            result.added += added
            result.known += len(batch) - added
            batch = []
    if batch:
        added = store.add_subscribers(batch)
        result.added += added
        result.known += len(batch) - added
    return result

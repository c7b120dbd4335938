"""Signed link tokens: unguessable, scoped to one purpose, revoked by the subscriber's nonce."""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.settings import Settings

PURPOSES = ("confirm", "preferences", "unsubscribe")
# A confirmation link works for two days; preference and unsubscribe links as long as the address
# is subscribed (they sit in every digest, and old digests must still let people leave).
MAX_AGE = {"confirm": 2 * 24 * 3600, "preferences": None, "unsubscribe": None}


class InvalidToken(ValueError):
    """The link is broken, expired, for another purpose, or for a subscription that no longer exists."""


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _serializer_for(settings.effective_secret_key(), purpose)


@lru_cache(maxsize=32)
def _serializer_for(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"paperwire.mail.{purpose}")


def make_token(settings: Settings, purpose: str, subscriber_id: int, nonce: str) -> str:
    return _serializer(settings, purpose).dumps([subscriber_id, nonce])


def read_token(settings: Settings, purpose: str, token: str) -> tuple[int, str]:
    """(subscriber id, nonce) from a token of `purpose`; InvalidToken otherwise."""
    try:
        value = _serializer(settings, purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as error:
        raise InvalidToken("this link has expired") from error
    except BadSignature as error:
        raise InvalidToken("this link is not valid") from error
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise InvalidToken("this link is not valid")
    return value[0], str(value[1])

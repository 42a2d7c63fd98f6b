"""Addresses of the board in messages: from `public_base_url`, as people reach it."""

from __future__ import annotations

from app.config import Settings

# Where `make run` serves the board when no public address is configured.
LOCAL_BASE_URL = "http://127.0.0.1:5000"


def public_url(settings: Settings, path: str) -> str:
    """The absolute address of `path` (starting with /) on the board."""
    return (settings.public_base_url or LOCAL_BASE_URL) + path


def status_callback_url(settings: Settings, delivery_id: int) -> str | None:
    """Where Twilio reports an SMS's fate; None without a public address it could reach."""
    if not settings.public_base_url:
        return None
    return f"{settings.public_base_url}/sms/status?delivery={delivery_id}"

"""Only Twilio may drive the phone line: every voice request must carry its signature.

Twilio signs the exact URL it requested (scheme, host, path and query) plus the
POST parameters with the account's auth token (X-Twilio-Signature). Behind a
reverse proxy the app sees another URL, so the signature is checked against
the configured public address when there is one; `trusted_proxies` (ProxyFix
in the app factory) is the other way to make request.url the public one.
"""

from __future__ import annotations

import base64
import hmac
import logging
from hashlib import sha1
from urllib.parse import urlparse

from flask import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    add_port,
    compare,
    remove_port,
)
from werkzeug.datastructures import MultiDict

from app.config import Settings

log = logging.getLogger(__name__)


def signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio requested, as it signed it."""
    if not settings.public_base_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return settings.public_base_url + request.path + (f"?{query}" if query else "")


def is_from_twilio(request: Request, settings: Settings) -> bool:
    """True when the request carries a valid Twilio signature for this app's auth token."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    settings_header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if settings_header:
        # Twilio signs with a SharedKey when a Webhook Rule says so; the app knows only
        # the auth token, so such a request cannot be checked and is refused.
        log.warning(
            "Refused a voice webhook signed with a Twilio SharedKey (%s): "
            "sign the phone line's webhooks with the auth token.",
            settings_header,
        )
        return False
    # What RequestValidator.validate() does, minus its second HMAC when the first
    # matches: Twilio signs the URL with or without the port, so both are accepted.
    # A form-encoded webhook has no bodySHA256 to check.
    token = settings.twilio_auth_token.encode("utf-8")
    url = urlparse(signed_url(request, settings))
    params = request.form
    return any(
        compare(twilio_signature(token, candidate, params), signature)
        for candidate in (remove_port(url), add_port(url))
    )


def twilio_signature(token: bytes, url: str, params: MultiDict) -> str:
    """The signature Twilio sends for `url` and its POST `params`: HMAC-SHA1, base64.

    RequestValidator.compute_signature(), computed the same way (every parameter
    name in order, each with its distinct values in order, after the URL), without
    its two caught AttributeErrors per parameter when reading a werkzeug MultiDict:
    those were a twentieth of a webhook. tests/test_signature.py compares the two.
    """
    data = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params.getlist(name)))
    )
    digest = hmac.new(token, data.encode("utf-8"), sha1).digest()
    return base64.b64encode(digest).decode("ascii")

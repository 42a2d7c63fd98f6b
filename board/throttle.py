"""Slowing down password guessing without ever locking the owner out.

A lock after N wrong passwords hands an account to whoever wants its owner
locked out (issue 13). Instead, sign-in attempts are counted in fixed windows
of growing length (say 5 a minute, 20 an hour, 50 a day: after each level the
wait is longer), by the `limits` library, Flask-Limiter's core, with three
keys:

- per account and client address: a guesser at one address is slowed down
  for that account only; the owner elsewhere is not. A successful sign-in
  clears it.
- per client address, looser: one address trying many accounts.
- per account, from addresses that have never signed in to it: many
  addresses guessing one account. The owner's own addresses (a successful
  sign-in from there in the last `known_address_days`) are not counted here,
  so they keep getting in while the account is under attack.

Every attempt counts, before its password is checked: many attempts at the
same moment cannot slip past a count that is not written yet. The account is
the e-mail address as typed (lower-cased), whether it has an account or not,
so the answers never tell which addresses exist. Keys are keyed hashes
(HMAC with the secret key) of the address and the client address: the
counters hold no e-mail or IP address. An IPv6 client counts by its /64
network, which one subscriber usually gets whole.

The counters live where `[limits] storage_url` says: empty, the app's database
(app/accounts/rate_limit_storage.py), else Redis. Either way several app servers share
them. The client address is the one the connection comes from, or, with
`trusted_proxies`, the one the proxies forward (ProxyFix, app/__init__.py).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.accounts.hashing_gate import HashingGate
from app.accounts.rate_limit_storage import DatabaseStorage
from app.config import Settings
from app.database import get_db


@dataclass(frozen=True)
class Refusal:
    """An attempt refused: how long to wait, and which limit it met (for the log)."""

    wait_seconds: int
    limit: str  # "address", "pair" (account and address) or "account"
    rate: str


class SignInThrottle:
    """Counts sign-in attempts and says how long to wait when there were too many."""

    def __init__(self, storage: Storage, settings: Settings):
        limits = settings.limits
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self.per_pair = parse_many(limits.per_account_and_address)
        self.per_address = parse_many(limits.per_address)
        self.per_account = parse_many(limits.per_account)
        self.known_seconds = limits.known_address_days * 24 * 3600
        self._secret = settings.secret_key.encode()

    def attempt(self, email: str, address: str | None) -> Refusal | None:
        """Count one sign-in attempt: None when it may go ahead, else how long to wait."""
        account, client = self._account(email), self._client(address)
        checks = [
            (self.per_address, ("address", client)),
            (self.per_pair, ("pair", account, client)),
        ]
        if not self.known(email, address):
            checks.append((self.per_account, ("account", account)))
        for rates, identifiers in checks:
            for rate in rates:
                if not self.limiter.hit(rate, *identifiers):
                    return Refusal(self._wait(rate, identifiers), identifiers[0], str(rate))
        return None

    def succeeded(self, email: str, address: str | None) -> None:
        """The password was right: forget this address's count for the account, and know it."""
        account, client = self._account(email), self._client(address)
        for rate in self.per_pair:
            self.limiter.clear(rate, "pair", account, client)
        known = self._known_key(account, client)
        self.storage.clear(known)  # counted again from now: known for the full period
        self.storage.incr(known, self.known_seconds)

    def known(self, email: str, address: str | None) -> bool:
        """Someone signed in to this account from this address within the known period."""
        return self.storage.get(self._known_key(self._account(email), self._client(address))) > 0

    def _wait(self, rate: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(rate, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _known_key(self, account: str, client: str) -> str:
        return f"hotline/known/{account}/{client}"

    def _account(self, email: str) -> str:
        return self._tag("account", email.strip().lower())

    def _client(self, address: str | None) -> str:
        return self._tag("address", client_network(address))

    def _tag(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:24]


def client_network(address: str | None) -> str:
    """What one client counts as: its IPv4 address, or its IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def make_storage(app: Flask, settings: Settings) -> Storage:
    """The counters' home: Redis when `[limits] storage_url` names it, else the app's database."""
    if settings.limits.storage_url:
        # wrap_exceptions: a Redis that is away is limits' StorageError, answered
        # as a database that is away is (board/accounts.py).
        return storage_from_string(settings.limits.storage_url, wrap_exceptions=True)
    return DatabaseStorage(get_db(app))


def init_app(app: Flask) -> None:
    """Give the app its sign-in throttle and its bound on password checks."""
    settings: Settings = app.config["HOTLINE"]
    app.extensions["hotline_sign_in_throttle"] = SignInThrottle(
        make_storage(app, settings), settings
    )
    app.extensions["hotline_hashing_gate"] = HashingGate(
        settings.limits.concurrent_password_checks, settings.limits.password_check_wait_seconds
    )


def sign_in_throttle() -> SignInThrottle:
    """The running app's throttle."""
    return current_app.extensions["hotline_sign_in_throttle"]


def hashing_gate() -> HashingGate:
    """The running app's bound on password checks (app/accounts/hashing_gate.py)."""
    return current_app.extensions["hotline_hashing_gate"]

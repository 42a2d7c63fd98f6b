"""A real SMTP server (aiosmtpd) on a loopback port, for the tests that send e-mail.

    with SmtpServer() as smtp:
        ... mail url = smtp.url ...
        [message] = smtp.wait_for(1)
        message["To"], message.get_body(("plain",)).get_content()

`hold()` keeps the next sender waiting after its recipients (before any data),
to kill a worker mid-send; `refuse_next(n)` answers 451 (try again later) to the
next n messages.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refusals = 0
        self.last_at = 0.0  # time.perf_counter() of the last message accepted
        self.holding = threading.Event()  # set: hold senders after RCPT
        self.held = threading.Event()  # set when a sender is being held
        self.changed = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        envelope.rcpt_tos.append(address)
        while self.holding.is_set():
            self.held.set()
            await asyncio.sleep(0.02)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.refusals > 0:
            self.refusals -= 1
            return "451 Requested action aborted: try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.changed:
            self.last_at = time.perf_counter()
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.changed.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in a thread of this process, on 127.0.0.1 and a free port."""

    def __init__(self, login: tuple[str, str] | None = None):
        """`login`: the user name and password the server demands (AUTH, without TLS here)."""
        self.handler = _Handler()
        self.port = free_port()
        self.login = login
        extra = {}
        if login:
            extra = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **extra)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.login)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.handler.messages)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.handler.holding.clear()
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages received, once there are at least `count` (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        with self.handler.changed:
            while len(self.handler.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} e-mail(s), got {len(self.handler.messages)}"
                    )
                self.handler.changed.wait(left)
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for one address."""
        return [m for m in self.messages if address in m["To"]]

    def hold(self) -> None:
        """Keep the next senders waiting after RCPT, before any data, until release()."""
        self.handler.held.clear()
        self.handler.holding.set()

    def wait_until_held(self, timeout: float = 10.0) -> None:
        assert self.handler.held.wait(timeout), "no sender reached the server"

    def release(self) -> None:
        self.handler.holding.clear()

    def refuse_next(self, count: int) -> None:
        """Answer the next `count` messages with 451 (a temporary failure)."""
        self.handler.refusals = count


def plain_text(message: EmailMessage) -> str:
    """The plain-text part of a received message."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")

"""A stand-in for Twilio's REST API on a loopback port, for the tests: a real HTTP round trip.

    with TwilioEmulator(ACCOUNT_SID, AUTH_TOKEN, deliver=through_flask(app)) as twilio:
        settings: twilio.api_base_url = twilio.url
        ...
        [message] = twilio.wait_for_messages(1)

It answers as Twilio does (201 and the resource's JSON; 401 without the account's
credentials; 400/404 with Twilio's error JSON) and records what it was sent. After
creating a message it POSTs status callbacks (sent, then delivered) to the
message's StatusCallback, signed with the auth token as Twilio signs them.

Calls too: after creating one (Calls.json) it rings the number as Twilio would.
Each number answers as the test sets it (`twilio.phones[number] = Callee(...)`):
a person who presses keys from a script at each <Gather>, an answering machine,
nobody, or busy. The call's webhooks (its Url, then every action) are played by
voice/simulator/phone.py, signed as Twilio signs them; a <Dial> rings the dialled
number's Callee in turn (the bridge). The StatusCallback hears the events asked for
(StatusCallbackEvent: initiated, ringing, answered, completed; completed by default).

    twilio = TwilioEmulator(sid, token, deliver=through_flask(app),
                            calls_through=FlaskTransport(app.test_client()))
    twilio.phones["+4930231250001"] = Callee(keys=["1"])
    [call] = twilio.wait_for_calls(1, ended=True)
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from voice.simulator.phone import OUTBOUND, Phone, PhoneCall, Transport

API_VERSION = "2010-04-01"
# deliver(url, params, headers) -> HTTP status: how status callbacks reach the app.
Deliver = Callable[[str, dict[str, str], dict[str, str]], int]


def post_over_http(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
    """Deliver a callback as Twilio does: a form POST to the URL."""
    from urllib.error import HTTPError
    from urllib.parse import urlencode

    request = urllib.request.Request(url, data=urlencode(params).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except HTTPError as error:
        return error.code


def through_flask(app) -> Deliver:
    """Deliver callbacks to a Flask app's test client (its public_base_url stands for it)."""

    def deliver(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return app.test_client().post(path, data=params, headers=headers).status_code

    return deliver


@dataclass
class Callee:
    """How a phone the emulator rings answers: `human`, `machine`, `no-answer` or `busy`.

    A person presses `keys[0]` at the first <Gather>, `keys[1]` at the next, and hangs
    up when the script runs out; a <Dial>led person talks `talk_seconds`. A machine
    presses nothing (every <Gather> times out).
    """

    answers: str = "human"
    keys: list[str] = field(default_factory=list)
    talk_seconds: int = 60


def _now() -> str:
    return formatdate(usegmt=True)


# The account the tests' apps use, and the number they call and text from.
ACCOUNT_SID = "AC" + "0" * 32
HOTLINE_NUMBER = "+4930555000"


def account_settings(emulator: TwilioEmulator, phone_number: str = HOTLINE_NUMBER) -> dict:
    """An app's `[twilio]` table for the account at `emulator` (make_test_app(twilio=...))."""
    from tests.conftest import TEST_AUTH_TOKEN

    return {
        "auth_token": TEST_AUTH_TOKEN,
        "account_sid": ACCOUNT_SID,
        "api_base_url": emulator.url,
        "phone_number": phone_number,
    }


class TwilioEmulator:
    """Twilio's REST API for one account, in a thread of this process."""

    ROUTES = {
        ("POST", "Messages"): "_create_message",
        ("GET", "Messages"): "_list_messages",
        ("POST", "Calls"): "_create_call",
        ("GET", "Calls"): "_list_calls",
    }

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        deliver: Deliver = post_over_http,
        calls_through: Transport | None = None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.deliver = deliver
        self.messages: list[dict] = []
        self.callbacks: list[tuple[str, dict[str, str], int]] = []
        # Numbers that texted STOP (error 21610), and those whose messages fail to arrive.
        self.unsubscribed: set[str] = set()
        self.undeliverable: set[str] = set()
        self.failures: list[tuple[int, int]] = []  # (HTTP status, Twilio code) for next requests
        self.callback_delay = 0.05
        # Calls: how each number answers, the calls placed, and the <Dial> bridges made.
        self.calls_through = calls_through
        self.phones: dict[str, Callee] = {}
        self.calls: list[dict] = []
        self.bridges: list[dict] = []  # {"call_sid", "caller_id", "to", "answered"}
        self.call_errors: list[BaseException] = []
        self.changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> TwilioEmulator:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int = 1, status: int = 503, code: int = 20503) -> None:
        """Answer the next `count` requests with an error, as Twilio does when it is unwell."""
        self.failures.extend([(status, code)] * count)

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[dict]:
        return self._wait(lambda: len(self.messages) >= count, timeout, "messages")

    def wait_for_callbacks(self, count: int, timeout: float = 10.0) -> list:
        return self._wait(lambda: len(self.callbacks) >= count, timeout, "callbacks")

    def wait_for_calls(self, count: int, ended: bool = True, timeout: float = 15.0) -> list[dict]:
        """The first `count` calls placed (and, with `ended`, played to their end)."""

        def done() -> bool:
            if self.call_errors:
                raise AssertionError("a call failed in the emulator") from self.call_errors[0]
            placed = self.calls[:count]
            return len(placed) >= count and (not ended or all(c["ended"] for c in placed))

        self._wait(done, timeout, "calls")
        return list(self.calls)

    def _wait(self, done: Callable[[], bool], timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the Twilio emulator got too few {what}")
                self.changed.wait(left)
        return list(self.messages if what == "messages" else self.callbacks)

    # --- the API ------------------------------------------------------------------

    def _create_message(self, form: dict[str, str]) -> tuple[int, dict]:
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + uuid.uuid4().hex
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": _now(),
            "date_updated": _now(),
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(1 + len(body) // 160),
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "subresource_uris": {"media": f"{self._base()}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"{self._base()}/Messages/{sid}.json",
        }
        with self.changed:
            self.messages.append({**message, "status_callback": form.get("StatusCallback")})
            self.changed.notify_all()
        if form.get("StatusCallback"):
            threading.Thread(
                target=self._report, args=(message, form["StatusCallback"]), daemon=True
            ).start()
        return 201, message

    def _list_messages(self, query: dict[str, str]) -> tuple[int, dict]:
        found = [
            {k: v for k, v in m.items() if k != "status_callback"}
            for m in reversed(self.messages)
            if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])
        ]
        page_size = int(query.get("PageSize", 50))
        return 200, {
            "messages": found[:page_size],
            "end": min(len(found), page_size) - 1,
            "first_page_uri": f"{self._base()}/Messages.json?PageSize={page_size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{self._base()}/Messages.json?PageSize={page_size}&Page=0",
        }

    def _create_call(self, form: dict[str, str]) -> tuple[int, dict]:
        to, sender, url = form.get("To", ""), form.get("From", ""), form.get("Url", "")
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not sender:
            return _error(400, 21213, "No 'From' number is specified")
        if not url and not form.get("Twiml"):
            return _error(400, 21205, "Url parameter is required.")
        sid = "CA" + uuid.uuid4().hex
        call = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "answered_by": None,
            "caller_name": None,
            "date_created": _now(),
            "date_updated": _now(),
            "direction": OUTBOUND,
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": sender,
            "from_formatted": sender,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": to,
            "to_formatted": to,
            "uri": f"{self._base()}/Calls/{sid}.json",
        }
        events = set(form.get("StatusCallbackEvent", "completed").split()) | {"completed"}
        with self.changed:
            self.calls.append(
                {
                    **call,
                    "url": url,
                    "status_callback": form.get("StatusCallback", ""),
                    "events": events,
                    "machine_detection": form.get("MachineDetection", ""),
                    "ended": False,
                    "heard": [],
                    "received_at": time.monotonic(),
                }
            )
            self.changed.notify_all()
        threading.Thread(target=self._ring, args=(self.calls[-1],), daemon=True).start()
        return 201, call

    def _list_calls(self, query: dict[str, str]) -> tuple[int, dict]:
        private = {"url", "status_callback", "events", "machine_detection", "ended", "heard"}
        private.add("received_at")
        found = [
            {k: v for k, v in c.items() if k not in private}
            for c in reversed(self.calls)
            if c["to"] == query.get("To", c["to"]) and c["from"] == query.get("From", c["from"])
        ]
        page_size = int(query.get("PageSize", 50))
        return 200, {
            "calls": found[:page_size],
            "end": min(len(found), page_size) - 1,
            "first_page_uri": f"{self._base()}/Calls.json?PageSize={page_size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{self._base()}/Calls.json?PageSize={page_size}&Page=0",
        }

    def _ring(self, call: dict) -> None:
        """Play one placed call as Twilio would, from ringing to its final status."""
        try:
            self._play_call(call)
        except BaseException as error:  # the test hears of it in wait_for_calls()
            with self.changed:
                self.call_errors.append(error)
                self.changed.notify_all()
        finally:
            with self.changed:
                call["ended"] = True
                self.changed.notify_all()

    def _play_call(self, call: dict) -> None:
        callee = self.phones.get(call["to"], Callee())
        time.sleep(self.callback_delay)
        self._call_status(call, "initiated", "initiated")
        self._call_status(call, "ringing", "ringing")
        if callee.answers in ("no-answer", "busy", "failed"):
            self._call_status(call, "completed", callee.answers, duration=0)
            return
        answered_by = ""
        if call["machine_detection"]:
            answered_by = "machine_start" if callee.answers == "machine" else "human"
        call["answered_by"] = answered_by or None
        self._call_status(call, "answered", "in-progress")
        if self.calls_through is None:
            raise RuntimeError("the emulator places calls only with calls_through set")
        phone = Phone(
            self.calls_through,
            self.auth_token,
            public_base_url="http://twilio.invalid",
            account_sid=self.account_sid,
            hotline_number=call["from"],
            api_base_url=self.url,
        )
        status_url = call["status_callback"] if "completed" in call["events"] else ""
        played = phone.answer(
            call["to"], call["url"], call["sid"], status_url, answered_by=answered_by
        )
        keys = list(callee.keys)
        while played.waiting_for is not None:
            if played.waiting_for == "operator":
                self._bridge(call, played)
            elif callee.answers == "machine":
                played.wait()
            elif played.waiting_for == "recording":
                played.speak(seconds=5)
            elif keys:
                played.press(keys.pop(0))
            else:
                played.hang_up()
        played.hang_up()
        call["heard"] = [heard.text for heard in played.heard]
        call["status"] = "completed"
        call["duration"] = str(round(played.clock))

    def _bridge(self, call: dict, played: PhoneCall) -> None:
        """A <Dial> in the call: ring the dialled number's Callee, then go on."""
        assert played.waiting is not None
        verb = played.waiting.verb
        dialled = (verb.text or "").strip()
        other = self.phones.get(dialled, Callee())
        answered = other.answers == "human"
        with self.changed:
            self.bridges.append(
                {
                    "call_sid": call["sid"],
                    "caller_id": verb.get("callerId", call["from"]),
                    "to": dialled,
                    "answered": answered,
                }
            )
            self.changed.notify_all()
        if answered:
            played.operator_answers(other.talk_seconds)
        else:
            played.operator_does_not_answer(
                "no-answer" if other.answers == "machine" else other.answers
            )

    def _call_status(self, call: dict, event: str, status: str, duration: int | None = None):
        """A status callback of a call, if the call asked for this event."""
        call["status"] = status
        url = call["status_callback"]
        if not url or event not in call["events"]:
            return
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call["sid"],
            "CallStatus": status,
            "Direction": OUTBOUND,
            "From": call["from"],
            "To": call["to"],
        }
        if duration is not None:
            params["CallDuration"] = str(duration)
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        answer = self.deliver(url, params, {"X-Twilio-Signature": signature})
        with self.changed:
            self.callbacks.append((url, params, answer))
            self.changed.notify_all()

    def _report(self, message: dict, url: str) -> None:
        """The status callbacks Twilio sends for a message: sent, then delivered (or not)."""
        final = "undelivered" if message["to"] in self.undeliverable else "delivered"
        for status in ("sent", final):
            time.sleep(self.callback_delay)
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message["from"],
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
                "To": message["to"],
            }
            if status == "undelivered":
                params["ErrorCode"] = "30003"
            signature = RequestValidator(self.auth_token).compute_signature(url, params)
            headers = {"X-Twilio-Signature": signature}
            answer = self.deliver(url, params, headers)
            with self.changed:
                self.callbacks.append((url, params, answer))
                self.changed.notify_all()

    def _base(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}"

    # --- HTTP -----------------------------------------------------------------------

    def _handler_class(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self._answer("GET", parse_qs(urlsplit(self.path).query))

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._answer("POST", parse_qs(self.rfile.read(length).decode()))

            def _answer(self, method: str, fields: dict[str, list[str]]) -> None:
                form = {name: values[-1] for name, values in fields.items()}
                # The one list parameter we read (the client sends it once per value).
                events = fields.get("StatusCallbackEvent")
                if events:
                    form["StatusCallbackEvent"] = " ".join(events)
                status, body = emulator._route(method, urlsplit(self.path).path, self.headers)
                if body is None:
                    status, body = getattr(emulator, status)(form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def _route(self, method: str, path: str, headers) -> tuple:
        """(status, error body) for a refused request, or (method name, None) to run."""
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if headers.get("Authorization") != expected:
            return _error(401, 20003, "Authenticate")
        prefix = f"/{API_VERSION}/Accounts/{self.account_sid}/"
        name = path.removeprefix(prefix).removesuffix(".json")
        if not path.startswith(prefix) or (method, name) not in self.ROUTES:
            return _error(404, 20404, "The requested resource was not found")
        if self.failures:
            status, code = self.failures.pop(0)
            return _error(status, code, "Service unavailable")
        return self.ROUTES[(method, name)], None


def _error(status: int, code: int, message: str) -> tuple[int, dict]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }

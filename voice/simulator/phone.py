"""A telephone that drives the phone line the way Twilio does, without Twilio.

It posts what Twilio posts (signed exactly as Twilio signs it), reads the
TwiML that comes back with ElementTree, and plays it like Twilio would: it
collects what the caller hears, stops where the caller must act, follows
<Redirect>s and falls through <Gather>s and empty <Record>s, and sends the
status callback when the call ends. Tests, the listening-time benchmark,
`hotline call` (voice/simulator/command.py) and the browser test phone
(board/test_phone.py) are built on it.

    phone = Phone.for_app(app)                  # in-process, through Flask's test client
    phone = Phone.over_http("http://127.0.0.1:5000", auth_token="...")   # a running server
    call = phone.call(caller="+4930123456")     # rings /voice/incoming
    call.heard[-1].text                         # what the caller heard, with its language
    call.press("1")                             # keys for a <Gather>
    call.type("1"); call.typed                  # one key at a time, as on a keypad
    call.wait()                                 # no key: the <Gather> times out
    call.speak(seconds=12)                      # a message for a <Record>, then "#"
    call.operator_answers() / call.operator_does_not_answer()   # a <Dial>
    call.hang_up()                              # at any point; the status callback follows
    call.ended, call.keypresses, call.clock     # and call.exchanges: every request made
    phone.resume(call.snapshot())               # the same call, later, in another process

Time is simulated: every <Say> takes its words / 2.5 seconds, every
<Pause> its length, a timeout its seconds. Keys pressed while a <Gather>
is still reading are counted as pressed after it (so times are upper bounds).
"""

from __future__ import annotations

import contextvars
import http.client
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlencode, urljoin, urlsplit

from sqlalchemy.orm import Session
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from app.calls.outbound import OUTBOUND
from app.config import TWILIO_API_BASE_URL
from app.database import utcnow
from app.phone_numbers import FICTIONAL_PREFIX
from app.requests.intake import active_request

WORDS_PER_SECOND = 2.5
BEEP_SECONDS = 1.0
API_VERSION = "2010-04-01"
HOTLINE_NUMBER = "+4930000000000"
MAX_REDIRECTS = 20


class PhoneError(Exception):
    """The line answered something Twilio itself could not play (or refused the call)."""


class SignatureRefused(PhoneError):
    """The line answered 403: it does not accept this phone's signature (another auth
    token, or another signed URL than the one the server checks)."""


class LineUnreachable(PhoneError):
    """No answer at all from the server (refused, timed out, not a web server)."""


def speaking_seconds(text: str) -> float:
    """How long a sentence takes to say, at 2.5 words a second."""
    return len(text.split()) / WORDS_PER_SECOND


@dataclass(frozen=True)
class Heard:
    """One <Say>: its text, language (locale) and voice, when it began and how long it took."""

    text: str
    language: str
    voice: str
    at: float
    seconds: float


@dataclass(frozen=True)
class Exchange:
    """One request the phone made, and the answer it got."""

    url: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int
    content_type: str
    body: str


# -- transports ------------------------------------------------------------------------


class Transport(Protocol):
    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Exchange: ...


class FlaskTransport:
    """Requests through a Flask test client, with the full URL Twilio would use.

    Each request runs in a fresh context, as on a server thread of its own: the
    webhooks get their own app context (database session, `g`) even when the
    phone is used inside another request (the test phone) or a CLI command.
    """

    def __init__(self, client):
        self.client = client

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Exchange:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = contextvars.Context().run(
            self.client.post,
            path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            data=params,
            headers=headers,
        )
        return Exchange(
            url=url,
            params=dict(params),
            headers=dict(headers),
            status=response.status_code,
            content_type=response.mimetype or "",
            body=response.get_data(as_text=True),
        )


class HttpTransport:
    """Requests over HTTP to a running server, which may sit behind another public URL.

    Keeps its connection open between requests (HTTP keep-alive), as Twilio does,
    and opens a new one when the server closed it. It uses http.client directly:
    a load test runs hundreds of these on the server's own CPUs, and the requests
    library costs several times more CPU per request. One transport per thread.
    """

    def __init__(self, server_url: str, public_base_url: str, timeout: float = 20.0):
        self.server_url = server_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        parts = urlsplit(self.server_url)
        self._connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._netloc = parts.netloc
        self._connection: http.client.HTTPConnection | None = None

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Exchange:
        target = url
        if url.startswith(self.public_base_url):
            target = self.server_url + url[len(self.public_base_url) :]
        parts = urlsplit(target)
        if parts.netloc != self._netloc:
            # An action URL on another host: that host, on a connection of its own.
            other = HttpTransport(f"{parts.scheme}://{parts.netloc}", self.public_base_url)
            try:
                return other.post(target, params, headers)
            finally:
                other.close()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = urlencode(params).encode()
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        try:
            response, data = self._send(path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            raise LineUnreachable(f"no answer from {target}: {_reason(e)}") from e
        return Exchange(
            url=url,
            params=dict(params),
            headers=dict(headers),
            status=response.status,
            content_type=(response.getheader("Content-Type") or "").split(";")[0].strip(),
            body=data.decode(response.headers.get_content_charset() or "utf-8", "replace"),
        )

    def _send(self, path: str, body: bytes, headers: dict[str, str]):
        reused = self._connection is not None
        if self._connection is None:
            self._connection = self._connection_class(self._netloc, timeout=self.timeout)
        try:
            self._connection.request("POST", path, body, headers)
            response = self._connection.getresponse()
            data = response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # The server closed the idle kept-alive connection before reading this
            # request (it never saw it): send it once more on a new connection.
            return self._send(path, body, headers)
        except Exception:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response, data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _reason(error: BaseException) -> str:
    """The innermost cause of a network error ("Connection refused"), in a few words."""
    seen = {id(error)}
    while (inner := error.__cause__ or error.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        error = inner
    return str(error) or type(error).__name__


# -- the phone -------------------------------------------------------------------------


class Phone:
    """A phone connected to one hotline: places calls, signs every request like Twilio."""

    def __init__(
        self,
        transport: Transport,
        auth_token: str,
        public_base_url: str,
        account_sid: str = "AC" + "0" * 32,
        hotline_number: str = HOTLINE_NUMBER,
        api_base_url: str = TWILIO_API_BASE_URL,
    ):
        self.transport = transport
        self.validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = account_sid or "AC" + "0" * 32
        self.hotline_number = hotline_number
        # Where Twilio keeps recordings (twilio.api_base_url): the line keeps no others.
        self.api_base_url = api_base_url.rstrip("/")

    @classmethod
    def for_app(cls, app, **kwargs) -> Phone:
        """A phone wired into a Flask app in this process (tests, benchmarks)."""
        settings = app.config["HOTLINE"]
        return cls(
            FlaskTransport(app.test_client()),
            auth_token=settings.twilio_auth_token,
            public_base_url=settings.public_base_url or "http://localhost",
            account_sid=settings.twilio_account_sid,
            api_base_url=settings.twilio_api_base_url,
            **kwargs,
        )

    @classmethod
    def over_http(
        cls,
        server_url: str,
        auth_token: str,
        public_base_url: str = "",
        timeout: float = 20.0,
        **kwargs,
    ) -> Phone:
        """A phone calling a running server (its public URL, if behind a proxy, signs).

        `timeout`: seconds to wait for each answer (Twilio gives up after 15).
        """
        public = public_base_url or server_url
        return cls(HttpTransport(server_url, public, timeout=timeout), auth_token, public, **kwargs)

    def url(self, path_or_url: str) -> str:
        return urljoin(self.public_base_url + "/", path_or_url)

    def post(self, path_or_url: str, params: dict[str, str], signature: str | None = None):
        """POST like Twilio: signed with the auth token over the full URL and the params.

        `signature` replaces the computed one (to test forgeries); "" sends none.
        """
        url = self.url(path_or_url)
        if signature is None:
            signature = self.validator.compute_signature(url, params)
        headers = {SIGNATURE_HEADER: signature} if signature else {}
        return self.transport.post(url, params, headers)

    def call(self, caller: str = "+4930123456", call_sid: str | None = None) -> PhoneCall:
        """Ring the hotline from `caller` ("anonymous" for a withheld number)."""
        call = PhoneCall(self, caller=caller, call_sid=call_sid or new_sid("CA"))
        call.ring()
        return call

    def answer(
        self,
        to: str,
        url: str,
        call_sid: str | None = None,
        status_callback: str = "",
        answered_by: str = "",
    ) -> PhoneCall:
        """Pick up a call the line placed (Twilio's Calls.json) at `to`: Twilio requests
        `url` with Direction=outbound-api, and reports the end to `status_callback`.

        `answered_by` ("human", "machine_start"): what answering-machine detection found,
        sent when the call asked for it.
        """
        call = PhoneCall(
            self,
            caller=to,
            call_sid=call_sid or new_sid("CA"),
            direction=OUTBOUND,
            status_url=status_callback,
            answered_by=answered_by,
        )
        call._fetch(self.url(url), call._params())
        return call

    def resume(self, snapshot: dict) -> PhoneCall:
        """A call saved with PhoneCall.snapshot(), ready for the caller's next move.

        Raises KeyError, TypeError, ValueError or ET.ParseError on a broken snapshot.
        """
        call = PhoneCall(
            self,
            caller=str(snapshot["caller"]),
            call_sid=str(snapshot["call_sid"]),
            keypresses=int(snapshot["keypresses"]),
            clock=float(snapshot["clock"]),
            ended=bool(snapshot["ended"]),
            status_sent=bool(snapshot["status_sent"]),
            status_sequence=int(snapshot["status_sequence"]),
            direction=str(snapshot.get("direction", "inbound")),
            status_url=str(snapshot.get("status_url", "")),
            answered_by=str(snapshot.get("answered_by", "")),
        )
        waiting = snapshot["waiting"]
        if waiting is not None:
            verb, *rest = list(ET.fromstring(waiting["twiml"]))
            call.waiting = _Waiting(verb, rest, str(waiting["url"]), str(waiting["typed"]))
        return call


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def fictional_number(session: Session | None = None) -> str:
    """A random caller number from the range kept free for fiction (+49 30 23125 xxx).

    Given the app's database session, up to 20 draws avoid a number with an
    open request there: calling from it would reach the repeat-caller menu.
    """
    number = ""
    for _ in range(20):
        number = f"{FICTIONAL_PREFIX}{secrets.randbelow(1000):03d}"
        if session is None or active_request(session, number) is None:
            break
    return number


# -- a call ----------------------------------------------------------------------------


@dataclass
class _Waiting:
    """Where the call stopped for the caller: a <Gather>, <Record> or <Dial>, and what follows."""

    verb: ET.Element
    rest: list[ET.Element]
    document_url: str
    typed: str = ""  # digits a <Gather> has collected so far


@dataclass
class PhoneCall:
    """One simulated call, from ringing to the status callback."""

    phone: Phone
    caller: str
    call_sid: str
    heard: list[Heard] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    keypresses: int = 0
    clock: float = 0.0
    ended: bool = False
    status_sent: bool = False
    status_sequence: int = 0
    waiting: _Waiting | None = None
    # A call the line placed: `caller` is the phone that rang, the hotline is the From.
    direction: str = "inbound"
    status_url: str = ""  # outbound: the StatusCallback given to Calls.json, if any
    answered_by: str = ""  # outbound with answering-machine detection: human, machine_start

    # -- what the caller does --------------------------------------------------------

    def ring(self) -> list[Heard]:
        """The first webhook: Twilio posts the incoming call."""
        params = self._params(CallStatus="ringing")
        return self._fetch(self.phone.url("/voice/incoming"), params)

    def press(self, keys: str) -> list[Heard]:
        """Press keys, one after the other, as Twilio's <Gather> would collect them.

        Fewer digits than the question asks for are sent when its timeout runs out.
        """
        if not keys:
            return self.wait()
        before = len(self.heard)
        question = self.waiting
        self.type(keys)
        if question is not None and self.waiting is question and question.typed:
            self.wait()
        return self.heard[before:]

    def type(self, keys: str) -> list[Heard]:
        """Press keys without waiting for the timeout, as a person on a keypad does.

        A <Gather> that wants more digits keeps them (`typed`) until the next key,
        its finish key (#) or its timeout (`wait()`); keys after the one that
        completes it are lost, as they are on a real line.
        """
        verb = self._expect("Gather", "Record")
        assert self.waiting is not None
        if verb.tag == "Record":
            # A key right after the beep: nothing recorded yet, so Twilio falls through.
            self.keypresses += len(keys)
            return self._fall_through()
        finish = verb.get("finishOnKey", "#")
        wanted = int(verb.get("numDigits", "0") or 0)
        for key in keys:
            self.keypresses += 1
            if finish and key in finish:
                if not self.waiting.typed:
                    return self._fall_through()
                return self._submit_gather(verb, self.waiting.typed)
            self.waiting.typed += key
            if wanted and len(self.waiting.typed) >= wanted:
                return self._submit_gather(verb, self.waiting.typed)
        return []

    def wait(self) -> list[Heard]:
        """Say and press nothing more: the <Gather> times out (sending any digits typed),
        the <Record> stays empty."""
        verb = self._expect("Gather", "Record")
        assert self.waiting is not None
        self.clock += float(verb.get("timeout", "5"))
        if self.waiting.typed:
            return self._submit_gather(verb, self.waiting.typed)
        return self._fall_through()

    def speak(self, seconds: int = 10, then: str = "#", url: str | None = None) -> list[Heard]:
        """Leave a message at a <Record>: speak, then press `then` ("" : fall silent,
        "hangup": put the phone down, which ends the call after Twilio's last post).

        `url`: the RecordingUrl to post instead of Twilio's (tests send others).
        """
        verb = self._expect("Record")
        self.clock += seconds
        if then and then != "hangup":
            self.keypresses += 1
            if then not in verb.get("finishOnKey", "1234567890*#"):
                then = ""  # a key that does not end this recording: it ends in silence
        if not then:
            self.clock += float(verb.get("timeout", "5"))
        max_length = int(verb.get("maxLength", "3600"))
        if url is None:
            url = (
                f"{self.phone.api_base_url}/{API_VERSION}/Accounts/{self.phone.account_sid}"
                f"/Recordings/{new_sid('RE')}"
            )
        params = self._params(
            RecordingUrl=url,
            RecordingDuration=str(min(seconds, max_length)),
            RecordingSid=new_sid("RE"),
            Digits=then,
        )
        action = self._action(verb)
        self.waiting = None
        if then == "hangup":
            self._post(action, params)
            return self._end()
        return self._fetch(action, params)

    def operator_answers(self, talk_seconds: int = 60) -> list[Heard]:
        """Someone picks up the <Dial>ed phone; after the talk, Twilio posts the action."""
        return self._dial_ended("completed", talk_seconds)

    def operator_does_not_answer(self, status: str = "no-answer") -> list[Heard]:
        """The <Dial>ed phone rings out (or is busy: status="busy")."""
        verb = self._expect("Dial")
        self.clock += float(verb.get("timeout", "30"))
        return self._dial_ended(status, 0)

    def hang_up(self) -> None:
        """Put the phone down now; Twilio sends the status callback."""
        if not self.ended:
            self._end()

    def redeliver(self) -> Exchange:
        """Post the last request again, unchanged: Twilio delivering a webhook twice."""
        last = self.exchanges[-1]
        exchange = self.phone.transport.post(last.url, last.params, last.headers)
        self.exchanges.append(exchange)
        return exchange

    def send_status(
        self, status: str, sequence: int | None = None, duration: int | None = None
    ) -> Exchange:
        """A status callback as Twilio sends it (tests use it to send them out of order)."""
        params = self._params(
            CallStatus=status,
            CallbackSource="call-progress-events",
            Timestamp=format_datetime(utcnow(), usegmt=True),
        )
        if sequence is not None:
            params["SequenceNumber"] = str(sequence)
        if duration is not None:
            params["CallDuration"] = str(duration)
            params["Duration"] = str(max(1, -(-duration // 60)))
        url = self.status_url if self.direction == OUTBOUND else "/voice/status"
        return self._post(self.phone.url(url), params)

    # -- what the caller heard -------------------------------------------------------

    @property
    def waiting_for(self) -> str | None:
        """'keys', 'recording' or 'operator' while the call waits for the caller; None once over."""
        if self.waiting is None:
            return None
        return {"Gather": "keys", "Record": "recording", "Dial": "operator"}[self.waiting.verb.tag]

    @property
    def typed(self) -> str:
        """The digits the current question has collected so far (see `type()`)."""
        return self.waiting.typed if self.waiting is not None else ""

    @property
    def timeout(self) -> int | None:
        """Seconds the line waits at the current <Gather>, <Record> or <Dial>."""
        if self.waiting is None:
            return None
        default = "30" if self.waiting.verb.tag == "Dial" else "5"
        return int(float(self.waiting.verb.get("timeout", default)))

    @property
    def text(self) -> str:
        """Everything heard so far, as one text."""
        return " ".join(h.text for h in self.heard)

    def transcript(self) -> list[str]:
        return [f"[{h.language}] {h.text}" for h in self.heard]

    def snapshot(self) -> dict:
        """The call as plain JSON-able data, to go on with it later: `Phone.resume()`.

        It holds where the line waits (TwiML it sent and its URL), not what was
        heard. Whoever keeps a snapshot outside the process must keep it from
        being changed: the phone signs whatever it says as if Twilio did.
        """
        waiting = None
        if self.waiting is not None:
            verb = self.waiting.verb
            if verb.tag == "Gather":
                # Its prompts have been heard: only what the <Gather> does next is needed.
                verb = ET.Element(verb.tag, dict(verb.attrib))
            response = ET.Element("Response")
            response.extend([verb, *self.waiting.rest])
            waiting = {
                "twiml": ET.tostring(response, encoding="unicode"),
                "url": self.waiting.document_url,
                "typed": self.waiting.typed,
            }
        return {
            "caller": self.caller,
            "call_sid": self.call_sid,
            "keypresses": self.keypresses,
            "clock": self.clock,
            "ended": self.ended,
            "status_sent": self.status_sent,
            "status_sequence": self.status_sequence,
            "waiting": waiting,
            # A call the line placed goes on as one: its webhooks say outbound-api.
            "direction": self.direction,
            "status_url": self.status_url,
            "answered_by": self.answered_by,
        }

    # -- playing TwiML ---------------------------------------------------------------

    def _params(self, **extra: str) -> dict[str, str]:
        params = {
            "AccountSid": self.phone.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "CallStatus": "in-progress",
            "Called": self.phone.hotline_number,
            "Caller": self.caller,
            "Direction": "inbound",
            "From": self.caller,
            "To": self.phone.hotline_number,
        }
        if self.direction == OUTBOUND:
            hotline = self.phone.hotline_number
            params.update(Called=self.caller, Caller=hotline, From=hotline, To=self.caller)
            params["Direction"] = OUTBOUND
            if self.answered_by:
                params["AnsweredBy"] = self.answered_by
        params.update(extra)
        return params

    def _post(self, url: str, params: dict[str, str]) -> Exchange:
        exchange = self.phone.post(url, params)
        self.exchanges.append(exchange)
        return exchange

    def _fetch(self, url: str, params: dict[str, str]) -> list[Heard]:
        """Request TwiML and play it until the caller must act or the call ends."""
        before = len(self.heard)
        for _ in range(MAX_REDIRECTS):
            exchange = self._post(url, params)
            verbs = self._parse(exchange)
            redirect = self._play(verbs, url)
            if redirect is None:
                return self.heard[before:]
            url, params = redirect, self._params()
        raise PhoneError(f"more than {MAX_REDIRECTS} redirects in a row")

    def _parse(self, exchange: Exchange) -> list[ET.Element]:
        if exchange.status == 403:
            raise SignatureRefused(f"{exchange.url} refused the request's signature (HTTP 403)")
        if exchange.status != 200:
            raise PhoneError(f"{exchange.url} answered HTTP {exchange.status}: {exchange.body}")
        if exchange.content_type != "text/xml":
            raise PhoneError(f"{exchange.url} answered {exchange.content_type}, not text/xml")
        root = ET.fromstring(exchange.body)
        if root.tag != "Response":
            raise PhoneError(f"{exchange.url} answered <{root.tag}>, not TwiML")
        return list(root)

    def _play(self, verbs: list[ET.Element], document_url: str) -> str | None:
        """Play verbs in order; returns a URL to redirect to, or None when stopped or ended."""
        for i, verb in enumerate(verbs):
            rest = verbs[i + 1 :]
            match verb.tag:
                case "Say":
                    self._hear(verb)
                case "Pause":
                    self.clock += float(verb.get("length", "1"))
                case "Gather":
                    for nested in verb:
                        if nested.tag == "Say":
                            self._hear(nested)
                        elif nested.tag == "Pause":
                            self.clock += float(nested.get("length", "1"))
                        else:
                            raise PhoneError(f"<Gather> cannot hold <{nested.tag}>")
                    self.waiting = _Waiting(verb, rest, document_url)
                    return None
                case "Record":
                    if verb.get("playBeep", "true") == "true":
                        self.clock += BEEP_SECONDS
                    self.waiting = _Waiting(verb, rest, document_url)
                    return None
                case "Dial":
                    self.waiting = _Waiting(verb, rest, document_url)
                    return None
                case "Redirect":
                    return urljoin(document_url, (verb.text or "").strip())
                case "Hangup":
                    self._end()
                    return None
                case _:
                    raise PhoneError(f"the simulator cannot play <{verb.tag}>")
        # Twilio hangs up when a document runs out of verbs.
        self._end()
        return None

    def _hear(self, say: ET.Element) -> None:
        text = " ".join("".join(say.itertext()).split())
        seconds = speaking_seconds(text)
        self.heard.append(
            Heard(
                text=text,
                language=say.get("language", ""),
                voice=say.get("voice", ""),
                at=self.clock,
                seconds=seconds,
            )
        )
        self.clock += seconds

    def _expect(self, *tags: str) -> ET.Element:
        if self.ended or self.waiting is None:
            raise PhoneError("the call has ended")
        if self.waiting.verb.tag not in tags:
            raise PhoneError(f"the call waits at <{self.waiting.verb.tag}>, not {tags}")
        return self.waiting.verb

    def _action(self, verb: ET.Element) -> str:
        # No action: Twilio requests the current document's URL again.
        assert self.waiting is not None
        return urljoin(self.waiting.document_url, verb.get("action") or "")

    def _submit_gather(self, verb: ET.Element, digits: str) -> list[Heard]:
        action = self._action(verb)
        self.waiting = None
        return self._fetch(action, self._params(Digits=digits))

    def _fall_through(self) -> list[Heard]:
        """Nothing to post: Twilio goes on with the verbs after the one that waited."""
        assert self.waiting is not None
        rest, document_url = self.waiting.rest, self.waiting.document_url
        self.waiting = None
        before = len(self.heard)
        redirect = self._play(rest, document_url)
        if redirect is not None:
            self._fetch(redirect, self._params())
        return self.heard[before:]

    def _dial_ended(self, status: str, talk_seconds: int) -> list[Heard]:
        verb = self._expect("Dial")
        self.clock += talk_seconds
        if not verb.get("action"):
            return self._fall_through()
        params = self._params(
            DialCallStatus=status,
            DialCallSid=new_sid("CA"),
            DialCallDuration=str(talk_seconds),
        )
        action = self._action(verb)
        self.waiting = None
        return self._fetch(action, params)

    def _end(self) -> list[Heard]:
        self.ended = True
        self.waiting = None
        if self.direction == OUTBOUND and not self.status_url:
            self.status_sent = True  # nobody asked to hear of this call's end
        if not self.status_sent:
            self.status_sent = True
            self.send_status("completed", sequence=self.status_sequence, duration=round(self.clock))
        return []

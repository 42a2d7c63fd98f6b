"""The tables: zones and postcodes, help requests, the call log, people, the audit trail."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, StatusType, UTCDateTime, utcnow

intpk = Annotated[int, mapped_column(primary_key=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime)]
created = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]
str_short = Annotated[str, mapped_column(String(64))]


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class CallOutcome(enum.StrEnum):
    """How a call ended, as the call log and the daily export show it."""

    REQUEST_CREATED = "request_created"
    REPEAT_CALLER = "repeat_caller"  # heard their existing request again, made no new one
    CANCELLED = "cancelled"  # cancelled their existing request
    OUT_OF_AREA = "out_of_area"
    TRANSFERRED = "transferred"  # put through to the operator
    OPERATOR_MESSAGE = "operator_message"  # left a voice message for the operators
    GAVE_UP = "gave_up"  # no valid answer; politely ended with the helpline hours
    ABANDONED = "abandoned"  # hung up mid-way; last_step says where
    ERROR = "error"


class CallStatus(enum.StrEnum):
    """A call's status in the log: Twilio's CallStatus values, and our `unknown`.

    In the order of a call's life (its rank): a status only ever gives way to
    one of a higher rank (app/calls/call_log.py), and the five final ones share the
    last rank, so none of them replaces another. `unknown` is never Twilio's:
    `hotline calls close-stale` gives it to a call whose end never reached the
    log. It ranks after in-progress and before the finals, so that Twilio's
    real end, arriving late after all, still replaces it.
    """

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    UNKNOWN = "unknown"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """Its place in a call's life: 0 (queued) to 5 (any final status)."""
        return _CALL_STATUS_RANKS[self]

    @property
    def final(self) -> bool:
        """Twilio says the call is over; nothing replaces it."""
        return self.rank == CallStatus.COMPLETED.rank

    @property
    def live(self) -> bool:
        """The call may still be going on (no end heard of, and not closed as unknown)."""
        return self.rank < CallStatus.UNKNOWN.rank


_CALL_STATUS_RANKS = {
    status: min(rank, list(CallStatus).index(CallStatus.COMPLETED))
    for rank, status in enumerate(CallStatus)
}
# What Twilio may send as CallStatus (https://www.twilio.com/docs/voice/api/call-resource).
TWILIO_CALL_STATUSES = frozenset(CallStatus) - {CallStatus.UNKNOWN}
FINAL_CALL_STATUSES = frozenset(status for status in CallStatus if status.final)


class CallStep(enum.StrEnum):
    """Where in the phone menu a call is (the call log's last step reached)."""

    LANGUAGE = "language"
    EXISTING = "existing_request"
    POSTCODE = "postcode"
    CONFIRM_POSTCODE = "confirm_postcode"
    REQUEST_TYPE = "request_type"
    VOICE_MESSAGE = "voice_message"
    DONE = "done"
    OPERATOR = "operator"
    # Added with the phone line: a withheld number, cancelling, a message for the operators.
    CALLBACK_NUMBER = "callback_number"
    CONFIRM_CALLBACK = "confirm_callback"
    CONFIRM_CANCEL = "confirm_cancel"
    OPERATOR_MESSAGE = "operator_message"
    # Calls the line places: the call back that tells a repeat caller their code.
    CALLBACK_CODE = "callback_code"
    # The volunteer's call through the hotline: the offer (press 1), then the <Dial>.
    BRIDGE_OFFER = "bridge_offer"
    BRIDGE_DIAL = "bridge_dial"
    # "Do you still need help?" (app/calls/calldown.py).
    CALLDOWN = "calldown"
    # The optional notice that a volunteer took the request (app/calls/claim_notice.py).
    CLAIM_NOTICE = "claim_notice"


class Role(enum.StrEnum):
    VOLUNTEER = "volunteer"
    # Runs the helplines of its rows in operator_helplines, and sees only theirs.
    OPERATOR = "operator"
    # An operator of every helpline, including those configured later (the first
    # operator `hotline setup` makes): no rows in operator_helplines needed.
    ADMIN = "admin"


# Whoever may open the operator pages (what they see there: app/accounts/operator_scope.py).
OPERATOR_ROLES = (Role.OPERATOR, Role.ADMIN)


class AccountStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    # A volunteer who deleted their account: the row stays, without any personal
    # data, so that the audit trail and past claims still point at one person.
    DELETED = "deleted"


class AlertChannel(enum.StrEnum):
    """How a volunteer hears of new requests in their zones (their account page)."""

    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


class JobState(enum.StrEnum):
    PENDING = "pending"  # waiting for run_at
    RUNNING = "running"  # a worker has it until locked_until
    DONE = "done"
    PARKED = "parked"  # failed max_attempts times: shown to the operators


class HelplineRow(Base):
    """A helpline of the configuration (app/helplines.py), as zones, requests and calls name it.

    Synced from the configuration (app.helplines.sync_helplines); the menu, the
    operator and the rest stay in the configuration.
    """

    __tablename__ = "helplines"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone_number: Mapped[str] = mapped_column(String(32), default="")


class Zone(Base):
    """An area volunteers serve: a Berlin borough, or a city of the Tri-City."""

    __tablename__ = "zones"
    # Slugs are a helpline's own: two cities may both have a "mitte".
    __table_args__ = (UniqueConstraint("helpline_id", "slug"),)

    id: Mapped[intpk]
    helpline_id: Mapped[int] = mapped_column(ForeignKey("helplines.id"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    area: Mapped[str] = mapped_column(String(64), index=True)

    postcodes: Mapped[list[Postcode]] = relationship(back_populates="zone")
    helpline: Mapped[HelplineRow] = relationship()

    def __repr__(self) -> str:
        return f"<Zone {self.slug}>"


class Postcode(Base):
    """A postcode as typed on the keypad (five digits) and the zone it belongs to."""

    __tablename__ = "postcodes"

    # A code is unique within its helpline, not across them: 80001 is Gdańsk on the
    # Tri-City line and nowhere on Berlin's. zone_for_postcode() is one key lookup.
    helpline_id: Mapped[int] = mapped_column(ForeignKey("helplines.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    neighbourhood: Mapped[str] = mapped_column(String(200), default="")

    zone: Mapped[Zone] = relationship(back_populates="postcodes")


user_zones = Table(
    "user_zones",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
)

# The helplines an operator runs: their requests, callers, volunteers and audit
# events are the ones the operator sees (app/accounts/operator_scope.py).
operator_helplines = Table(
    "operator_helplines",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("helpline_id", ForeignKey("helplines.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    """A volunteer or an operator.

    UserMixin gives Flask-Login what it asks of a signed-in person. Every
    status may sign in; what an account sees depends on its status.
    """

    __tablename__ = "users"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    # Stored lower-cased, so that the unique index is case-insensitive everywhere.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(StatusType(Role), default=Role.VOLUNTEER)
    status: Mapped[AccountStatus] = mapped_column(
        StatusType(AccountStatus), default=AccountStatus.PENDING, index=True
    )
    language: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[created]
    approved_at: Mapped[timestamp | None]
    # When the owner proved the address is theirs (the link of the sign-up mail). A
    # volunteer's own sign-up waits for it before operators see it; accounts
    # operators make (`hotline users add`) are confirmed when made.
    email_confirmed_at: Mapped[timestamp | None]
    # New-request alerts: how, and not before when (the batch window, app/messaging/alerts.py).
    alert_channel: Mapped[str] = mapped_column(
        String(8), default=AlertChannel.EMAIL, server_default=AlertChannel.EMAIL
    )
    next_alert_at: Mapped[timestamp | None]
    # Part of the session cookie's user id (get_id): raising it ends every session of
    # the account at once (sign-out, a new password, suspension; board/sessions.py).
    session_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    zones: Mapped[list[Zone]] = relationship(secondary=user_zones)
    # An operator's helplines (an admin's are all of them, whatever is listed here).
    helplines: Mapped[list[HelplineRow]] = relationship(
        secondary=operator_helplines, order_by="HelplineRow.id"
    )

    @property
    def approved(self) -> bool:
        return self.status == AccountStatus.APPROVED

    def get_id(self) -> str:
        """What the session cookie names the account by: its id and its session version."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_operator(self) -> bool:
        """May open the operator pages: an operator or an admin."""
        return self.role in OPERATOR_ROLES

    @property
    def is_admin(self) -> bool:
        """An operator of every helpline."""
        return self.role == Role.ADMIN


class HelpRequest(Base):
    """What a caller asked for, waiting on the board for a volunteer."""

    __tablename__ = "help_requests"
    __table_args__ = (
        # The board: open requests in a zone, oldest first.
        Index("ix_help_requests_zone_status_created", "zone_id", "status", "created_at"),
        # The board again, over open requests only (a tenth of the table, or less):
        # the counts per zone read the first alone, filters included, and a board
        # walks the second oldest first, checking its zones and filters in the
        # index itself, and stops at a page's worth instead of sorting every open
        # request of its zones. The queries must say status = 'open' literally to
        # use them (app/requests/claims.py, OPEN_ONLY). `status` is in the first although
        # its rows are all open: SQLite (3.40) sees an index as covering only when
        # it holds every column the query names, and otherwise counts from
        # ix_help_requests_zone_status_created, reading each request's row for
        # its postcode or language (5 times slower, bench/board.py's database).
        Index(
            "ix_help_requests_open_zone",
            "zone_id",
            "status",
            "created_at",
            "id",
            "postcode",
            "request_type",
            "language",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "ix_help_requests_open_created",
            "created_at",
            "id",
            "zone_id",
            "postcode",
            "request_type",
            "language",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # A volunteer's own claims, and the expiry sweep over claimed requests.
        Index("ix_help_requests_claimer_status", "claimed_by_id", "status"),
        Index("ix_help_requests_status_claimed", "status", "claimed_at"),
        # A repeat caller is recognised by number.
        Index("ix_help_requests_caller_status", "caller_number", "status"),
    )

    id: Mapped[intpk]
    # What people read out and type: short, unambiguous, not guessable in sequence.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    postcode: Mapped[str] = mapped_column(String(10))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    # The line the caller rang. Nullable only because SQLite cannot add a NOT NULL
    # foreign key in place, and a batch copy of this table would lose its partial
    # indexes: every request stores it (app/requests/intake.py), migration 0017 filled it.
    helpline_id: Mapped[int | None] = mapped_column(ForeignKey("helplines.id"))
    request_type: Mapped[str_short]
    language: Mapped[str] = mapped_column(String(8))
    # Personal data: shown only to the claimer and operators, erased after retention.
    caller_number: Mapped[str | None] = mapped_column(String(32))
    # True when caller_number is what a caller who withheld theirs typed on the keypad:
    # anyone can type anyone's number, so the board marks it "not verified".
    caller_number_typed: Mapped[bool] = mapped_column(default=False)
    verification_code: Mapped[str | None] = mapped_column(String(4))
    status: Mapped[RequestStatus] = mapped_column(
        StatusType(RequestStatus), default=RequestStatus.OPEN
    )
    created_at: Mapped[created]
    claimed_at: Mapped[timestamp | None]
    closed_at: Mapped[timestamp | None]
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voice_message_url: Mapped[str | None] = mapped_column(String(500))
    voice_message_seconds: Mapped[int | None]
    # Unique: a webhook delivered twice for the same call never makes two requests.
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    unreachable_count: Mapped[int] = mapped_column(default=0)
    # When the last "could not reach" was counted: a repeat by the same claim soon after
    # counts once (app/requests/claims.py, record_unreachable).
    unreachable_noted_at: Mapped[timestamp | None]
    expired_claims: Mapped[int] = mapped_column(default=0)
    # When an operator last put it back on the board after speaking to the caller:
    # the wait that alerts the operators about an unclaimed request counts from here.
    returned_to_board_at: Mapped[timestamp | None]
    # When the zone's volunteers were alerted again that it still waits (once only).
    unclaimed_alert_at: Mapped[timestamp | None]

    zone: Mapped[Zone] = relationship()
    claimed_by: Mapped[User | None] = relationship()


class Call(Base):
    """The call log: one row per phone call, from the first webhook to the last callback."""

    __tablename__ = "calls"

    id: Mapped[intpk]
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32), default="")
    # The helpline the dialled number chose (None: a call spooled before it was known).
    helpline_id: Mapped[int | None] = mapped_column(ForeignKey("helplines.id"))
    # Indexed: the daily export reads calls by local day, in order.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[timestamp | None]
    duration_seconds: Mapped[int | None]
    status: Mapped[CallStatus] = mapped_column(
        StatusType(CallStatus), default=CallStatus.IN_PROGRESS
    )
    # The highest SequenceNumber of the status callbacks applied (-1: none had one).
    status_sequence: Mapped[int] = mapped_column(default=-1)
    language: Mapped[str] = mapped_column(String(8), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    request_type: Mapped[str] = mapped_column(String(64), default="")
    last_step: Mapped[str] = mapped_column(String(32), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    request_reference: Mapped[str] = mapped_column(String(16), default="")
    # A message the caller left for the operators when a transfer found nobody.
    operator_message_url: Mapped[str | None] = mapped_column(String(500))
    operator_message_seconds: Mapped[int | None]
    # Set when an operator has dealt with that message.
    operator_message_handled_at: Mapped[timestamp | None]
    # The turn of the phone menu the log last recorded. Every action URL carries its
    # turn, so a webhook Twilio delivers twice or late never moves the log backwards.
    step_seq: Mapped[int] = mapped_column(default=0)
    # What a caller with a withheld number typed to be called back on. Personal data,
    # like from_number: erased with it after retention.
    callback_number: Mapped[str | None] = mapped_column(String(32))
    # When the retention purge erased the numbers. A withheld number is stored
    # as NULL too: this is what tells "erased" from "withheld" afterwards.
    numbers_erased_at: Mapped[timestamp | None]

    zone: Mapped[Zone | None] = relationship()


class RateLimitCounter(Base):
    """A counter of the sign-in throttle, when the database holds them
    (app/accounts/rate_limit_storage.py).

    The key names what is counted (an account and an address, each as a keyed
    hash: no e-mail address or IP address is stored here), the count, and when
    the window ends.
    """

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """Who did what to which request, and when: the trail operators answer for."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # What one person did lately: their claims and give-backs of the last hour,
        # counted on every claim (app/requests/claim_limits.py).
        Index("ix_audit_events_user_action_at", "user_id", "action", "at"),
    )

    id: Mapped[intpk]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Who acted: a volunteer, an operator, or nobody (the phone line, a cron job).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("help_requests.id"), index=True)
    # Whose account the action was about (approved, suspended), so that the
    # audit log of one volunteer shows what was done to them as well as by them.
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    subject_user: Mapped[User | None] = relationship(foreign_keys=[subject_user_id])
    request: Mapped[HelpRequest | None] = relationship()


class BridgedCall(Base):
    """A volunteer's call to a caller through the hotline (app/calls/bridge.py).

    The line rings the volunteer, then <Dial>s the caller with the hotline's number
    shown: neither learns the other's number. `status` is what the request's page shows.
    """

    __tablename__ = "bridged_calls"

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # queued, ringing (the volunteer), connecting (to the caller), talked, missed (the
    # volunteer did not take it), unreachable (the caller did not answer), failed.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    talk_seconds: Mapped[int | None]
    created_at: Mapped[created]
    ended_at: Mapped[timestamp | None]


class Calldown(Base):
    """One "do you still need help?" call to the caller of an unclaimed request
    (app/calls/calldown.py): at most two per request, the second after a machine or
    no answer."""

    __tablename__ = "calldowns"
    __table_args__ = (UniqueConstraint("request_id", "attempt"),)

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id"), index=True)
    attempt: Mapped[int]
    # queued, kept (still needed), closed (no longer needed), operator (pressed 0),
    # not_reached (a machine, no answer, busy, or no choice made).
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[created]
    ended_at: Mapped[timestamp | None]


class CallPacing(Base):
    """The next free moment to place a call, per Twilio account (app/calls/pacing.py).

    Milliseconds since 1970 (UTC), an integer: one statement can add the gap on SQLite
    and PostgreSQL alike, where their date arithmetic differs.
    """

    __tablename__ = "call_pacing"

    account_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot_ms: Mapped[int] = mapped_column(BigInteger)


class Job(Base):
    """A background job (the outbox): written in the transaction of the change that causes it.

    A worker (`hotline worker`, app/jobs/worker.py) claims it, runs it and marks it done
    in one transaction with what it wrote; see app/jobs/queue.py for the rules.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"),)

    id: Mapped[intpk]
    kind: Mapped[str_short]
    # What makes it this job: enqueuing a key that exists adds nothing.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[timestamp | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created]
    finished_at: Mapped[timestamp | None]


class Delivery(Base):
    """One message to one person, by e-mail or SMS: the record that stops a retry sending twice.

    Written (and committed) as `attempting` before the message leaves, and as `sent`
    with the provider's id after; app/messaging/deliveries.py.
    """

    __tablename__ = "deliveries"

    id: Mapped[intpk]
    # The job's key and the recipient: one message per job and person.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(16))
    # The Message-ID of an e-mail, the MessageSid of an SMS (its status callbacks find it).
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)
    attempted_at: Mapped[created]
    sent_at: Mapped[timestamp | None]
    status_at: Mapped[timestamp | None]
    error: Mapped[str] = mapped_column(String(200), default="")


class AlertItem(Base):
    """A request a volunteer is to hear of, waiting for their next alert (the batch)."""

    __tablename__ = "alert_items"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id", "reason"),
        # The dispatcher reads the items not yet in an alert, by volunteer.
        Index("ix_alert_items_job_user", "job_id", "user_id"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # "new", or "unclaimed" (the reminder)
    created_at: Mapped[created]
    # The alert job it went into; NULL while it waits. Gone with the job when that is pruned.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))


__all__ = [
    "AccountStatus",
    "AlertChannel",
    "AlertItem",
    "Delivery",
    "Job",
    "JobState",
    "AuditEvent",
    "BridgedCall",
    "Calldown",
    "Call",
    "CallOutcome",
    "CallStep",
    "HelpRequest",
    "Postcode",
    "RateLimitCounter",
    "RequestStatus",
    "OPERATOR_ROLES",
    "Role",
    "User",
    "Zone",
]

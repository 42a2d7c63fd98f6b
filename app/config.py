"""Configuration: built-in defaults, then a TOML file, then environment secrets.

Everything is checked once, at start-up, so that a typo in `config.toml`
stops the app with one sentence naming the key and the file, instead of a
caller hearing silence at three in the morning.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.calls import calldown_settings
from app.jobs import settings as job_settings
from app.messaging import settings as messaging_settings
from app.phone_numbers import is_dialable, is_known_country

PROFILE_DIR = Path(__file__).parent / "data" / "profiles"
MAX_DATABASE_TIMEOUT = 10.0
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

# scrypt's work factor for passwords is 2**password_hash_cost. 15 is Werkzeug's default
# (about 0.1 s and 32 MiB a hash). The memory limit Werkzeug gives scrypt is too small
# below 7, and above 20 it is more than Python's scrypt accepts.
MIN_PASSWORD_HASH_COST = 7
MAX_PASSWORD_HASH_COST = 20

# Twilio's REST API, where its recordings are (and, one day, the calls we place).
TWILIO_API_BASE_URL = "https://api.twilio.com"
# A web address's scheme and host, with a port or not: nothing else.
BASE_URL = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")

# The environment variables that may carry secrets, and the key each one sets.
ENV_KEYS = {
    "HOTLINE_SECRET_KEY": ("secret_key",),
    "HOTLINE_DATABASE_URL": ("database_url",),
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "HOTLINE_MAIL_URL": ("mail", "url"),  # may hold the mail server's password
}

DEFAULTS: dict = {
    "database_url": "",
    "secret_key": "",
    "timezone": "Europe/Berlin",
    "public_base_url": "",
    "trusted_proxies": 0,
    "database_timeout_seconds": 6.0,
    "database_max_waiting": 2,
    "call_spool_dir": "",
    "zone_profile": "berlin",
    "retention_days": 30,
    "claim_timeout_hours": 24,
    "unclaimed_alert_hours": 48,
    "max_open_claims": 3,
    "claims_per_hour": 10,
    "give_backs_per_hour": 3,
    "churn_alert_give_backs": 3,
    "max_open_requests_per_number": 2,
    "show_caller_numbers": True,
    "notify_caller_on_claim": False,
    "password_hash_cost": 15,
    "operator_phone": "",
    "public_phone_number": "",
    "phone_country": "DE",
    "web_languages": ["de", "pl", "en"],
    "test_phone": "operators",
    "session_idle_minutes": 120,
    # [[helpline]] tables (app/helplines.py); none: one helpline, from the keys above.
    "helpline": [],
    "limits": {
        "storage_url": "",
        "per_account_and_address": "5 per minute; 20 per hour; 50 per day",
        "per_address": "30 per minute; 300 per day",
        "per_account": "10 per 15 minutes; 100 per day",
        "known_address_days": 90,
        "concurrent_password_checks": 1,
        "password_check_wait_seconds": 0.1,
    },
    "twilio": {
        "account_sid": "",
        "auth_token": "",
        "api_base_url": TWILIO_API_BASE_URL,
        "phone_number": "",
    },
    "mail": dict(messaging_settings.MAIL_DEFAULTS),
    "alerts": dict(messaging_settings.ALERT_DEFAULTS),
    "jobs": dict(job_settings.DEFAULTS),
    "calldown": dict(calldown_settings.DEFAULTS),
    "phone": {
        "languages": ["de", "en", "pl"],
        "default_language": "de",
        "voices": {
            "de": "Polly.Vicki",
            "en": "Polly.Amy",
            "pl": "Polly.Ewa",
            "tr": "Polly.Filiz",
            "uk": "Google.uk-UA-Standard-A",
        },
        "hours": {
            "de": "montags bis freitags von 9 bis 18 Uhr",
            "en": "Monday to Friday, from 9 a.m. to 6 p.m.",
            "pl": "od poniedziałku do piątku, od 9 do 18",
            "tr": "pazartesiden cumaya, saat 9 ile 18 arası",
            "uk": "з понеділка по пʼятницю, з 9 до 18 години",
        },
    },
    "request_types": [
        {
            "digit": "1",
            "code": "shopping",
            "label": {
                "de": "Einkäufe",
                "en": "shopping",
                "pl": "zakupy",
                "tr": "alışveriş",
                "uk": "покупки",
            },
        },
        {
            "digit": "2",
            "code": "pharmacy",
            "label": {
                "de": "Apotheke",
                "en": "pharmacy",
                "pl": "apteka",
                "tr": "eczane",
                "uk": "аптека",
            },
        },
        {
            "digit": "3",
            "code": "pets",
            "label": {
                "de": "Haustiere",
                "en": "pet care",
                "pl": "opieka nad zwierzętami",
                "tr": "evcil hayvan bakımı",
                "uk": "догляд за тваринами",
            },
        },
        {
            "digit": "4",
            "code": "chat",
            "label": {
                "de": "ein freundliches Telefonat",
                "en": "a friendly phone call",
                "pl": "przyjazna rozmowa telefoniczna",
                "tr": "dostça bir telefon görüşmesi",
                "uk": "дружня телефонна розмова",
            },
        },
        {
            "digit": "5",
            "code": "other",
            "label": {
                "de": "etwas anderes",
                "en": "something else",
                "pl": "coś innego",
                "tr": "başka bir şey",
                "uk": "щось інше",
            },
        },
    ],
}


# Who may call the helpline from the browser test phone (/phone).
TEST_PHONE_ACCESS = ("operators", "everyone", "off")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names key and file."""


@dataclass(frozen=True)
class RequestType:
    digit: str
    code: str
    labels: dict[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or self.code


@dataclass(frozen=True)
class LimitSettings:
    """The sign-in throttle and the bound on password checks ([limits]; board/throttle.py)."""

    storage_url: str = ""  # empty: the app's database; else redis://...
    per_account_and_address: str = DEFAULTS["limits"]["per_account_and_address"]
    per_address: str = DEFAULTS["limits"]["per_address"]
    per_account: str = DEFAULTS["limits"]["per_account"]
    known_address_days: int = 90
    concurrent_password_checks: int = 1  # per app process; 0: no bound
    password_check_wait_seconds: float = 0.1


@dataclass(frozen=True)
class Settings:
    source: str
    database_url: str
    secret_key: str
    timezone: ZoneInfo
    public_base_url: str
    trusted_proxies: int
    database_timeout_seconds: float
    database_max_waiting: int
    call_spool_dir: str
    zone_profile: str
    retention_days: int
    claim_timeout_hours: int
    max_open_claims: int
    claims_per_hour: int
    give_backs_per_hour: int
    churn_alert_give_backs: int
    max_open_requests_per_number: int
    show_caller_numbers: bool
    notify_caller_on_claim: bool
    unclaimed_alert_hours: int
    password_hash_cost: int
    operator_phone: str
    web_languages: list[str]
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_api_base_url: str
    phone_languages: list[str]
    default_language: str
    voices: dict[str, str]
    hours: dict[str, str]
    request_types: list[RequestType] = field(default_factory=list)
    test_phone: str = "operators"  # who may use the browser test phone: see TEST_PHONE_ACCESS
    # The hotline's own number, the sender of text messages ("": no SMS).
    twilio_phone_number: str = ""
    mail: messaging_settings.MailSettings = messaging_settings.MailSettings()
    alerts: messaging_settings.AlertSettings = messaging_settings.AlertSettings()
    calldown: calldown_settings.CalldownSettings = calldown_settings.CalldownSettings()
    jobs: job_settings.JobSettings = job_settings.JobSettings()
    session_idle_minutes: int = 120
    limits: LimitSettings = field(default_factory=lambda: LimitSettings())
    public_phone_number: str = ""  # the number callers dial, as printed on the posters
    phone_country: str = "DE"  # whose numbers the board shows in national format
    # The helplines this deployment runs (app/helplines.py); the first answers unknown numbers.
    helplines: tuple = ()

    def request_type(self, code: str) -> RequestType | None:
        """The request type with that code: the top level's, else a helpline's own.

        The board, the exports and the alerts label every helpline's requests.
        """
        for types in (self.request_types, *(h.request_types for h in self.helplines)):
            found = next((t for t in types if t.code == code), None)
            if found is not None:
                return found
        return None

    def request_type_for_digit(self, digit: str) -> RequestType | None:
        return next((t for t in self.request_types if t.digit == digit), None)


def config_path(env: dict[str, str] | None = None) -> Path | None:
    """The file to read: $HOTLINE_CONFIG, else ./config.toml if present, else none."""
    env = os.environ if env is None else env
    if env.get("HOTLINE_CONFIG"):
        return Path(env["HOTLINE_CONFIG"])
    local = Path("config.toml")
    return local if local.is_file() else None


def load_settings(
    path: Path | None = None,
    env: dict[str, str] | None = None,
    overrides: dict | None = None,
) -> Settings:
    """Read and check the configuration; raise ConfigError naming key and file."""
    env = os.environ if env is None else env
    raw = copy.deepcopy(DEFAULTS)
    source = "built-in defaults"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as f:
                from_file = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from None
        _merge(raw, _top_level_keys(from_file, source), DEFAULTS, source, prefix="")
    if overrides:
        source = "test configuration" if path is None else source
        _merge(raw, _top_level_keys(overrides, source), DEFAULTS, source, prefix="")
    for var, keys in ENV_KEYS.items():
        if env.get(var):
            target = raw
            for k in keys[:-1]:
                target = target[k]
            target[keys[-1]] = env[var]
    from app.helplines import check_helplines  # it builds on this module

    tables = raw.pop("helpline")
    settings = _check(raw, source)
    return replace(settings, helplines=check_helplines(tables, raw, settings))


def _top_level_keys(layer: dict, source: str) -> dict:
    """`layer` with the top-level names of settings that live in a table moved there."""

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{source}: key '{key}' {why}")

    return calldown_settings.take_top_level(layer, fail)


def _merge(target: dict, new: dict, defaults: dict, source: str, prefix: str) -> None:
    """Overlay `new` on `target`, refusing keys and types the defaults do not know."""
    for key, value in new.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            raise ConfigError(f"{source}: unknown key '{name}'")
        default = defaults[key]
        # Open tables (voices, hours) take any language code as a key.
        if isinstance(default, dict) and not name.endswith(("phone.voices", "phone.hours")):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: key '{name}' must be a table")
            _merge(target[key], value, default, source, prefix=f"{name}.")
            continue
        if isinstance(default, dict):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{source}: key '{name}' must be a table of texts")
            target[key] = {**target[key], **value}
            continue
        if isinstance(default, float) and type(value) is int:
            value = float(value)  # 5 means 5.0
        if type(value) is not type(default):  # and so never 1 for true, or true for 1
            kind = {int: "a whole number", float: "a number", str: "a text", list: "a list"}
            kind[bool] = "true or false"
            kind = kind[type(default)]
            raise ConfigError(f"{source}: key '{name}' must be {kind}, got {value!r}")
        target[key] = value


def _check(raw: dict, source: str, prefix: str = "") -> Settings:
    """Check the merged settings; `prefix` names a helpline's table in the errors."""

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{source}: key '{prefix}{key}' {why}")

    try:
        timezone = ZoneInfo(raw["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"is not a known time zone: {raw['timezone']!r}") from None

    if raw["database_url"]:
        try:
            url = make_url(raw["database_url"])
        except ArgumentError:
            raise fail("database_url", "is not a database URL") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise fail("database_url", "must be a sqlite:// or postgresql+psycopg:// URL")

    for key in (
        "retention_days",
        "claim_timeout_hours",
        "max_open_claims",
        "claims_per_hour",
        "give_backs_per_hour",
        "churn_alert_give_backs",
        "max_open_requests_per_number",
        "unclaimed_alert_hours",
    ):
        if raw[key] < 1:
            raise fail(key, f"must be at least 1, got {raw[key]}")
    if raw["database_max_waiting"] < 1:
        raise fail("database_max_waiting", f"must be at least 1, got {raw['database_max_waiting']}")
    # Only the tests go below 15: a cheaper hash is a faster guess for whoever
    # steals the database.
    if not MIN_PASSWORD_HASH_COST <= raw["password_hash_cost"] <= MAX_PASSWORD_HASH_COST:
        raise fail(
            "password_hash_cost",
            f"must be from {MIN_PASSWORD_HASH_COST} to {MAX_PASSWORD_HASH_COST}, "
            f"got {raw['password_hash_cost']}",
        )
    if raw["trusted_proxies"] < 0:
        raise fail("trusted_proxies", "must be 0 or more")
    # The deadline of a request's database work: the phone line must still answer
    # within Twilio's 15 seconds, or the caller never hears the apology.
    if not 0 < raw["database_timeout_seconds"] <= MAX_DATABASE_TIMEOUT:
        raise fail(
            "database_timeout_seconds",
            f"must be more than 0 and at most {MAX_DATABASE_TIMEOUT:g} "
            "(Twilio waits 15 seconds for the phone line's answer)",
        )

    base = raw["public_base_url"].rstrip("/")
    if base and not base.startswith(("http://", "https://")):
        raise fail("public_base_url", "must start with https:// (or http://)")

    if (
        not (PROFILE_DIR / f"{raw['zone_profile']}.toml").is_file()
        and not Path(raw["zone_profile"]).is_file()
    ):
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise fail("zone_profile", f"names no profile (known: {known}) and no file")

    phone = raw["phone"]
    languages = phone["languages"]
    if not languages or not all(isinstance(code, str) for code in languages):
        raise fail("phone.languages", "must list at least one language code")
    if len(set(languages)) != len(languages):
        raise fail("phone.languages", "lists a language twice")
    if len(languages) > 9:
        raise fail("phone.languages", "can offer at most 9 languages (one keypad digit each)")
    if phone["default_language"] not in languages:
        raise fail("phone.default_language", f"must be one of phone.languages {languages}")
    for code in languages:
        if code not in phone["voices"]:
            raise fail("phone.voices", f"has no voice for language '{code}'")
        if code not in phone["hours"]:
            raise fail("phone.hours", f"has no helpline hours for language '{code}'")

    if not raw["web_languages"]:
        raise fail("web_languages", "must list at least one language")
    translated = {p.name for p in TRANSLATIONS_DIR.iterdir() if p.is_dir()}
    for code in raw["web_languages"]:
        if code not in translated:
            known = ", ".join(sorted(translated))
            raise fail("web_languages", f"has no translation for {code!r} (known: {known})")

    operator = raw["operator_phone"].strip()
    if operator and not is_dialable(operator):
        raise fail("operator_phone", f"must be a number like +4930123456 (E.164), got {operator!r}")

    public_number = raw["public_phone_number"].strip()
    if public_number and not is_dialable(public_number):
        why = f"must be a number like +4930123456 (E.164), got {public_number!r}"
        raise fail("public_phone_number", why)
    if not is_known_country(raw["phone_country"]):
        got = raw["phone_country"]
        raise fail("phone_country", f"must be a country code such as DE or PL, got {got!r}")

    if raw["test_phone"] not in TEST_PHONE_ACCESS:
        raise fail("test_phone", f"must be one of {', '.join(TEST_PHONE_ACCESS)}")

    if raw["session_idle_minutes"] < 1:
        raise fail("session_idle_minutes", f"must be at least 1, got {raw['session_idle_minutes']}")

    request_types = _check_request_types(raw["request_types"], languages, fail)
    limits = _check_limits(raw["limits"], fail)
    api_base_url = _check_api_base_url(raw["twilio"]["api_base_url"], fail)
    sender = raw["twilio"]["phone_number"].strip()
    if sender and not is_dialable(sender):
        raise fail("twilio.phone_number", f"must be a number like +4930123456, got {sender!r}")

    return Settings(
        source=source,
        database_url=raw["database_url"],
        secret_key=raw["secret_key"],
        timezone=timezone,
        public_base_url=base,
        trusted_proxies=raw["trusted_proxies"],
        database_timeout_seconds=raw["database_timeout_seconds"],
        database_max_waiting=raw["database_max_waiting"],
        call_spool_dir=raw["call_spool_dir"],
        zone_profile=raw["zone_profile"],
        retention_days=raw["retention_days"],
        claim_timeout_hours=raw["claim_timeout_hours"],
        max_open_claims=raw["max_open_claims"],
        claims_per_hour=raw["claims_per_hour"],
        give_backs_per_hour=raw["give_backs_per_hour"],
        churn_alert_give_backs=raw["churn_alert_give_backs"],
        max_open_requests_per_number=raw["max_open_requests_per_number"],
        show_caller_numbers=raw["show_caller_numbers"],
        notify_caller_on_claim=raw["notify_caller_on_claim"],
        unclaimed_alert_hours=raw["unclaimed_alert_hours"],
        password_hash_cost=raw["password_hash_cost"],
        operator_phone=raw["operator_phone"].strip(),
        web_languages=list(raw["web_languages"]),
        twilio_account_sid=raw["twilio"]["account_sid"],
        twilio_auth_token=raw["twilio"]["auth_token"],
        twilio_api_base_url=api_base_url,
        phone_languages=list(languages),
        default_language=phone["default_language"],
        voices=dict(phone["voices"]),
        hours=dict(phone["hours"]),
        request_types=request_types,
        test_phone=raw["test_phone"],
        twilio_phone_number=sender,
        mail=messaging_settings.check_mail(raw["mail"], fail),
        alerts=messaging_settings.check_alerts(raw["alerts"], fail),
        jobs=job_settings.check(raw["jobs"], fail),
        calldown=calldown_settings.check(raw["calldown"], fail),
        session_idle_minutes=raw["session_idle_minutes"],
        limits=limits,
        public_phone_number=public_number,
        phone_country=raw["phone_country"],
    )


def _check_limits(raw: dict, fail) -> LimitSettings:
    """The [limits] table: rates as the limits library writes them, a storage it knows."""
    from limits import parse_many

    for key in ("per_account_and_address", "per_address", "per_account"):
        try:
            rates = parse_many(raw[key])
        except ValueError:
            rates = []
        if not rates:
            raise fail(
                f"limits.{key}", f"must be rates like '5 per minute; 20 per hour', got {raw[key]!r}"
            )
    storage = raw["storage_url"].strip()
    if storage and not storage.startswith(("redis://", "rediss://", "redis+unix://")):
        raise fail("limits.storage_url", "must be empty (the database) or a redis:// URL")
    if raw["known_address_days"] < 1:
        raise fail("limits.known_address_days", "must be at least 1")
    if raw["concurrent_password_checks"] < 0:
        raise fail("limits.concurrent_password_checks", "must be 0 (no bound) or more")
    if not 0 <= raw["password_check_wait_seconds"] <= 5:
        raise fail("limits.password_check_wait_seconds", "must be from 0 to 5")
    return LimitSettings(
        storage_url=storage,
        per_account_and_address=raw["per_account_and_address"],
        per_address=raw["per_address"],
        per_account=raw["per_account"],
        known_address_days=raw["known_address_days"],
        concurrent_password_checks=raw["concurrent_password_checks"],
        password_check_wait_seconds=raw["password_check_wait_seconds"],
    )


def _check_api_base_url(raw: str, fail) -> str:
    """Twilio's API address: https, or plain http only to a test server on this machine.

    Only recordings at this address are linked on the board, so it must be one
    nobody on the way can change: over http, anyone between us and the API could.
    """
    key = "twilio.api_base_url"
    base = raw.strip().removesuffix("/")
    try:
        parts = urlsplit(base)
        valid = BASE_URL.fullmatch(base) is not None and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port above 65535, a broken IPv6 address
        valid = False
    if not valid:
        raise fail(key, f"must be a scheme and a host (and port) only, like {TWILIO_API_BASE_URL}")
    if parts.scheme != "https" and not _loopback(parts.hostname):
        raise fail(key, "must start with https:// (http:// only for localhost or 127.0.0.1)")
    return base


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_request_types(items: list, languages: list[str], fail) -> list[RequestType]:
    if not items:
        raise fail("request_types", "must list at least one request type")
    if len(items) > 9:
        raise fail("request_types", "can list at most 9 types (keys 1 to 9)")
    result = []
    for i, item in enumerate(items, start=1):
        key = f"request_types[{i}]"
        if not isinstance(item, dict) or set(item) != {"digit", "code", "label"}:
            raise fail(key, "must have exactly digit, code and label")
        digit, code, label = item["digit"], item["code"], item["label"]
        if not (isinstance(digit, str) and len(digit) == 1 and digit in "123456789"):
            raise fail(f"{key}.digit", f"must be one keypad digit from '1' to '9', got {digit!r}")
        if not (isinstance(code, str) and code.isidentifier()):
            raise fail(f"{key}.code", f"must be a short code like 'shopping', got {code!r}")
        if not isinstance(label, dict):
            raise fail(f"{key}.label", "must be a table of texts per language")
        for lang in languages:
            if not isinstance(label.get(lang), str) or not label[lang].strip():
                raise fail(f"{key}.label", f"has no text for language '{lang}'")
        result.append(RequestType(digit=digit, code=code, labels=dict(label)))
    if len({t.digit for t in result}) != len(result):
        raise fail("request_types", "uses the same digit twice")
    if len({t.code for t in result}) != len(result):
        raise fail("request_types", "uses the same code twice")
    return result

"""The phone line's sentences: one catalog per language, as data in voice/prompts/.

A catalog is checked in full when the app starts: a configured language
without a catalog, a missing sentence or a misspelt {placeholder} stops
start-up with a ConfigError naming the file and the key, instead of a caller
hearing a gap (or Python's KeyError read aloud) in the middle of a call.
Adding a language is adding a file here, a voice and the hours in the config.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError

PROMPTS_DIR = Path(__file__).parent / "prompts"

# Every sentence the call flow speaks, and the placeholders each may use.
SENTENCES: dict[str, frozenset[str]] = {
    name: frozenset(fields)
    for name, fields in {
        "welcome": (),
        "language_option": ("digit",),
        "operator_hint": (),
        "not_heard": (),
        "not_understood": (),
        "repeat_hint": (),
        "ask_callback_number": (),
        "callback_number_invalid": (),
        "read_back": ("digits",),
        "read_back_place": ("digits", "place"),
        "confirm": (),
        "no_number": (),
        "existing_open": ("type",),
        "existing_claimed": ("type",),
        "existing_menu": (),
        "calling_back": (),
        "callback_hello": (),
        "callback_menu": (),
        "bridge_offer": ("reference", "type", "place"),
        "bridge_connecting": (),
        "bridge_unreachable": (),
        "bridge_gone": (),
        "calldown_intro": ("date", "type"),
        "calldown_menu": (),
        "calldown_kept": (),
        "claim_notice": ("hours",),
        "confirm_cancel": (),
        "cancelled": (),
        "already_closed": (),
        "kept": (),
        "request_limit": ("count",),
        "request_limit_typed": (),
        "ask_postcode": (),
        "postcode_has_five_digits": (),
        "out_of_area": ("digits", "area"),
        "ask_request_type": (),
        "request_type_option": ("label", "digit"),
        "ask_message": (),
        "request_stored": (),
        "code_explained": (),
        "your_code": ("code",),
        "code_again": ("code",),
        "what_next": (),
        "hear_code_again": (),
        "goodbye": (),
        "connecting": (),
        "nobody_free": (),
        "say_your_number": (),
        "message_thanks": (),
        "call_again": ("hours",),
        "sorry_no_success": (),
        "technical_problem": (),
    }.items()
}


@dataclass(frozen=True)
class Catalog:
    """The sentences of one language and the locale Twilio speaks them in."""

    language: str
    locale: str
    sentences: dict[str, str]

    def say(self, name: str, **fields: str) -> str:
        return self.sentences[name].format(**fields)


def load_catalogs(
    languages: list[str], source: str = "configuration", directory: Path = PROMPTS_DIR
) -> dict[str, Catalog]:
    """The checked catalog of every configured phone language (`source`: the config file)."""
    catalogs = {}
    for language in languages:
        path = directory / f"{language}.toml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
            raise ConfigError(
                f"{source}: key 'phone.languages' lists '{language}', but there is no "
                f"prompt catalog {path} (catalogs exist for: {known})"
            )
        catalogs[language] = read_catalog(path, language)
    return catalogs


def read_catalog(path: Path, language: str) -> Catalog:
    """Read one catalog file and check that every sentence is there and fillable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a valid prompt catalog ({e})") from None
    locale = data.get("locale")
    if not isinstance(locale, str) or not locale.strip():
        raise ConfigError(f"{path}: needs a 'locale' such as \"de-DE\" for <Say language>")
    sentences = data.get("say")
    if not isinstance(sentences, dict):
        raise ConfigError(f"{path}: needs a [say] table of sentences")
    for name in sorted(set(sentences) - set(SENTENCES)):
        raise ConfigError(f"{path}: unknown sentence 'say.{name}'")
    for name, allowed in SENTENCES.items():
        text = sentences.get(name)
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{path}: sentence 'say.{name}' is missing or empty")
        try:
            used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        except ValueError as e:
            raise ConfigError(f"{path}: sentence 'say.{name}' has broken braces ({e})") from None
        if used - allowed:
            wrong = ", ".join("{" + f + "}" for f in sorted(used - allowed))
            can = ", ".join("{" + f + "}" for f in sorted(allowed)) or "none"
            raise ConfigError(f"{path}: sentence 'say.{name}' uses {wrong} (it can use: {can})")
    return Catalog(language=language, locale=locale.strip(), sentences=dict(sentences))

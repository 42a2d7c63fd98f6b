"""How long a caller listens, and how many keys they press, until they hear their code.

The issue's target for the German happy path: at most 9 keypresses and under
60 seconds of listening, counting spoken words at 2.5 per second plus pauses
(and the recording beep). Run it with:

    .venv/bin/python -m bench.listening_time

It builds a throwaway app on SQLite with the Berlin zones and the default
configuration, and walks the call with the phone simulator (voice/simulator/phone.py),
which times every <Say> and <Pause> the way this measure defines. Keys are
counted as pressed once a prompt has been read out in full, so the figures
are upper bounds: a caller who knows the menu can press earlier.

It also times a repeat caller who wants their code again: the call to the line
(language, then 1: "we'll call you right back"), and the call back, until the
code has been heard (the code is only ever read on a call to the number on record).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sqlalchemy import select

from app import create_app, migrations_runner
from app.calls.outbound import CODE_CALLBACK_JOB, flow_url
from app.database import get_db
from app.models import CallStep, HelpRequest, Job
from app.zones.profiles import import_profile, profile_path, read_profile
from voice.flow import spell
from voice.simulator.phone import Phone

TARGET_KEYPRESSES = 9
TARGET_SECONDS = 60.0

# The happy path: language, postcode, "that is right", the kind of help, no message.
HAPPY_PATH = {
    "de": ["1", "10115", "1", "1"],
    "en": ["2", "10115", "1", "1"],
    "pl": ["3", "10115", "1", "1"],
}


def make_app(directory: Path, **config):
    url = f"sqlite:///{directory / 'bench.db'}"
    migrations_runner.upgrade(url)
    app = create_app(
        {
            "testing": True,
            "database_url": url,
            "secret_key": "bench",
            "twilio": {"auth_token": "bench-token", "account_sid": "AC" + "0" * 32},
            "public_base_url": "http://hotline.bench",
            **config,
        },
        instance_path=str(directory / "instance"),
    )
    with app.app_context(), get_db(app).session() as session:
        import_profile(session, read_profile(profile_path("berlin")))
        session.commit()
    return app


def until_code(app, keys: list[str]) -> tuple[int, float, list[tuple[float, str]]]:
    """Keypresses and listening seconds until the verification code has been heard once."""
    call = Phone.for_app(app).call(caller="+4930123456")
    for key in keys:
        call.press(key)
    call.press("#")  # at the beep: no message
    keypresses = call.keypresses
    with app.app_context(), get_db(app).session() as session:
        code = session.scalars(
            select(HelpRequest.verification_code).where(HelpRequest.call_sid == call.call_sid)
        ).one()
    heard = next(h for h in call.heard if spell(code) in h.text)
    timeline = [(h.at, h.text) for h in call.heard if h.at <= heard.at]
    return keypresses, heard.at + heard.seconds, timeline


def code_by_call_back(app, language_key: str) -> tuple[float, float]:
    """Listening seconds of a repeat caller: their call to the line, and the call back
    until the code has been heard once."""
    caller = "+4930123456"
    call = Phone.for_app(app).call(caller=caller)
    call.press(language_key)
    call.press("1")
    with app.app_context(), get_db(app).session() as session:
        job = session.scalars(select(Job).where(Job.kind == CODE_CALLBACK_JOB)).one()
        code, number = session.execute(
            select(HelpRequest.verification_code, HelpRequest.caller_number)
        ).one()
    payload = job.payload
    url = flow_url(
        app.config["HOTLINE"], CallStep.CALLBACK_CODE, payload["language"], ref=payload["reference"]
    )
    back = Phone.for_app(app).answer(number, url)
    heard = next(h for h in back.heard if spell(code) in h.text)
    return call.clock, heard.at + heard.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=sorted(HAPPY_PATH), default="de")
    parser.add_argument("--operator", default="", help="an operator number (adds the 0 hint)")
    parser.add_argument("--verbose", action="store_true", help="print what the caller hears")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        app = make_app(Path(directory), operator_phone=args.operator)
        keypresses, seconds, timeline = until_code(app, HAPPY_PATH[args.language])
        asking, called_back = code_by_call_back(app, HAPPY_PATH[args.language][0])
        get_db(app).engine.dispose()
    if args.verbose:
        for at, text in timeline:
            print(f"{at:6.1f} s  {text}")
    operator = f", operator {args.operator}" if args.operator else ""
    print(f"Happy path ({args.language}{operator}) until the code is heard:")
    print(f"  keypresses: {keypresses} (target at most {TARGET_KEYPRESSES})")
    print(f"  listening:  {seconds:.1f} s (target under {TARGET_SECONDS:.0f} s)")
    ok = keypresses <= TARGET_KEYPRESSES and seconds < TARGET_SECONDS
    print("  within target" if ok else "  OVER TARGET")
    print("Repeat caller, the code by calling back:")
    print(f"  their call: {asking:.1f} s, then the call back until the code: {called_back:.1f} s")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

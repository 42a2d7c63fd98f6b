"""The prompt catalogs: complete in every language, checked at start-up, extended by data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError
from tests.conftest import make_test_app
from voice.prompts import PROMPTS_DIR, SENTENCES, load_catalogs, read_catalog

HOTLINE = Path(sys.executable).parent / "hotline"
SHIPPED = ["de", "en", "pl", "tr", "uk"]


@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_catalog_is_complete(language):
    catalog = read_catalog(PROMPTS_DIR / f"{language}.toml", language)
    assert catalog.locale.split("-")[0] == language
    assert set(catalog.sentences) == set(SENTENCES)
    # Every placeholder can be filled: no sentence breaks in the middle of a call.
    for name, fields in SENTENCES.items():
        assert catalog.say(name, **{f: "X" for f in fields})


def test_the_languages_really_differ():
    catalogs = load_catalogs(SHIPPED)
    for name in ("ask_postcode", "goodbye", "your_code"):
        assert len({c.sentences[name] for c in catalogs.values()}) == len(SHIPPED), name


def test_a_phone_language_without_a_catalog_stops_start_up(tmp_path):
    with pytest.raises(ConfigError) as error:
        make_test_app(
            f"sqlite:///{tmp_path / 'x.db'}",
            tmp_path,
            phone={
                "languages": ["de", "fr"],
                "voices": {"fr": "Polly.Celine"},
                "hours": {"fr": "du lundi au vendredi"},
            },
            request_types=[
                {"digit": "1", "code": "shopping", "label": {"de": "Einkäufe", "fr": "courses"}}
            ],
        )
    assert "phone.languages" in str(error.value)
    assert "'fr'" in str(error.value)


def test_the_hotline_command_names_the_missing_catalog(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[phone]\nlanguages = ["de", "fr"]\n'
        '[phone.voices]\nfr = "Polly.Celine"\n[phone.hours]\nfr = "du lundi au vendredi"\n'
        '[[request_types]]\ndigit = "1"\ncode = "shopping"\n'
        'label = { de = "Einkäufe", fr = "courses" }\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HOTLINE_CONFIG": str(config)}
    result = subprocess.run(
        [str(HOTLINE), "zones", "list"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "phone.languages" in result.stderr and "fr.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_adding_a_language_is_adding_a_file(tmp_path):
    shutil.copy(PROMPTS_DIR / "en.toml", tmp_path / "xx.toml")
    catalogs = load_catalogs(["xx"], directory=tmp_path)
    assert catalogs["xx"].say("goodbye") == "Goodbye!"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda t: t.replace('goodbye = "Goodbye!"\n', ""), "'say.goodbye' is missing"),
        (lambda t: t.replace("{code}.", "{kod}."), "{kod}"),
        (lambda t: t.replace('goodbye = "', 'good_bye = "'), "'say.good_bye'"),
        (lambda t: t.replace("{digit}.", "{digit."), "broken braces"),
        (lambda t: t.replace('locale = "en-GB"', ""), "'locale'"),
        (lambda t: t.replace("[say]", "[says]"), "[say]"),
    ],
)
def test_a_broken_catalog_names_file_and_sentence(tmp_path, change, named):
    path = tmp_path / "en.toml"
    path.write_text(change((PROMPTS_DIR / "en.toml").read_text(encoding="utf-8")), "utf-8")
    with pytest.raises(ConfigError) as error:
        read_catalog(path, "en")
    assert str(path) in str(error.value)
    assert named in str(error.value)

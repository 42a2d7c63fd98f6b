"""Every string a person reads on the board is translated into German and Polish."""

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "app" / "translations"


def catalog(language: str):
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        # babel.cfg's patterns are relative to each input directory.
        [str(pybabel), "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(out), "app", "board"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as f:
        found = {m.id for m in read_po(f) if m.id}
    assert "Hotline Board" in found, "the extraction found none of the board's strings"
    return found


@pytest.mark.parametrize("language", ["de", "pl", "en"])
def test_catalog_has_every_string_of_the_code(extracted, language):
    known = {m.id for m in catalog(language) if m.id}
    missing = extracted - known
    assert not missing, f"run `make translations-extract`; missing in {language}: {missing}"


@pytest.mark.parametrize("language", ["de", "pl"])
def test_every_string_is_translated(language):
    untranslated = [
        m.id
        for m in catalog(language)
        if m.id and (not m.string or m.fuzzy or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert not untranslated, f"untranslated in {language}: {untranslated}"


@pytest.mark.parametrize("language", ["de", "pl", "en"])
def test_the_compiled_catalog_matches_its_source(language):
    """The .mo files ship with the code (a `pip install .` compiles nothing): keep them current.

    `make test` recompiles them whenever a .po file changes; commit both.
    """
    from babel.messages.mofile import read_mo

    def plain(text):
        return text if isinstance(text, str) else tuple(text)

    with open(CATALOGS / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = {
            plain(m.id): plain(m.string)
            for m in read_mo(f)
            if m.id and (m.string if isinstance(m.string, str) else any(m.string))
        }
    source = {
        plain(m.id): plain(m.string)
        for m in catalog(language)
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }
    # Untranslated plurals compile to the English text itself: not a translation either way.
    compiled = {k: v for k, v in compiled.items() if v != k}
    source = {k: v for k, v in source.items() if v != k}
    assert compiled == source, "run `make test` (it compiles the catalogs) and commit the .mo"

"""What the fault tests share: the apology a German caller hears, and SQLite held locked."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url

from voice.prompts import load_catalogs

OPERATOR = "+4930999000"


def german(sentence: str) -> str:
    return load_catalogs(["de"])["de"].say(sentence)


SORRY = german("technical_problem")
CONNECTING = german("connecting")


class SqliteLocked:
    """SQLite unavailable: another process holds the write lock."""

    def __init__(self, url: str):
        self.url = url
        self.path = make_url(url).database
        self.holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        self.holder = sqlite3.connect(self.path, isolation_level=None)
        self.holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None

"""Who ran a command, as the audit log names them."""

from __future__ import annotations

import contextlib
import getpass


def cli_user() -> str:
    """'the command line (system user NAME)', for audit events made by a command."""
    with contextlib.suppress(Exception):
        return f"the command line (system user {getpass.getuser()})"
    return "the command line"

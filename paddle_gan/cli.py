"""Command-line plumbing shared by the entry points: user errors and help formatting."""
from __future__ import annotations

import argparse
import sys
from typing import Callable


class UserError(Exception):
    """A problem the user can fix (bad flag, missing file); printed as one line, no traceback."""


def run_cli(main: Callable[[], int | None]) -> None:
    """Run an entry point; UserError (exit 2) and OSError (exit 1) print one ``error:`` line."""
    try:
        code = main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # the environment's fault (permissions, disk full), not a bug
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where there is a real default to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)

"""Command-line plumbing shared by the entry points: user errors and help formatting."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence


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


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="YAML or JSON file of settings, keyed by long flag name without the "
                             "dashes (seed: 3; a bare flag takes true, and false leaves it "
                             "unset); flags on the command line override it")


def parse_with_config(parser: argparse.ArgumentParser,
                      argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` with the ``--config`` file's settings placed before it.

    The file's settings become flags ahead of the command line's, so argparse itself checks
    their types and choices and a flag given on the command line wins."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    path = pre.parse_known_args(argv)[0].config
    settings = {} if path is None else read_config(Path(path))
    flags = {a.dest: a for a in parser._actions
             if a.option_strings and a.dest not in ("help", "config")}
    tokens = []
    for key, value in settings.items():
        action = flags.get(str(key).replace("-", "_"))
        if action is None:
            raise UserError(f"{path}: unknown setting {key!r}; settings are the long flag names "
                            f"of --help without the dashes ({', '.join(sorted(flags))})")
        flag = action.option_strings[-1]
        if action.nargs == 0 and action.const is True:  # store_true
            if not isinstance(value, bool):
                raise UserError(f"{path}: {key} must be true or false, got {value!r}")
            tokens += [flag] if value else []
        elif isinstance(value, bool) and action.nargs == "?":  # a flag with an optional value
            tokens += [flag] if value else []
        elif value is not None:
            tokens += [flag, str(value)]
    return parser.parse_args(tokens + argv)


def read_config(path: Path) -> dict:
    """A config file's settings: JSON for ``.json``, else YAML (which JSON also parses as)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"cannot read --config {path}: {err.strerror}") from None
    if path.suffix == ".json":
        try:
            settings = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"--config {path} is not valid JSON: {err}") from None
    else:
        import yaml

        try:
            settings = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise UserError(f"--config {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise UserError(f"--config {path} must hold a mapping of settings, got {type(settings).__name__}")
    return settings

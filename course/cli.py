"""What every command-line script shares: user errors become one line and exit code 2.

A user mistake (a missing file, an unknown optimizer, a bad flag value) is reported as
``error: <what is wrong>`` on stderr with exit code 2, like argparse's own errors; a traceback is
kept for real bugs. Ctrl-C says how to continue instead of dumping a stack.
"""
from __future__ import annotations

import argparse
import sys

from course.errors import ConfigError, SweepError
from data.errors import DataError
from models.errors import ModelError

USER_ERRORS = (ConfigError, DataError, ModelError, FileNotFoundError)


def run_main(main, argv=None, interrupted_hint: str = "") -> int:
    """Call ``main(argv)``; turn user errors and Ctrl-C into a message and an exit code."""
    try:
        return main(argv) or 0
    except USER_ERRORS as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except SweepError as err:   # not the user's mistake, but no traceback helps either
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted. {interrupted_hint}".rstrip(), file=sys.stderr)
        return 130


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows each flag's default and keeps the description's line breaks."""


def csv_list(kind):
    """An argparse type for comma-separated lists: '0.1,0.01' -> [0.1, 0.01]."""
    def parse(text):
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, "
                                             f"got {text!r}") from None
    parse.__name__ = f"list of {kind.__name__}"
    return parse


def key_values(text: str) -> dict:
    """An argparse type for 'key=value,key=value' settings: numbers, true/false and none are
    converted, anything else stays a string ('decay_steps=60,staircase=true')."""
    settings = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"expected key=value pairs separated by commas, got {item!r}")
        settings[key.strip()] = _typed(value.strip())
    return settings


def _typed(value: str):
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value

"""The VisualDL lines every sweep ends with paste whole: the command alone on its line, parsed by
VisualDL's own argument parser with no word left over, and the address alone on the next line.

``printed_visualdl`` reads them back as a learner would; the browser tests start VisualDL with it.
"""
import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

import pytest
from visualdl.server.args import parse_args

from course.chapters.common import print_where

HEADER = "VisualDL: start it with the next line, then open the address below it in a browser"


def printed_visualdl(text: str) -> tuple[list[str], str]:
    """(the command line's words, the address) from what ``print_where`` printed."""
    lines = text.splitlines()
    assert HEADER in lines, text
    at = lines.index(HEADER)
    return shlex.split(lines[at + 1]), lines[at + 2]


def visualdl_arguments(argv: list[str], monkeypatch) -> dict:
    """What VisualDL's own command-line parser makes of ``argv`` (a SystemExit if it refuses it)."""
    monkeypatch.setattr(sys, "argv", ["visualdl", *argv])
    return parse_args()


def printed(vdl_dirs) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_where("table.md", "table.csv", ["curves.png"], vdl_dirs)
    return out.getvalue()


@pytest.mark.parametrize("dirs", [["runs/mnist-lenet"], ["runs/a folder with spaces", "runs/b"]])
def test_the_command_line_is_all_visualdl_arguments(dirs, monkeypatch):
    command, address = printed_visualdl(printed(dirs))
    assert Path(command[0]).name == "visualdl"
    args = visualdl_arguments(command[1:], monkeypatch)
    # VisualDL takes two optional positional words ('dest', 'behavior'): prose pasted with the
    # command lands there, or is refused when there are more than two.
    assert args["dest"] is None and args["behavior"] is None
    assert args["logdir"] == dirs and args["language"] == "en"
    assert address == f"http://{args['host']}:{args['port']}/app/scalar"


def test_the_address_line_is_an_address_alone():
    text = printed(["runs/mnist-lenet"])
    _, address = printed_visualdl(text)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/app/scalar", address)
    # No line of the ending mixes a command with words for the reader.
    assert not [line for line in text.splitlines() if "visualdl --logdir" in line and "open" in line]


def test_visualdl_refuses_trailing_prose(monkeypatch):
    """The parser this file checks with does fail on the line the sweep used to print."""
    with pytest.raises(SystemExit):
        visualdl_arguments(["--logdir", "runs/x", "--language", "en", "then", "open",
                            "http://127.0.0.1:8040/app/scalar"], monkeypatch)

"""The README and docs/ stay a guide that is true: short, without a diary, every link and command good.

- README.md is at most 200 lines (a newcomer's guide; the reference is in docs/);
- no page holds a commit hash or hour-of-day wording (figures live in bench/results, history in
  git);
- every relative link and image resolves;
- every command in a code block that runs ``scripts/X.py`` or ``bench/X.py`` names a script that
  exists, and the script's own argparse parser accepts its arguments: the script's ``main`` is
  called with them and stopped the moment its parser has accepted them, so nothing runs.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])
README_LINES = 200
# The words of tools/hooks that keep history out of the docs, and a bare 40-hex object name.
COMMIT = re.compile(r"\b(commits?|at) [0-9a-f]{7,40}\b|\bcommits?\W{1,3}[0-9a-f]{7,40}\b|\b[0-9a-f]{40}\b")
HOUR = re.compile(r"\b(quiet|middling|slow|busy|peak)[ -]hours?\b|(?<![\w.:])([01]?\d|2[0-3]):[0-5]\d(?![\d:])",
                  re.IGNORECASE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
SCRIPT = re.compile(r"(?:^|/)((?:scripts|bench)/[A-Za-z0-9_]+\.py)$")
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_lines(text: str) -> list[tuple[int, str]]:
    """The logical lines inside the page's fenced code blocks (``\\`` continuations joined),
    each with the line number it starts on."""
    lines, inside, pending, start = [], False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + line.strip()))
        pending = ""
    return lines


def script_commands(text: str) -> list[tuple[int, str, list[str]]]:
    """Every (line, script, arguments) a code block runs: the words after ``scripts/X.py`` or
    ``bench/X.py`` up to a shell operator, comments dropped."""
    found = []
    for number, line in code_lines(text):
        if not re.search(r"(scripts|bench)/[A-Za-z0-9_]+\.py", line):
            continue
        words = shlex.split(line, comments=True)
        for i, word in enumerate(words):
            match = SCRIPT.search(word)
            if match:
                args = []
                for arg in words[i + 1:]:
                    if arg in SHELL_OPERATORS:
                        break
                    args.append(arg)
                found.append((number, match.group(1), args))
    return found


class _Parsed(Exception):
    """Raised from inside a script's parser once it has accepted the arguments."""


def parse_with_script(script: str, args: list[str]) -> str:
    """'' if ``script``'s own parser accepts ``args``, else what it said. The script's ``main`` is
    called and stopped as soon as its parser has parsed (argparse's ``parse_args``)."""
    path = ROOT / script
    if not path.is_file():
        return f"no such script {script}"
    spec = importlib.util.spec_from_file_location(f"_docs_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, argv=None, namespace=None):
        original(self, argv, namespace)
        raise _Parsed

    err = io.StringIO()
    argparse.ArgumentParser.parse_args = parse_then_stop
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            module.main(args)
    except _Parsed:
        return ""
    except SystemExit as exit:
        return "" if exit.code == 0 else err.getvalue().strip() or f"exit code {exit.code}"
    finally:
        argparse.ArgumentParser.parse_args = original
    return f"{script}'s main returned without parsing its arguments"


def test_the_readme_is_a_guide_a_newcomer_finishes():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_LINES, f"README.md is {lines} lines (at most {README_LINES}: reference goes to docs/)"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_no_page_holds_a_commit_hash_or_an_hour_of_the_day(page):
    text = page.read_text(encoding="utf-8")
    found = [f"{rel(page)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
             for pattern in (COMMIT, HOUR) for m in pattern.finditer(text)]
    assert not found, "history belongs in git, figures in bench/results:\n" + "\n".join(found)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_and_image_resolves(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for m in LINK.finditer(text):
        target = m.group(1).split("#")[0]
        if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):   # an anchor, or http:, mailto:
            continue
        if not (page.parent / target).exists():
            broken.append(f"{rel(page)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(1)}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_command_names_a_script_that_accepts_its_flags(page):
    commands = script_commands(page.read_text(encoding="utf-8"))
    bad = [f"{rel(page)}:{n}: {script} {' '.join(args)}\n    {said}"
           for n, script, args in commands if (said := parse_with_script(script, args))]
    assert not bad, "commands the scripts refuse:\n" + "\n".join(bad)


def test_the_checks_catch_what_they_guard_against():
    """Each check fails on the mistake it is for: a flag the script lacks, a script that does not
    exist, a commit hash, an hour, a command split over lines with a comment."""
    page = ("```bash\n# a comment\n.venv/bin/python scripts/lr_find.py --model lenet \\\n"
            "    --optimizer sgd   # trailing\nRAY_AUTH_MODE=token python bench/bench_peer.py --quick | tee x\n```\n"
            "`scripts/not_in_a_block.py --nope`\n")
    assert script_commands(page) == [(3, "scripts/lr_find.py", ["--model", "lenet", "--optimizer", "sgd"]),
                                     (5, "bench/bench_peer.py", ["--quick"])]
    assert parse_with_script("scripts/lr_find.py", ["--model", "lenet", "--optimizer", "sgd"]) == ""
    assert "unrecognized arguments: --no-such-flag" in parse_with_script("scripts/lr_find.py",
                                                                         ["--no-such-flag"])
    assert "--epochs: invalid int value" in parse_with_script("scripts/compare_optimizers.py", ["--epochs", "five"])
    assert parse_with_script("scripts/no_such_script.py", []) == "no such script scripts/no_such_script.py"
    for diary in ("at commit a3ff926 the sweep", "commits a97c254 to 5fcf178", "in a quiet hour", "16:10-16:28"):
        assert COMMIT.search(diary) or HOUR.search(diary), diary
    for fine in ("127.0.0.1:6379", "the commit and whether the tree", "1x2 / 1x1", "ch7 resumes at epoch 1"):
        assert not (COMMIT.search(fine) or HOUR.search(fine)), fine

#!/usr/bin/env python
"""Regenerate every chapter notebook (course/notebooks/*.ipynb) from its jupytext source (*.py).

A chapter is written once, as a percent-format .py file (`# %%` code cells, `# %% [markdown]`
prose cells) that runs as a script and opens as a notebook; the .ipynb beside it is generated,
without outputs, and never edited by hand. The same source gives a byte-identical notebook: cell
ids are numbered and the only metadata is the kernel (python3). With --dry-run nothing is
written: the command exits 1 naming the notebooks that differ from their sources (or have none).
"""
import argparse
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "course" / "notebooks"
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


def render(source: Path) -> str:
    """The notebook ``source`` generates, as the text of its .ipynb file."""
    import copy

    import jupytext

    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata = copy.deepcopy(METADATA)
    for i, cell in enumerate(notebook.cells):
        cell.id = f"cell-{i}"
    text = jupytext.writes(notebook, fmt="ipynb")
    return text if text.endswith("\n") else text + "\n"


def stale(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks in ``folder`` that differ from what their sources generate, or have no source."""
    wrong = [s.with_suffix(".ipynb") for s in sorted(folder.glob("*.py"))
             if not s.with_suffix(".ipynb").is_file()
             or s.with_suffix(".ipynb").read_text(encoding="utf-8") != render(s)]
    return wrong + [nb for nb in sorted(folder.glob("*.ipynb")) if not nb.with_suffix(".py").is_file()]


def main(argv=None) -> int:
    """Write the stale notebooks (with --dry-run only name them); exit 1 if any is left stale."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    # Not Launch.dry_run (a run shrunk to seconds): here it means "check, write nothing".
    parser.add_argument("-n", "--dry-run", action="store_true", help="only check; exit 1 naming stale notebooks")
    args = parser.parse_args(argv)
    left = []
    for notebook in stale(NOTEBOOKS):
        source, name = notebook.with_suffix(".py"), notebook.relative_to(NOTEBOOKS.parents[1])
        if args.dry_run or not source.is_file():
            left.append(notebook)
            print(f"{name}: {'differs from its source' if source.is_file() else 'has no source ' + source.name}")
        else:
            notebook.write_text(render(source), encoding="utf-8", newline="\n")
            print(f"wrote {name}")
    return 1 if left else 0

if __name__ == "__main__":
    sys.exit(main())

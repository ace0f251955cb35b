"""What every entry point shares: flags generated from the settings, one dry run, one error style.

A setting is declared once, as a field of ``RunConfig`` (a run), ``Sweep`` (the grid) or
``Launch`` (how a command runs), with its type, default and help. ``CommandLine`` turns the
fields an entry point exposes into argparse flags (``batch_size`` -> ``--batch-size``, the help
showing the default), so flag names, types and defaults cannot drift between scripts; a chapter
only chooses which fields it shows and may give one another default.

``run_main`` reports a user mistake (a missing file, an unknown optimizer, a bad flag value) as
``error: <what is wrong>`` on stderr with exit code 2, like argparse's own errors; a traceback is
kept for real bugs. Ctrl-C says how to continue instead of dumping a stack.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import sys
from dataclasses import dataclass
from pathlib import Path

from course.engine.config import FIELDS, RunConfig, flag, setting
from course.engine.errors import USER_ERRORS, SweepError

# The errors of a file system, not of the code: a path that is a file, read-only, full, not ours.
FILE_SYSTEM_FAULTS = {errno.ENOTDIR, errno.EISDIR, errno.EROFS, errno.EACCES, errno.EPERM,
                      errno.ENOSPC, errno.EDQUOT, errno.EEXIST, errno.ENOENT, errno.ENAMETOOLONG}
RESUME_HINT = "Run the same command again to continue: finished runs are kept."
# What --dry-run shrinks a run to: 1 epoch on at most 512 training and 512 validation images.
DRY_RUN = {"epochs": 1, "subset": 512, "val_subset": 512}


@dataclass
class Launch:
    """How a command runs (not what it trains): these never change a run's result."""

    jobs: str = setting("auto", "runs trained at once, each in its own process: auto = one per "
                                "visible GPU when the runs train on GPUs (each pinned to its card), "
                                "one per CPU core otherwise; or a number")
    progress: bool = setting(True, "progress bars (shown only on a terminal)")
    quiet: bool = setting(False, "print only the final table (no line per epoch, no progress)")
    resume: bool = setting(True, "continue unfinished runs from their last epoch (--no-resume: "
                                 "start them over)")
    overwrite: bool = setting(False, "replace the runs in the sweep's folder that were trained with "
                                     "other settings (without it such runs stop the sweep)")
    report_only: bool = setting(False, "only (re)write the table and plots from finished runs")
    dry_run: bool = setting(False, "smoke test: the same command, checked as given on your data, "
                                   "then shrunk to seconds (1 epoch on at most 512 images, one "
                                   "seed, output under LOGDIR/dry-run)")
    # Many machines: course/sweep/ray_cluster.py (needs requirements-ray.txt).
    backend: str = setting("local", "where the runs train: 'local' (--jobs processes here) or 'ray' "
                                    "(one Ray task per run, on a cluster or a local Ray instance)")
    address: str = setting("", "with --backend ray: the Ray head to join, HOST:PORT ('' starts a "
                               "local Ray instance)")
    cpus_per_run: int = setting(1, "with --backend ray: CPUs each run asks Ray for (its thread count)")
    gpus_per_run: float = setting(0.0, "with --backend ray: GPUs each run asks Ray for (0.5: two "
                                       "runs share a GPU)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows each flag's default and keeps the description's line breaks."""


class Parser(argparse.ArgumentParser):
    """argparse, with a mistyped flag reported as one line like every other user error, and no
    abbreviations: ``--epoch 3`` is a typo to report, not ``--epochs 3`` to guess."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message):
        """Print ``error: <message>`` (argparse's own words name the flag) and exit with code 2."""
        self.exit(2, f"error: {message} (see --help)\n")


class CommandLine:
    """An entry point's flags, generated from the fields of RunConfig, Sweep and Launch.

    Example:
        >>> cl = CommandLine(__doc__)
        >>> cl.settings("training", RunConfig, "model", "lr", epochs=10)
        >>> args = cl.parse(["--lr", "0.1"])
        >>> cl.config(args).lr
        0.1
    """

    def __init__(self, description: str):
        self.parser = Parser(description=description, formatter_class=HelpFormatter)
        self.run_fields: list[str] = []
        self.groups: dict = {}

    def settings(self, title: str, source, *names: str, **defaults):
        """Add a flag group for fields ``names`` of dataclass ``source``; ``defaults`` override
        a field's default for this entry point. Returns the argparse group (for own flags)."""
        fields = {f.name: f for f in dataclasses.fields(source)}
        if title not in self.groups:
            self.groups[title] = self.parser.add_argument_group(title)
        group = self.groups[title]
        for name in names:
            _add_flag(group, fields[name], defaults.get(name, _default(fields[name])))
            if source is RunConfig:
                self.run_fields.append(name)
        return group

    def parse(self, argv=None, dry_run: dict | None = None) -> argparse.Namespace:
        """Parse ``argv``; with --dry-run, shrink the work (``DRY_RUN``, then ``dry_run``'s
        entries: a value, or a function of the parsed value) once the user's values are checked.

        The flags that are not a run's setting (--seeds, --optimizers, --logdir, ...) are checked
        and shrunk here; a run's settings when ``config`` builds the RunConfig.
        """
        args = self.parser.parse_args(argv)
        self.typed = typed_flags(self.parser, sys.argv[1:] if argv is None else argv)
        self.dry_run = None
        if getattr(args, "dry_run", False):
            rules = {**DRY_RUN, "seeds": lambda seeds: seeds[:1], **(dry_run or {})}
            self.dry_run = {k: v for k, v in rules.items() if k in FIELDS}
            check_lists(args)
            shrink(args, {k: v for k, v in rules.items() if k not in FIELDS})
        return args

    def config(self, args, **fixed) -> RunConfig:
        """The RunConfig of the exposed run flags, plus ``fixed`` settings (checked on the way).

        A chapter's --subset default the user did not type is fitted to a smaller data set; with
        --dry-run the config is checked as given, with its data, before it is shrunk
        (``course.engine.preflight.fit_to_data``).
        """
        from course.engine.preflight import fit_to_data

        config = RunConfig(**{**{n: getattr(args, n) for n in self.run_fields}, **fixed})
        return fit_to_data(config, self.dry_run, subset_typed="subset" in self.typed or "subset" in fixed)


def typed_flags(parser, argv) -> set:
    """The dests of the flags ``argv`` gives (``--subset 5`` or ``--subset=5``), not defaults."""
    given = {arg.split("=", 1)[0] for arg in argv if str(arg).startswith("--")}
    return {action.dest for action in parser._actions if given & set(action.option_strings)}


def check_lists(args) -> None:
    """The user's --seeds, --lrs and --logdir, checked before a dry run cuts or moves them."""
    from course.engine.preflight import check_folder_flag, check_seeds, check_unique

    if getattr(args, "seeds", None) is not None:
        check_seeds(args.seeds)
    if getattr(args, "lrs", None) is not None:
        check_unique(args.lrs, "--lrs", "learning rate")
    if getattr(args, "logdir", None) is not None:
        check_folder_flag(args.logdir, "--logdir")


def shrink(args, extra: dict) -> None:
    """The dry-run rule for flags that are not a run's setting: one seed (``extra``'s rules), and
    the output under LOGDIR/dry-run."""
    for name, value in extra.items():
        if hasattr(args, name):
            setattr(args, name, value(getattr(args, name)) if callable(value) else value)
    if hasattr(args, "logdir"):
        args.logdir = str(Path(args.logdir) / "dry-run")


def _default(f):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _add_flag(group, f, default) -> None:
    kind, help = f.type, f.metadata["help"]
    if kind == "bool":
        group.add_argument(flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                           default=default, help=help)
    elif kind == "list":
        # A string default goes through the type, and --help shows it as it is typed.
        group.add_argument(flag(f.name), dest=f.name, type=csv_list(f.metadata["item"]),
                           default=default if isinstance(default, str) else ",".join(map(str, default)),
                           help=help)
    elif kind == "dict":
        text = ",".join(f"{k}={v}" for k, v in default.items())
        group.add_argument(flag(f.name), dest=f.name, type=key_values, default=text, help=help)
    else:
        group.add_argument(flag(f.name), dest=f.name, type={"int": int, "float": float}.get(kind, str),
                           default=default, help=help)


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
    except OSError as err:
        if err.errno not in FILE_SYSTEM_FAULTS:
            raise
        print(f"error: {file_system_fault(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted. {interrupted_hint}".rstrip(), file=sys.stderr)
        return 130


def file_system_fault(err: OSError) -> str:
    """One line for a file that cannot be written or read: which path, what is wrong, what next."""
    where = err.filename or "a file"
    if err.errno == errno.ENOSPC:
        return (f"{where}: no space left on the device; the runs that finished are intact: free "
                "some space and run the same command again")
    return f"{where}: {err.strerror or err}"


def csv_list(kind):
    """An argparse type for comma-separated lists: '0.1,0.01' -> [0.1, 0.01]; a comma inside
    brackets does not split ('adam(beta1=0.8,beta2=0.99),sgd' is two items)."""
    def parse(text):
        try:
            return [kind(part.strip()) for part in split_outside_brackets(text) if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, "
                                             f"got {text!r}") from None
    parse.__name__ = f"list of {kind.__name__}"
    return parse


def split_outside_brackets(text: str) -> list[str]:
    """``text`` split at the commas that are not inside round brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


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

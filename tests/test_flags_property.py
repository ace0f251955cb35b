"""Every flag of the main sweep, drawn at random (valid and invalid values, in any combination):
the command is either accepted or says one line ``error: ...`` naming what it was given, never a
traceback, and a refused command writes nothing.

Hypothesis draws the values; the command runs in this process and is stopped where training
would start (``train_logged`` and the worker pool are replaced by a stop), so an example takes
the time of the checks alone. What it does not draw, and why: plain 'mnist' and
'--pretrained imagenet' would download, '--backend ray' would start Ray.
"""
import contextlib
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.chapters import ch4_optimizers
from course.cli import run_main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_small.npz"
INTS = st.sampled_from(["-1", "0", "1", "2", "7", "64", "999", "100000", "x", "1.5", ""])
FLOATS = st.sampled_from(["0", "-1", "0.01", "0.5", "1", "2", "nan", "inf", "-inf", "1e-9", "x", ""])
# Per flag, the values drawn beside the generic ones of its type: {tmp} is the example's folder,
# {digits} a real image folder.
VALUES = {
    "--optimizers": ["sgd", "adam,sgd", "adam,adam", "nope", ",", "SGD,momentum"],
    "--lrs": ["0.1", "0.1,0.01", "0.1,0.1", "-1", "nan", "x", ","],
    "--seeds": ["0", "0,1", "1,1", "-1", "4294967296", "x", ","],
    "--dataset": [f"mnist:{FIXTURE}", "folder:{digits}", "mnist:{tmp}/nope.json.gz", "folder:",
                  "folder:{tmp}", "imagenet", "mnist:{tmp}"],
    "--model": ["lenet", "mlp_relu", "linear", "mobilenet_v2", "vgg16_gap", "resnet", ""],
    "--augment": ["none", "keras_gym", "wild"],
    "--pretrained": ["", "{tmp}/nope.pdparams", "{tmp}"],
    "--schedule": ["constant", "cosine", "step", "polynomial", "nope"],
    "--schedule-args": ["", "decay_steps=5", "power=inf", "gamma=nan", "x", "a=1"],
    "--early-stop": ["", "patience=2", "min_delta=nan", "monitor=nope", "patience=-1", "x"],
    "--reduce-lr-on-plateau": ["", "factor=0.5", "factor=2", "cooldown=nan"],
    "--checkpoint": ["", "best", "path=/proc/x/best", "path={tmp}/ck/best", "bestest", "path={{"],
    "--logdir": ["{tmp}/runs", "", "{tmp}/file.txt", "/proc/lab"],
    "--device": ["cpu", "auto", "gpu", "tpu"],
    "--amp": ["off", "auto", "bf16", "fp16", "fp8"],
    "--jobs": ["1", "auto", "0", "99", "x"],
    "--backend": ["local", "spark"],
    "--address": ["", "10.0.0.1:6379"],
    "--data-cache": ["", "{tmp}/cache"],
}
SKIP = {"-h", "--help", "--progress", "--no-progress", "--quiet", "--no-quiet", "--dry-run",
        "--no-dry-run"}


def flag_strategies():
    """(flag, strategy of its text) for every flag of the sweep's command line."""
    out = {}
    for action in ch4_optimizers.command_line().parser._actions:
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if flag is None or flag in SKIP:
            continue
        if action.nargs == 0:   # --x / --no-x
            out[flag] = st.sampled_from([[o] for o in action.option_strings])
            continue
        generic = FLOATS if action.type is float else INTS if action.type is int else st.nothing()
        drawn = st.sampled_from(VALUES.get(flag, ["x"])) | generic
        out[flag] = drawn.map(lambda text, flag=flag: [flag, text])
    return out


FLAGS = flag_strategies()


def named(argv) -> set:
    """What an error may name: a flag given ('--lrs' is also '--lr' in a run's words, '--no-resume'
    '--resume') or a value given (of 3 characters or more: '1' would match any message)."""
    words = set()
    for item in argv:
        if item.startswith("--"):
            name = item[2:].split("=")[0].removeprefix("no-")
            words |= {name, name.rstrip("s"), name.replace("-", "_")}
        elif len(item) >= 3:
            words.add(item)
    return words


class Stop(Exception):
    """Raised where training would start: the command was accepted."""


def stop(*args, **kwargs):
    raise Stop


@pytest.fixture
def stopped(monkeypatch):
    import course.sweep.runner as runner

    monkeypatch.setattr(runner, "train_logged", stop)
    monkeypatch.setattr(runner, "_run_in_processes", stop)
    monkeypatch.setattr(ch4_optimizers, "draw_paths", stop)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chosen=st.lists(st.sampled_from(sorted(FLAGS)), min_size=1, max_size=4, unique=True), data=st.data())
def test_any_flag_values_are_accepted_or_one_line_naming_them(chosen, data, stopped, digits, monkeypatch):
    with tempfile.TemporaryDirectory() as tmp:
        places = {"tmp": tmp, "digits": digits["single"]}
        (Path(tmp) / "file.txt").write_text("a file")
        argv = ["--subset", "64", "--val-subset", "64", "--no-progress", "--logdir", f"{tmp}/runs",
                "--dataset", f"mnist:{FIXTURE}"]
        for flag in chosen:
            argv += [part.format(**places) for part in data.draw(FLAGS[flag], label=flag)]
        monkeypatch.setenv("PADDLE_OPT_LAB_DATA", f"{tmp}/data-root")
        before = {p for p in Path(tmp).rglob("*")}
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = run_main(ch4_optimizers.main, argv)
        except SystemExit as exit_:
            code = exit_.code
        except Stop:
            return   # accepted: it got as far as training
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        assert "Traceback" not in err.getvalue()
        assert code == 2, (argv, err.getvalue())
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, lines)
        assert any(word in lines[0] for word in named(argv)), (argv, lines[0])
        written = {p for p in Path(tmp).rglob("*")} - before
        assert not {p for p in written if "data-root" not in str(p)}, (argv, written)

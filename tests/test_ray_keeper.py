"""The Ray sweep's run keeper (course/sweep/ray_runs.py), without Ray: the one writer of --logdir.

A retried attempt takes over a run, and whatever an older attempt still sends is refused and
writes nothing; a stored snapshot leaves the run folder holding exactly its files, with
``result.json`` written last, as a local run writes it.
"""
import os
from pathlib import Path

from course.sweep import ray_runs
from course.sweep.ray_runs import RunKeeper, pack


def write(folder: Path, files: dict) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def contents(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_older_attempt_is_refused_and_writes_nothing(tmp_path):
    keeper = RunKeeper(str(tmp_path / "sweep"))
    run_dir = write(tmp_path / "sweep" / "sgd-lr0.1-seed0", {"config.json": "{}"})
    first, _, _ = keeper.begin(run_dir.name)
    second, snapshot, _ = keeper.begin(run_dir.name)   # Ray retried the run
    assert (first, second) == (1, 2) and snapshot == pack(run_dir)

    stale = pack(write(tmp_path / "old", {"config.json": "{}", "metrics.json": "[1]"}))
    assert keeper.store(run_dir.name, first, stale, [{"event": "epoch"}]) is False
    assert keeper.post(run_dir.name, first, [{"event": "epoch"}]) is False
    assert contents(run_dir) == {"config.json": "{}"} and keeper.drain() == []

    fresh = pack(write(tmp_path / "new", {"config.json": "{}", "metrics.json": "[2]"}))
    assert keeper.store(run_dir.name, second, fresh, [{"event": "epoch"}]) is True
    assert contents(run_dir) == {"config.json": "{}", "metrics.json": "[2]"}
    assert keeper.drain() == [{"event": "epoch"}] and keeper.drain() == []


def test_a_snapshot_replaces_the_folder_with_result_json_last(tmp_path, monkeypatch):
    run_dir = write(tmp_path / "run", {"config.json": "{}", "vdl/vdlrecords.1.log": "old record",
                                       "metrics.json": "[1]"})
    snapshot = pack(write(tmp_path / "snap", {"config.json": "{}", "vdl/vdlrecords.2.log": "new",
                                              "metrics.json": "[1, 2]", "last.pdckpt": "ckpt",
                                              "result.json": "{}", ".hidden.tmp": "x"}))
    moved = []
    real_replace = os.replace
    monkeypatch.setattr(ray_runs.os, "replace", lambda a, b: moved.append(Path(b).name) or real_replace(a, b))
    ray_runs.mirror(snapshot, run_dir)
    # The record a resumed run rewrote is gone, hidden entries never travel, nothing is left staged.
    assert contents(run_dir) == {"config.json": "{}", "last.pdckpt": "ckpt", "metrics.json": "[1, 2]",
                                 "result.json": "{}", "vdl/vdlrecords.2.log": "new"}
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]
    assert moved[-2:] == ["last.pdckpt", "result.json"]   # the checkpoint, then the run marked done

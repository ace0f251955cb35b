"""What runs inside a Ray cluster for a ``--backend ray`` sweep: the run task and the run keeper.

No file system is shared: a run's directory travels as tar bytes through Ray's object store.

- ``RunKeeper`` is an actor the driver pins to its own node, the one machine that has
  ``--logdir``; it is the only writer of the sweep's run directories while the sweep runs.
  ``begin(run)`` hands a starting attempt of a run everything its directory holds (config, the
  resume checkpoint ``last.pdckpt``, metrics, train.log) and the sweep's ``sweep.json`` and run
  names beside it (VisualDL's run names depend on them), and ``store`` mirrors a run's directory
  back into ``--logdir``, file by file with atomic renames, ``last.pdckpt`` after the metrics and
  ``result.json`` last, as a local run writes them.
- ``train_run`` is the task, one per run, on whichever node Ray schedules it: it fetches the run's
  directory from the keeper, unpacks it into a scratch folder, trains there with the same
  ``train_logged`` a local sweep uses (so an unfinished run continues from its checkpoint, and a
  finished one is not trained again), and after every epoch sends the whole folder back; the
  keeper has it on disk before the epoch is shown and before training goes on.

A worker process or a node lost mid-run makes Ray run the task again (``max_retries``). The new
attempt starts from what the keeper last stored: the run's last completed epoch. Each attempt
gets a number from ``begin``, and the keeper refuses what an older attempt still sends (a node
cut off by the network, say, that trains on), so every epoch is written by one attempt only.

Only the standard library is imported at module level: this module is imported where Ray is not
installed too (the tests of the layout), and Ray itself is imported by the driver.
"""
from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from course.sweep.outcomes import FAILED, USER_ERROR

DONE = "done"
INCOMING = ".ray-incoming"   # inside a run directory: a stored snapshot before its files move in
LAST_FILES = ("last.pdckpt", "result.json")   # written last, in this order, as a local run does


def pack(directory) -> bytes:
    """The files of ``directory`` as uncompressed tar bytes (checkpoints barely compress);
    hidden entries (temporary files, ``INCOMING``) are left out."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(_files(Path(directory))):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, directory) -> None:
    """Extract ``pack``'s bytes into ``directory`` (only plain files, only inside it)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(directory, filter="data")


def _files(directory: Path):
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path


class RunKeeper:
    """The driver-side end of a Ray sweep: a run directory's files out, and its snapshots in.

    Why an actor on the driver's node rather than the driver itself: a retried attempt must find
    the run's latest checkpoint without the driver's help, and the driver is busy waiting for
    tasks. Its calls run one at a time, so two snapshots of one run never interleave.

    Args:
        root: the sweep's folder under ``--logdir`` on the driver's machine (absolute).
    """

    def __init__(self, root: str):
        self.root = Path(root)
        self.attempts: dict[str, int] = {}
        self.events: list[dict] = []
        for stale in self.root.glob(f"*/{INCOMING}"):   # left by a sweep stopped while storing
            shutil.rmtree(stale, ignore_errors=True)

    def begin(self, run: str) -> tuple[int, bytes, dict]:
        """Start a new attempt of ``run``: its number, the run directory's files now, and what a
        run reads beside its folder (``sweep.json`` and the other runs' names: they choose the
        name VisualDL shows, ``course.engine.vdl.run_display_name``)."""
        self.attempts[run] = self.attempts.get(run, 0) + 1
        run_dir = self.root / run
        sweep_file = self.root / "sweep.json"
        siblings = {"sweep.json": sweep_file.read_text(encoding="utf-8") if sweep_file.is_file() else None,
                    "runs": sorted(p.name for p in self.root.iterdir() if p.is_dir())}
        return self.attempts[run], pack(run_dir) if run_dir.is_dir() else b"", siblings

    def store(self, run: str, attempt: int, snapshot: bytes, events=()) -> bool:
        """Mirror ``snapshot`` into the run's directory, then queue ``events`` for the console.
        False (nothing written) when ``attempt`` is not the run's latest."""
        if self.attempts.get(run) != attempt:
            return False
        mirror(snapshot, self.root / run)
        self.events.extend(events)
        return True

    def post(self, run: str, attempt: int, events) -> bool:
        """Queue ``events`` of the run's latest attempt for the console (False: an older one)."""
        if self.attempts.get(run) != attempt:
            return False
        self.events.extend(events)
        return True

    def drain(self) -> list[dict]:
        """The events queued since the last call, oldest first."""
        events, self.events = self.events, []
        return events


def mirror(snapshot: bytes, run_dir: Path) -> None:
    """Make ``run_dir`` hold exactly the files of ``snapshot``, each replaced atomically.

    A sweep killed in the middle leaves whole files of two consecutive snapshots at worst, the
    state a local run killed between two of its own writes leaves; ``result.json`` comes last,
    so a run is marked done only when everything else is there.
    """
    staging = run_dir / INCOMING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    unpack(snapshot, staging)
    incoming = {path.relative_to(staging) for path in _files(staging)}
    # What the run no longer has goes first: the VisualDL record a resumed run rewrote, say.
    for path in list(_files(run_dir)):
        if path.relative_to(run_dir) not in incoming:
            path.unlink()
    for rel in sorted(incoming, key=lambda rel: _rank(str(rel))):
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, run_dir / rel)
    shutil.rmtree(staging, ignore_errors=True)


def _rank(name: str) -> int:
    return LAST_FILES.index(name) + 1 if name in LAST_FILES else 0


class Superseded(Exception):
    """A newer attempt of this run has started: this one stops and writes nothing more."""


def _this_node() -> str:
    """'IP NODEID8': the address Ray registered this node under, as `ray status` lists it."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    ip = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id), "?")
    return f"{ip} {node_id[:8]}"


def _lay_out(workdir: Path, run: str, siblings: dict, snapshot) -> None:
    """Make ``workdir`` look like the run's --logdir: the other runs' folders and sweep.json (what
    it reads beside its own folder), and the run's own files from its last stored epoch."""
    for name in [*siblings["runs"], run]:
        (workdir / name).mkdir(exist_ok=True)
    if siblings["sweep.json"] is not None:
        (workdir / "sweep.json").write_text(siblings["sweep.json"], encoding="utf-8")
    if snapshot:
        unpack(snapshot, workdir / run)


def train_run(config_dict: dict, keeper, threads: int) -> tuple[str, str, str]:
    """The Ray task of one run: train it from its last stored epoch; (status, message, node).

    ``status`` is DONE, USER_ERROR (a mistake every run would make: the sweep stops) or FAILED
    (this run's bug, its traceback in its train.log). A lost worker or node is not returned but
    retried by Ray, and the retry resumes from the keeper's copy.
    """
    import ray

    import course  # noqa: F401  (quiets Paddle's import warning)

    from course.engine.config import RunConfig
    from course.engine.device import set_cpu_threads
    from course.engine.errors import USER_ERRORS
    from course.sweep.workers import train_logged

    # The same thread count as a local worker's: CPU runs of one seed then give the same numbers.
    set_cpu_threads(threads)
    config = RunConfig.from_dict(config_dict)
    run = config.run_name()
    attempt, snapshot, siblings = ray.get(keeper.begin.remote(run))
    node = _this_node()
    workdir = Path(tempfile.mkdtemp(prefix="sweep-"))
    scratch = workdir / run   # named as in --logdir, beside what it is beside there
    done_event = []

    def send(events=(), files=True) -> None:
        call = keeper.store.remote(run, attempt, pack(scratch), list(events)) if files else \
            keeper.post.remote(run, attempt, list(events))
        if not ray.get(call):
            raise Superseded(run)

    def report(event: dict) -> None:
        if event["event"] == "done":   # after train.log's last line: sent with the files below
            done_event.append(event)
        else:   # an epoch travels with its checkpoint: shown only once the driver has it
            send([event], files=event["event"] == "epoch")

    try:
        _lay_out(workdir, run, siblings, snapshot)
        with open(scratch / "train.log", "a", encoding="utf-8") as log:
            print(f"[{run}] ray: attempt {attempt} on node {node}", file=log)
        try:
            train_logged(config, scratch, report=report)
            status, message = DONE, ""
        except USER_ERRORS as err:
            status, message = USER_ERROR, str(err)
        except Superseded:
            return FAILED, "a newer attempt of this run took over", node
        except Exception as err:   # train_logged put its traceback in train.log, sent below
            status, message = FAILED, f"{type(err).__name__}: {err}"
        send(done_event)
        return status, message, node
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

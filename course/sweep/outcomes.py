"""What a sweep's runs ended as, one vocabulary and one handling for every backend.

A run trained by a local worker process (``course.sweep.workers``) or by a Ray task
(``course.sweep.ray_runs``) comes back as a status: done, ``USER_ERROR`` (a mistake every run
would make, such as a wrong path: the sweep stops with that one line) or ``FAILED`` (this run
broke: the others go on, the console says so, and the sweep ends with the list, so that the same
command trains the failed runs again). ``write_configs`` gives each run its folder and
``config.json`` before any backend starts it, which is what a worker or a task reads back.
"""
from __future__ import annotations

from pathlib import Path

from course.engine.errors import ConfigError, SweepError
from course.engine.files import atomic_write_json

USER_ERROR, FAILED = "user error", "failed"


def write_configs(todo) -> None:
    """Create each (config, run directory) of ``todo``'s folder with its config.json."""
    for config, run_dir in todo:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(run_dir) / "config.json", config.to_dict())


class Outcomes:
    """The runs a sweep saw fail; ``report`` is the console's (a failure is shown as it happens)."""

    def __init__(self, report):
        self.report = report
        self.failures: list[str] = []

    def add(self, run_dir, status: str, message: str) -> None:
        """Take one finished run's status: a user error stops the sweep, a failure is listed."""
        name = Path(run_dir).name
        if status == USER_ERROR:   # the same for every run: stop the sweep
            raise ConfigError(message)
        if status == FAILED:
            self.failures.append(f"{name}: {message} (see {Path(run_dir) / 'train.log'})")
            self.report({"event": "failed", "run": name, "message": message})

    def raise_if_any_failed(self) -> None:
        """SweepError listing the failed runs, if there were any."""
        if self.failures:
            raise SweepError(f"{len(self.failures)} run(s) failed; run the same command again to "
                             "retry them:\n" + "\n".join(self.failures))

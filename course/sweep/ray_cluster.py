"""``--backend ray``: a sweep's runs as Ray tasks, spread over the machines of a Ray cluster.

``--jobs`` stops at one machine's processes; a lab with a few GPU boxes or a cloud cluster runs
Ray already (Ray Tune sweeps), so the sweep drives Ray itself: each unfinished run of the grid is
one task asking for ``--cpus-per-run`` CPUs and ``--gpus-per-run`` GPUs (0.5: two runs share a
GPU), and Ray places the tasks on the cluster. Without ``--address`` a local Ray instance is
started, so a laptop takes the same path. Everything else is the local sweep's: ``run_sweep``
decides which runs are done (their ``result.json``), checks the run identity, shows the console
and writes the report at the end.

What travels where (no file system needs to be shared):

- the code: ``course``, ``data`` and ``models`` go to every node with the job (Ray's
  ``py_modules``); Paddle and the rest of requirements.txt must be installed on the nodes. The
  data set is read on each node (MNIST from its own cache, fetched once; a ``folder:`` or
  ``mnist:PATH`` data set at the same path on every node);
- a run's files: the driver writes the run's ``config.json``; the task fetches the run's folder
  (with its resume checkpoint, if any) from the run keeper, trains in a scratch folder on its node,
  and sends the whole folder back after every epoch and at the end, through the object store
  (``course.sweep.ray_runs``). The keeper, an actor pinned to the driver's node, writes it into
  ``--logdir`` atomically, ``result.json`` last;
- the console: the runs' events (start, epoch, early stop, done) come back with their files
  and are shown as a local sweep shows them.

A worker process or a node lost mid-run: Ray runs the task again (``RETRIES`` times), and the new
attempt resumes from the last epoch the keeper stored. Ctrl-C on the driver cancels every task
(the running ones are killed) and stops the keeper: ``--logdir`` then holds what a local sweep
stopped with Ctrl-C holds, each unfinished run at its last completed epoch, and the same command
continues it. Killing the driver ends the Ray job, which takes its tasks with it.
"""
from __future__ import annotations

import math
import os
import socket
from pathlib import Path

from course.engine.errors import ConfigError
from course.sweep.outcomes import FAILED, Outcomes, write_configs
from course.sweep.ray_runs import RunKeeper, train_run

INSTALL = "pip install -r requirements-ray.txt"
RETRIES = 3        # attempts after the first when a run's worker process or node is lost
POLL_SECONDS = 0.25   # how often the driver collects the runs' events while it waits
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def ray_cluster(backend: str = "local", address: str = "", cpus_per_run: int = 1,
                gpus_per_run: float = 0.0):
    """The RayCluster a sweep's runs go to, or None for a local sweep.

    Checks the flags (and that Ray is installed) without connecting, so a mistake is one line
    before anything starts: ``--backend``, ``--address`` (HOST:PORT, or 'auto' for the instance
    ``ray start`` started on this machine), ``--cpus-per-run``, ``--gpus-per-run``.
    """
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: unknown backend {backend!r}; choose local or ray")
    # The flags first: a mistake in them is reported where Ray is not installed too, and under
    # --backend local as well (a value that would be wrong with Ray is a typo here too).
    if cpus_per_run < 1:
        raise ConfigError(f"--cpus-per-run: must be >= 1, got {cpus_per_run}")
    if not (math.isfinite(gpus_per_run) and gpus_per_run >= 0):
        raise ConfigError(f"--gpus-per-run: must be >= 0 (0.5: two runs share a GPU), got {gpus_per_run}")
    if backend == "local":
        if address:
            raise ConfigError("--address: only with --backend ray")
        return None
    if address and address != "auto":
        _host_and_port(address)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError(f"--backend ray: Ray is not installed; install it with: {INSTALL}") from None
    return RayCluster(address, cpus_per_run, gpus_per_run)


def _host_and_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--address: expected the Ray head as HOST:PORT (e.g. 10.0.0.1:6379), got "
                          f"{address!r}")
    return host.strip("[]"), int(port)


class RayCluster:
    """A sweep's connection to Ray: ``connect``, then ``train`` the runs, then ``disconnect``.

    Args:
        address: the head's HOST:PORT, 'auto', or '' to start a local Ray instance.
        cpus_per_run: CPUs a run asks for; also its thread count, as a local worker's.
        gpus_per_run: GPUs a run asks for (a fraction shares one).
    """

    def __init__(self, address: str = "", cpus_per_run: int = 1, gpus_per_run: float = 0.0):
        self.address, self.cpus_per_run, self.gpus_per_run = address, cpus_per_run, gpus_per_run
        self.connected = False
        self.nodes: set[str] = set()   # where the runs trained ('IP node-id'), for the last line

    def connect(self) -> int:
        """Join the cluster (or start a local instance); return how many runs fit at once."""
        import logging

        import ray

        import course
        import data
        import models

        options = {}
        if self.address:
            host, port = _host_and_port(self.address) if self.address != "auto" else ("", 0)
            if host:
                try:   # a wrong address would otherwise keep Ray retrying for minutes
                    socket.create_connection((host, port), timeout=5).close()
                except OSError as err:
                    raise ConfigError(f"--address: no Ray head answers at {self.address} "
                                      f"({err.strerror or err}); start one with `ray start --head`, "
                                      "or leave --address out for a local Ray instance") from None
            if host in LOOPBACK:
                # Ray replaces a loopback address by this machine's outward one unless told that
                # the cluster lives on this machine (a head started with --node-ip-address 127.0.0.1).
                os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        else:   # a local instance: bound to this machine only, and no usage report home
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            options.update(include_dashboard=False, _node_ip_address="127.0.0.1")
        code = {"py_modules": [course, data, models], "excludes": ["*.ipynb", "__pycache__"]}
        try:
            ray.init(address=self.address or "local", runtime_env=code, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=True, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            # `ray start --head` (2.60) turns token authentication on, but a client joins with it
            # only when told: the commonest reason a head that answers refuses this driver.
            hint = ("" if os.environ.get("RAY_AUTH_MODE") == "token" else
                    "; a head started with `ray start --head` wants RAY_AUTH_MODE=token and its token "
                    "(~/.ray/auth_token or RAY_AUTH_TOKEN) here too")
            raise ConfigError(f"--address: cannot join the Ray cluster at {self.address or 'local'}: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else err}"
                              f"{hint if self.address else ''}") from None
        self.connected = True
        resources = ray.cluster_resources()
        fits = resources.get("CPU", 0) // self.cpus_per_run
        if self.gpus_per_run:
            fits = min(fits, resources.get("GPU", 0) // self.gpus_per_run)
        if fits < 1:
            self.disconnect()
            raise ConfigError(f"--cpus-per-run/--gpus-per-run: the Ray cluster has {resources.get('CPU', 0):g} "
                              f"CPU(s) and {resources.get('GPU', 0):g} GPU(s), too few for one run")
        return int(fits)

    def train(self, todo, console) -> None:
        """Train every (config, run directory) of ``todo`` as a Ray task; their events go to
        ``console.report``. Raises ConfigError for a user error, SweepError if runs failed."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        root = Path(todo[0][1]).parent.resolve()
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        keeper = ray.remote(RunKeeper).options(num_cpus=0, scheduling_strategy=here).remote(str(root))
        task = ray.remote(train_run).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                                             max_retries=RETRIES, retry_exceptions=False)
        write_configs(todo)
        pending = {task.remote(config.to_dict(), keeper, self.cpus_per_run): Path(run_dir)
                   for config, run_dir in todo}
        outcomes, finished = Outcomes(console.report), False
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
                for event in ray.get(keeper.drain.remote()):   # those of the ready ones included
                    console.report(event)
                for ref in ready:
                    run_dir = pending.pop(ref)
                    try:
                        status, message, node = ray.get(ref)
                        self.nodes.add(node)
                    except ray.exceptions.RayError as err:   # lost RETRIES + 1 times, or cancelled
                        status, message = FAILED, f"its Ray task failed ({type(err).__name__})"
                    outcomes.add(run_dir, status, message)
            finished = True
        finally:
            _stop(pending, keeper, cancel=not finished)
        if self.nodes and not outcomes.failures:
            console.say(f"ray: {len(todo)} run(s) trained on {len(self.nodes)} node(s): "
                        + ", ".join(sorted(self.nodes)))
        outcomes.raise_if_any_failed()

    def disconnect(self) -> None:
        """Leave the cluster (a local instance stops); the job's tasks and keeper end with it."""
        if self.connected:
            import ray

            ray.shutdown()
            self.connected = False


def _stop(pending: dict, keeper, cancel: bool) -> None:
    """Cancel the tasks still out (Ctrl-C, an error), let the keeper finish what it writes, stop it."""
    import ray

    if cancel:
        for ref in pending:
            ray.cancel(ref, force=True)   # a running run's worker is killed; no retry follows
    try:   # its calls run in order: once this one answers, no earlier store is half-written
        ray.get(keeper.drain.remote(), timeout=30)
    except ray.exceptions.RayError:
        pass
    ray.kill(keeper)

"""手写数字识别之资源配置: where training runs: the CPU, one GPU, or several processes at once.

The course's chapter moves the same training between devices with ``paddle.set_device('cpu')``
or ``paddle.set_device('gpu:0')``, then trains on several cards with data parallelism: every
process (one per card) holds the same model, trains on its share of each batch, and
``paddle.DataParallel`` averages the gradients across processes in ``loss.backward()``, so the
weights stay the same everywhere. Two ways start the processes:

- ``python -m paddle.distributed.launch --gpus 0,1 train.py`` (or ``--nproc_per_node 2`` on a
  CPU): the launcher runs the script once per process (scripts/train_distributed.py);
- ``paddle.distributed.spawn(train, nprocs=2)`` from inside one Python program: what this
  chapter does with ``--processes 2``.

This chapter prints what Paddle sees (its build, the GPUs, the device chosen), trains the course's
LeNet on that device, and with ``--processes N`` trains the same run data-parallel in N spawned
processes (CPU: the gloo backend), writing its run directory like any run (rank 0 writes).

examples:
  python scripts/ch5_devices.py                       # CPU, or gpu:0 when Paddle has one
  python scripts/ch5_devices.py --processes 2         # data parallel, 2 spawned processes
  python scripts/ch5_devices.py --device cpu --dry-run
"""
from __future__ import annotations

from pathlib import Path

from course.chapters.common import run_flags
from course.cli import CommandLine
from course.engine.config import RunConfig

SUBSET, EPOCHS = 10_000, 2


def device_report() -> list[str]:
    """What Paddle sees: its version and build, the GPUs, and the device 'auto' chooses."""
    import paddle

    from course.engine.device import gpu_count, resolve_device

    cuda = paddle.device.is_compiled_with_cuda()
    return [f"Paddle {paddle.__version__}, {'CUDA' if cuda else 'CPU-only'} build; "
            f"{gpu_count()} GPU(s) visible; --device auto chooses {resolve_device('auto')}"]


def _rank(config_dict: dict, run_dir: str) -> None:
    """One spawned process: the same run, this rank's share of every batch."""
    from course.engine.config import RunConfig as Config
    from course.tools.distributed import run_distributed

    run_distributed(Config.from_dict(config_dict), run_dir, progress=False)


def train(config: RunConfig, run_dir: Path, processes: int = 1, progress: bool = True) -> dict:
    """Train ``config`` in ``run_dir`` on one device, or data-parallel in ``processes`` processes."""
    from course.engine.experiment import run_experiment
    from course.engine.files import read_json

    if processes == 1:
        return run_experiment(config, run_dir, progress=progress)
    import paddle.distributed as dist

    dist.spawn(_rank, args=(config.to_dict(), str(run_dir)), nprocs=processes)
    return read_json(run_dir / "result.json")


def command_line() -> CommandLine:
    """The run's flags, then where and how."""
    cl = CommandLine(__doc__)
    group = cl.settings("the run", RunConfig, "dataset", "data_cache", "model", "optimizer", "lr",
                        "epochs", "batch_size", "subset", "val_subset", "device", "defaults", optimizer="adam",
                        lr=0.001, epochs=EPOCHS, subset=SUBSET)
    group.add_argument("--processes", type=int, default=1,
                       help="train data-parallel in this many processes (paddle.distributed.spawn)")
    run_flags(cl, "progress", "dry_run")
    return cl


def main(argv=None) -> int:
    """Show the devices, then train once on the chosen one (or in several processes)."""
    from course.engine.errors import ConfigError
    from course.engine.preflight import check_cores

    cl = command_line()
    args = cl.parse(argv)
    if args.processes < 1:
        raise ConfigError(f"--processes: must be >= 1, got {args.processes}")
    check_cores("--processes", args.processes)   # each process is a whole Paddle, in memory too
    config = cl.config(args)
    for line in device_report():
        print(line)
    run_dir = Path(args.logdir) / "ch5-devices" / f"{config.run_name()}-{args.processes}proc"
    result = train(config, run_dir, args.processes, args.progress)
    print(f"{args.processes} process(es) on {result['device']}: final val acc "
          f"{100 * result['final_val_acc']:.2f}%, {result['train_seconds']:.1f} s of training -> {run_dir}")
    return 0

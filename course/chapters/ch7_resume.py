"""手写数字识别之恢复训练: save every epoch, stop, and continue exactly where training stopped.

The course's chapter trains with Momentum and a learning rate that decays polynomially from 0.01
to 0.001 (``PolynomialDecay``), saves ``model.state_dict()`` as ``.pdparams`` and
``optimizer.state_dict()`` as ``.pdopt`` after every epoch, and then starts a new process that
loads an epoch's two files and trains on: the loss must continue exactly as if training had never
stopped. Three things have to come back for that: the weights, the optimizer's state (Momentum's
velocity, and the schedule's position, which Paddle keeps in the optimizer's state dict), and the
randomness (here: a seed per epoch for the data order).

This chapter does it in the open, the course's way: ``train(...)`` below is the whole loop; it
trains 3 epochs saving each one, then trains again from the files of epoch 1 and prints both
runs' per-epoch losses, which must be equal to the last digit on a CPU. (Every run of this
project's engine resumes the same way, with all of it in one file, last.pdckpt.)

examples:
  python scripts/ch7_resume.py
  python scripts/ch7_resume.py --epochs 4 --resume-from 2
  python scripts/ch7_resume.py --dry-run
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from course.chapters.common import run_flags
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.engine.errors import ConfigError

EPOCHS, SUBSET, START_LR, END_LR = 3, 5_000, 0.01, 0.001


def make_training(seed: int, steps: int):
    """The course's LeNet, Momentum and PolynomialDecay(0.01 -> 0.001 over ``steps`` batches), and
    the name generator its parameters and optimizer state are named by."""
    import paddle
    from paddle.utils import unique_name

    from course.engine.names import new_names
    from models import build_model

    paddle.seed(seed)
    # Paddle names parameters as it creates them (conv2d_0.w_0, then conv2d_2.w_0 for a second
    # model in the same process), and the .pdopt file is keyed by those names. A new process
    # starts counting again; in this one, a fresh name generator gives the second model the
    # first one's names. The optimizer names its state (conv2d_0.w_0_velocity_0) at its first
    # step, so the steps run under the same generator (``names``).
    names = new_names()
    with unique_name.guard(names):
        model = build_model("lenet")
    schedule = paddle.optimizer.lr.PolynomialDecay(START_LR, decay_steps=steps, end_lr=END_LR)
    optimizer = paddle.optimizer.Momentum(learning_rate=schedule, momentum=0.9,
                                          parameters=model.parameters())
    return model, optimizer, schedule, names


def batches(images, labels, batch_size: int, epoch: int, seed: int):
    """One epoch's shuffled batches; the order depends only on (seed, epoch), so a resumed run
    sees the same batches as the one that never stopped."""
    order = np.random.default_rng(seed * 1000 + epoch).permutation(len(images))
    for start in range(0, len(images), batch_size):
        pick = np.sort(order[start:start + batch_size])
        yield images[pick].reshape(-1, 1, 28, 28), labels[pick]


def train(model, optimizer, schedule, names, data, epochs, folder: Path, seed: int, batch_size: int,
          start: int = 0) -> list[float]:
    """Train epochs ``start`` .. ``epochs - 1``; save epoch{n}.pdparams/.pdopt after each; return the
    mean loss of each epoch trained."""
    import paddle
    import paddle.nn.functional as F
    from paddle.utils import unique_name

    losses = []
    for epoch in range(start, epochs):
        model.train()
        total, count = 0.0, 0
        for images, labels in batches(*data, batch_size, epoch, seed):
            loss = F.cross_entropy(model(paddle.to_tensor(images)), paddle.to_tensor(labels).reshape([-1, 1]))
            loss.backward()
            with unique_name.guard(names):
                optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            total, count = total + float(loss) * len(labels), count + len(labels)
        losses.append(total / count)
        paddle.save(model.state_dict(), str(folder / f"epoch{epoch + 1}.pdparams"))
        paddle.save(optimizer.state_dict(), str(folder / f"epoch{epoch + 1}.pdopt"))
    return losses


def resumed(data, epochs: int, resume_from: int, folder: Path, seed: int, batch_size: int) -> list[float]:
    """A fresh model and optimizer, loaded from epoch ``resume_from``'s files, trained to the end."""
    import paddle

    steps = epochs * -(-len(data[0]) // batch_size)
    model, optimizer, schedule, names = make_training(seed + 1, steps)   # another seed: the files must win
    model.set_state_dict(paddle.load(str(folder / f"epoch{resume_from}.pdparams")))
    optimizer.set_state_dict(paddle.load(str(folder / f"epoch{resume_from}.pdopt")))
    return train(model, optimizer, schedule, names, data, epochs, folder / "resumed", seed, batch_size,
                 start=resume_from)


def command_line() -> CommandLine:
    """The chapter's settings as flags, then where and how."""
    cl = CommandLine(__doc__)
    group = cl.settings("the chapter's settings", RunConfig, "dataset", "data_cache", "epochs",
                        "batch_size", "subset", "seed", epochs=EPOCHS, subset=SUBSET)
    group.add_argument("--resume-from", type=int, default=1, help="the saved epoch the second run starts from")
    run_flags(cl, "dry_run")
    return cl


def main(argv=None) -> int:
    """Train with a save every epoch, resume from one epoch's files, and compare the losses."""
    from course.engine.data import load_dataset

    cl = command_line()
    args = cl.parse(argv, dry_run={"epochs": 2})   # a resume needs an epoch before and after it
    config = cl.config(args)
    if not 1 <= args.resume_from < config.epochs:
        raise ConfigError(f"--resume-from: must be an epoch in 1..{config.epochs - 1}, got {args.resume_from}")
    loader = load_dataset(config, progress=False).train
    data = (loader.images, loader.labels)
    folder = Path(args.logdir) / "ch7-resume"
    (folder / "resumed").mkdir(parents=True, exist_ok=True)
    steps = config.epochs * -(-len(data[0]) // config.batch_size)
    whole = train(*make_training(config.seed, steps), data, config.epochs, folder, config.seed, config.batch_size)
    again = resumed(data, config.epochs, args.resume_from, folder, config.seed, config.batch_size)
    print("epoch  uninterrupted   resumed from epoch", args.resume_from)
    for epoch, loss in enumerate(whole, start=1):
        other = again[epoch - args.resume_from - 1] if epoch > args.resume_from else None
        print(f"{epoch:>5}  {loss:.10f}    {'' if other is None else f'{other:.10f}'}")
    same = whole[args.resume_from:] == again
    print(f"the resumed losses {'equal' if same else 'DIFFER FROM'} the uninterrupted ones "
          f"({'bit for bit' if same else 'see above'}); files in {folder}")
    return 0 if same else 1

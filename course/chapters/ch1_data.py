"""手写数字识别之数据处理: read, check, shuffle and batch the course's mnist.json.gz.

The course's chapter builds ``load_data(mode)``: it reads ``mnist.json.gz`` (three splits of
[images, labels]), shuffles the training split at every epoch, cuts it into batches, and checks
the data twice: 机器校验 (asserts that images and labels agree) and 人工校验 (print shapes, look
at a few digits). It then loads the same data asynchronously with ``paddle.io.DataLoader``
(a Dataset, worker processes that prepare the next batches while the model trains).

This chapter runs all of it on the project's loader (``data.mnist.load_data``, the course's API
over the cached data): it asserts what the course asserts, prints one batch's shapes, writes a
figure of a batch of 16 training digits with their labels (digits.png in --logdir/ch1-data), and
times one pass over the batches with the generator and with a DataLoader of N workers.

examples:
  python scripts/ch1_data.py
  python scripts/ch1_data.py --dataset mnist:./work/mnist.json.gz     # AI Studio's file
  python scripts/ch1_data.py --num-workers 2 --dry-run
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from course.chapters.common import run_flags
from course.cli import CommandLine
from course.engine.config import RunConfig
from course.engine.figures import label, plt, save_figure, style

BATCH_SIZE = 100          # the course's BATCHSIZE
DRY_RUN_BATCHES = 20


def check_batches(loader, batch_size: int, limit=None) -> dict:
    """机器校验 over the batches of ``loader()``: shapes, dtypes, value ranges, labels 0..9.

    Returns what a learner prints for 人工校验: the first batch's shapes and the counts seen.
    """
    seen, first = 0, None
    for i, (images, labels) in enumerate(loader()):
        if limit is not None and i >= limit:
            break
        assert images.shape[1:] == (1, 28, 28) and images.dtype == np.float32, images.shape
        assert len(images) == len(labels) <= batch_size, (len(images), len(labels))
        assert 0.0 <= images.min() and images.max() <= 1.0 and set(np.unique(labels)) <= set(range(10))
        first = first or {"images": list(images.shape), "labels": list(labels.shape)}
        seen += len(images)
    return {"first_batch": first, "images_seen": seen}


def plot_digits(images, labels, path) -> Path:
    """人工校验: 16 digits with their labels, as a PNG."""
    with style():
        fig, axes = plt.subplots(2, 8, figsize=(10, 3))
        for ax, image, digit in zip(axes.flat, images, labels):
            ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray")
            ax.set_title(str(int(np.asarray(digit).ravel()[0])))
            ax.axis("off")
        fig.suptitle(label("一批训练图片和它们的标签", "a batch of training digits and their labels"))
        save_figure(fig, path)
    return Path(path)


def time_pass(batches, limit=None) -> float:
    """Seconds for one pass over ``batches`` (at most ``limit`` of them), touching each batch."""
    start = time.perf_counter()
    for i, (images, _) in enumerate(batches):
        if limit is not None and i >= limit:
            break
        np.asarray(images).sum()
    return time.perf_counter() - start


def command_line() -> CommandLine:
    """The data flags, then where and how."""
    cl = CommandLine(__doc__)
    cl.settings("the data", RunConfig, "dataset", "data_cache", "batch_size", "num_workers",
                batch_size=BATCH_SIZE, num_workers=2)
    run_flags(cl, "dry_run")
    return cl


def main(argv=None) -> int:
    """Load, check, show and time the course's data."""
    import paddle

    from data.mnist import MnistDataset, load_data

    cl = command_line()
    args = cl.parse(argv)
    config = cl.config(args)          # checks the flags
    path = config.dataset.partition(":")[2] or None
    limit = DRY_RUN_BATCHES if args.dry_run else None
    train = load_data("train", batch_size=config.batch_size, path=path, cache_dir=config.data_cache or None,
                      seed=0)
    checked = check_batches(train, config.batch_size, limit)
    print(f"机器校验 passed on {checked['images_seen']:,} training images; 人工校验: first batch "
          f"images {checked['first_batch']['images']}, labels {checked['first_batch']['labels']}")
    images, labels = next(iter(load_data("train", batch_size=16, path=path,
                                         cache_dir=config.data_cache or None, seed=0)()))
    figure = plot_digits(images, labels, Path(args.logdir) / "ch1-data" / "digits.png")
    generator = time_pass(train(), limit)
    dataset = MnistDataset("train", path=path, cache_dir=config.data_cache or None)
    loader = paddle.io.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                  num_workers=config.num_workers)
    workers = time_pass(loader, limit)
    print(f"one pass: load_data generator {generator:.2f} s; paddle.io.DataLoader with "
          f"{config.num_workers} worker(s) {workers:.2f} s")
    print(f"figure: {figure}")
    return 0

"""The five training loops the benchmark compares, each one epoch of LeNet + SGD at batch 64.

- ``ours``: ``course.engine.trainer.Trainer.train_epoch`` over ``data.batches.ArrayLoader``, exactly
  what every sweep run does (numpy batches -> ``paddle.to_tensor`` -> step, plus its loss and
  accuracy bookkeeping).
- ``ceiling``: the same model and optimizer on batches that are already paddle tensors; the loop
  does only forward, loss, backward, step, clear_grad. No loop can be faster than this one.
- ``paddle_conv``: ours with ``--no-fast-kernels``: LeNet on Paddle's own kernels instead of
  ``course.speed``'s oneDNN ones: what that package saves.
- ``hapi``: ``paddle.Model.fit`` on a ``paddle.io.Dataset`` over the same arrays (per-sample
  ``__getitem__`` + collate in ``DataLoader``, a metric and callbacks every step).
- ``course``: the course's own ``load_data`` generator (【手写数字识别】之优化算法, article 002)
  feeding ``Trainer.train_epoch``. ``data.mnist.load_data`` is *not* that generator (it slices
  whole batches out of numpy arrays), so the course's per-sample version is copied here: it
  reads Python lists as ``json.load`` returns them and reshapes one image at a time.

Each ``make_*`` function returns ``epoch()``, which trains one pass over the images it was given
and keeps training the same model on later calls (state carries over, as in real training).
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import paddle
import paddle.nn.functional as F

from bench.common import train_on_batches
from course.engine.config import RunConfig
from data.batches import ArrayLoader
from course.engine.experiment import build_training

# hapi passes the DataLoader's tensors through paddle.to_tensor again and Paddle warns each step.
warnings.filterwarnings("ignore", message="To copy construct from a tensor")

BATCH_SIZE = 64
IMAGE_SHAPE = (1, 28, 28)
LOOPS = ("ours", "ceiling", "paddle_conv", "hapi", "course")
LABELS = {
    "ours": "Trainer.train_epoch + ArrayLoader",
    "ceiling": "preloaded tensors (ceiling)",
    "paddle_conv": "ours with paddle.nn.Conv2D's forward",
    "hapi": "paddle.Model.fit (hapi)",
    "course": "course per-sample generator",
}


def fresh_trainer(seed: int = 0, fast_kernels: bool = True):
    """LeNet + SGD(lr 0.01), built the way a sweep run builds it (same seed: same weights)."""
    config = RunConfig(model="lenet", optimizer="sgd", lr=0.01, batch_size=BATCH_SIZE, seed=seed,
                       fast_kernels=fast_kernels)
    return build_training(config, num_classes=10, input_shape=IMAGE_SHAPE, steps_per_epoch=1,
                          progress=False)


def make_ours(images, labels, seed=0):
    trainer = fresh_trainer(seed)
    loader = ArrayLoader(images, labels, BATCH_SIZE, shuffle=True, seed=seed)
    return lambda: trainer.train_epoch(loader)


def make_ceiling(images, labels, seed=0):
    trainer = fresh_trainer(seed)
    model, optimizer = trainer.model, trainer.optimizer
    # One epoch's batches, in the order ours would see them, converted before any timing.
    batches = [(paddle.to_tensor(x), paddle.to_tensor(y.reshape(-1, 1)))
               for x, y in ArrayLoader(images, labels, BATCH_SIZE, shuffle=True, seed=seed)]

    return lambda: train_on_batches(model, optimizer, batches, F.cross_entropy)


def make_paddle_conv(images, labels, seed=0):
    """Ours on Paddle's own kernels (``--no-fast-kernels``): what course.speed saves. Same
    parameters; the same numbers within float32 rounding."""
    trainer = fresh_trainer(seed, fast_kernels=False)
    loader = ArrayLoader(images, labels, BATCH_SIZE, shuffle=True, seed=seed)
    return lambda: trainer.train_epoch(loader)


class ArrayDataset(paddle.io.Dataset):
    """One (image [1, 28, 28] float32, label [1] int64) per index: what hapi's DataLoader wants."""

    def __init__(self, images, labels):
        super().__init__()
        self.images = np.asarray(images, dtype="float32").reshape((-1, *IMAGE_SHAPE))
        self.labels = np.asarray(labels, dtype="int64").reshape(-1, 1)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __len__(self):
        return len(self.images)


def make_hapi(images, labels, seed=0):
    trainer = fresh_trainer(seed)
    model = paddle.Model(trainer.model)
    # Accuracy too: our loop counts correct answers every step, so hapi does the same work.
    model.prepare(trainer.optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    dataset = ArrayDataset(images, labels)
    return lambda: model.fit(dataset, batch_size=BATCH_SIZE, epochs=1, shuffle=True, verbose=0,
                             num_workers=0)


class CourseGenerator:
    """The course's ``data_generator`` (article 002, ``load_data``), batch size as a parameter.

    ``imgs``/``labels`` are Python lists, as ``json.load(gzip.open('mnist.json.gz'))`` gives
    them. ``len()`` is only there because ``Trainer.train_epoch`` sizes its progress bar.
    """

    def __init__(self, imgs, labels, batch_size, seed=0):
        self.imgs, self.labels, self.batch_size = imgs, labels, batch_size
        self.index_list = list(range(len(imgs)))
        self.random = random.Random(seed)

    def __len__(self):
        return -(-len(self.imgs) // self.batch_size)

    def __iter__(self):
        imgs, labels = self.imgs, self.labels
        self.random.shuffle(self.index_list)
        imgs_list, labels_list = [], []
        for i in self.index_list:
            img = np.reshape(imgs[i], [1, 28, 28]).astype("float32")
            label = np.reshape(labels[i], [1]).astype("int64")
            imgs_list.append(img)
            labels_list.append(label)
            if len(imgs_list) == self.batch_size:
                yield np.array(imgs_list), np.array(labels_list)
                imgs_list, labels_list = [], []
        if imgs_list:
            yield np.array(imgs_list), np.array(labels_list)


def make_course(images, labels, seed=0):
    trainer = fresh_trainer(seed)
    # Python lists of floats / ints: the form the course's generator reads them in.
    generator = CourseGenerator(np.asarray(images).tolist(), np.asarray(labels).tolist(),
                                BATCH_SIZE, seed)
    return lambda: trainer.train_epoch(generator)


MAKERS = {"ours": make_ours, "ceiling": make_ceiling, "paddle_conv": make_paddle_conv, "hapi": make_hapi,
          "course": make_course}

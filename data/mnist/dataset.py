"""MNIST as a ``paddle.io.Dataset``, for code written the paddle.io.DataLoader way.

The course's later chapters (and Paddle's own ``paddle.vision.datasets.MNIST``) feed models
through ``paddle.io.DataLoader``; this Dataset gives the same examples as ``load_data``:
an image float32 of ``images_shape`` (default [1, 28, 28]) and a label int64 of shape [1],
so a batch of labels is [B, 1] as ``paddle.nn.functional.cross_entropy`` expects.
"""
import numpy as np
import paddle

from data.errors import DataError
from data.mnist.load import load_mnist
from data.mnist.splits import IMAGE_SIZE, split_field


class MnistDataset(paddle.io.Dataset):
    """One MNIST split (train / val / test; the course: train / valid / eval) as a Dataset.

    Example:
        >>> train = MnistDataset("train").subset(5000, seed=0)
        >>> loader = paddle.io.DataLoader(train, batch_size=64, shuffle=True)

    Args:
        split: 'train', 'valid' / 'val' or 'eval' / 'test'; kept as the engine's name
            (``.split`` of ``MnistDataset("valid")`` is 'val').
        images_shape: shape of one image, e.g. (1, 28, 28) for CNNs or (784,) for MLPs;
            must hold 784 values.
        path: a course-format mnist.json.gz (or fixture .npz); None = real MNIST from the cache.
        cache_dir: cache directory (see ``data.mnist.load_mnist``).
        splits: already loaded ``MnistSplits`` (skips loading; used by tests and sweeps).
        limit: keep only the first ``limit`` examples.
    """

    def __init__(self, split="train", images_shape=(1, 28, 28), *, path=None, cache_dir=None,
                 splits=None, limit=None):
        super().__init__()
        split = split_field(split, "MnistDataset: unknown split")
        images_shape = tuple(int(d) for d in images_shape)
        if int(np.prod(images_shape)) != IMAGE_SIZE or min(images_shape) < 1:
            raise DataError(f"MnistDataset: images_shape {list(images_shape)} must hold "
                            f"{IMAGE_SIZE} values, e.g. (1, 28, 28) or (784,)")
        if splits is None:
            splits = load_mnist(path=path, cache_dir=cache_dir)
        images, labels = getattr(splits, split)
        self.split = split
        self.images_shape = images_shape
        self._set_arrays(images, labels)
        if limit is not None:
            self._set_arrays(*self._pick(self._check_count(limit, "limit"), None))

    def _set_arrays(self, images, labels):
        self.images = np.asarray(images, dtype=np.float32).reshape((-1,) + self.images_shape)
        self.labels = np.asarray(labels, dtype=np.int64).reshape(-1, 1)

    def _check_count(self, n, what):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n <= len(self):
            raise DataError(f"MnistDataset: {what} must be an integer in 1..{len(self)} "
                            f"(the size of split '{self.split}'), got {n!r}")
        return int(n)

    def _pick(self, n, seed):
        if seed is None:
            return self.images[:n], self.labels[:n]
        # Sorted, so a seeded subset keeps the data set's order (shuffling is the loader's job).
        index = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return self.images[index], self.labels[index]

    def subset(self, n, seed=None):
        """A new dataset of ``n`` examples: the first ``n``, or a random ``n`` if ``seed``."""
        picked = MnistDataset.__new__(MnistDataset)
        paddle.io.Dataset.__init__(picked)
        picked.split, picked.images_shape = self.split, self.images_shape
        picked._set_arrays(*self._pick(self._check_count(n, "subset size"), seed))
        return picked

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        return (f"MnistDataset(split={self.split!r}, n={len(self)}, "
                f"images_shape={self.images_shape})")

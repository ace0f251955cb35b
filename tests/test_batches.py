"""ArrayLoader: epochs, seeds, resumable order, data-parallel shards; the course's load_data on it.

Images are numbered rows (row i holds 4i .. 4i+3) so every test can tell which images a batch
holds and that each stays paired with its label.
"""
import numpy as np
import pytest

from data import ArrayLoader, DataError, load_data
from data.batches import shard_indices


def numbered(n, width=4):
    """``n`` images whose row i is 4i .. 4i+3 (int64, so the float32 cast is visible), labels i."""
    return np.arange(n * width).reshape(n, width), np.arange(n)


def loader(n=23, batch_size=6, shuffle=True, seed=5):
    return ArrayLoader(*numbered(n), batch_size, shuffle=shuffle, seed=seed, image_shape=(4,))


def labels_of(batches):
    return [y.tolist() for _, y in batches]


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_image_exactly_once_per_epoch_paired_with_its_label(shuffle):
    data = loader(shuffle=shuffle)
    assert len(data) == 4 and data.num_samples == 23
    for _ in range(2):
        batches = list(data)
        assert [len(y) for _, y in batches] == [6, 6, 6, 5]   # the last partial batch is kept
        seen = np.concatenate([y for _, y in batches])
        assert sorted(seen) == list(range(23))
        for x, y in batches:
            assert x.dtype == np.float32 and x.shape == (len(y), 4) and x.flags.c_contiguous
            assert y.dtype == np.int64
            np.testing.assert_array_equal(x[:, 0], 4 * y)
    if not shuffle:
        assert labels_of(data) == [list(range(s, min(s + 6, 23))) for s in range(0, 23, 6)]


def test_images_are_reshaped_and_labels_keep_their_shape():
    images, labels = np.zeros((10, 784), np.float32), np.arange(10).reshape(-1, 1)
    x, y = next(iter(ArrayLoader(images, labels, 4)))   # default image_shape (1, 28, 28)
    assert x.shape == (4, 1, 28, 28) and y.shape == (4, 1) and y.dtype == np.int64


def test_shuffled_batches_are_sorted_slices_of_the_seeded_permutation():
    # The order the trainer has always used: one rng.permutation per epoch, each batch's
    # indices sorted. Bit-identical batches keep old runs reproducible.
    rng = np.random.default_rng(5)
    data = loader()
    for _ in range(3):
        order = rng.permutation(23)
        assert labels_of(data) == [sorted(order[s:s + 6]) for s in range(0, 23, 6)]


def test_seed_fixes_the_order_and_each_epoch_is_new():
    first, again, other = loader(seed=1), loader(seed=1), loader(seed=2)
    epoch1 = labels_of(first)
    assert epoch1 == labels_of(again) and epoch1 != labels_of(other)
    assert labels_of(first) != epoch1


def test_state_dict_round_trip_continues_the_same_order():
    uninterrupted = loader()
    list(uninterrupted)
    saved = uninterrupted.state_dict()
    expected = [labels_of(uninterrupted) for _ in range(2)]
    resumed = loader(seed=99)                      # another seed: the state must override it
    resumed.set_state_dict(saved)
    assert [labels_of(resumed) for _ in range(2)] == expected


@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("pad", [True, False])
def test_the_shards_of_a_batch_together_are_the_single_process_batch(world_size, pad):
    n = 23   # not a multiple of 2 or 3, nor of the batch size: padding and partial batches
    single = labels_of(loader(batch_size=6))
    # Every process shards its own loader, built from the same seed.
    ranks = [labels_of(loader(batch_size=6).shard(r, world_size, pad)) for r in range(world_size)]
    extra = (-n) % world_size if pad else 0
    padding = np.random.default_rng(5).permutation(n)[:extra].tolist()  # the epoch's first images
    for k, batch in enumerate(single):
        parts = [shards[k] if k < len(shards) else [] for shards in ranks]
        assert all(len(part) <= 6 // world_size for part in parts)
        last = k == len(single) - 1
        assert sorted(sum(parts, [])) == sorted(batch + (padding if last else []))
    assert all(len(shards) <= len(single) for shards in ranks)
    if pad:   # equal steps on every rank, or the others would wait in the all-reduce forever
        assert {len(shards) for shards in ranks} == {len(single)}
        assert {sum(map(len, shards)) for shards in ranks} == {-(-n // world_size)}
    else:     # evaluation: disjoint, each image once
        assert sorted(sum(sum(ranks, []), [])) == list(range(n))


def test_shards_share_the_generator_and_count_their_samples():
    base = loader(batch_size=6)
    mine = base.shard(1, 3)
    assert mine.rng is base.rng and mine.images is base.images
    assert (mine.batch_size, len(mine), mine.num_samples) == (2, 4, 8)
    assert (base.batch_size, base.num_samples) == (6, 23)   # the base loader is unchanged
    evaluation = loader(batch_size=6, shuffle=False).shard(2, 3, pad=False)
    assert evaluation.num_samples == 7 and labels_of(evaluation) == [[2, 5], [8, 11], [14, 17],
                                                                      [20]]
    # One generator: a state restored through the shard moves the base loader too.
    state = base.state_dict()
    list(mine)
    mine.set_state_dict(state)
    assert base.state_dict() == state


def test_shard_indices_pad_like_the_distributed_batch_sampler():
    assert shard_indices(np.arange(5), 1, 2).tolist() == [1, 3, 0]
    assert shard_indices(np.arange(5), 1, 2, pad=False).tolist() == [1, 3]
    assert shard_indices(np.arange(6), 2, 3).tolist() == [2, 5]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8"])
def test_bad_batch_size_is_a_data_error(batch_size):
    with pytest.raises(DataError, match=f"ArrayLoader: batch_size must be a positive integer, "
                                        f"got {batch_size!r}"):
        ArrayLoader(*numbered(4), batch_size)


def test_bad_arrays_and_bad_shards_are_data_errors():
    images, labels = numbered(10)
    with pytest.raises(DataError, match="10 images but 9 labels"):
        ArrayLoader(images, labels[:9], 4)
    base = loader(batch_size=5)
    with pytest.raises(DataError, match=r"batch size 5 must be divisible by the number of "
                                        r"processes \(2\)"):
        base.shard(0, 2)
    for rank, world_size in ((2, 2), (-1, 2), (0, 0), (1.0, 2), (True, 2)):
        with pytest.raises(DataError, match=f"rank {rank!r} does not fit world size {world_size}"):
            loader(batch_size=6).shard(rank, world_size)
        with pytest.raises(DataError, match="does not fit world size"):
            shard_indices(np.arange(4), rank, world_size)
    with pytest.raises(DataError, match="already rank 1 of 2"):
        loader(batch_size=6).shard(1, 2).shard(0, 3)


def test_load_data_shapes_dtypes_and_the_loader_underneath(mnist_small):
    train = load_data("train", batch_size=256, seed=7, splits=mnist_small)
    batches = list(train())
    assert len(batches) == 24 and len(batches[-1][1]) == 6000 - 23 * 256
    for images, labels in batches:
        assert images.dtype == np.float32 and images.shape == (len(labels), 1, 28, 28)
        assert labels.dtype == np.int64 and labels.shape == (len(images), 1)
    # The same batches as the trainer's ArrayLoader with that seed: one batching stack.
    same = ArrayLoader(*mnist_small.train, 256, shuffle=True, seed=7)
    for (x, y), (lx, ly) in zip(batches, same):
        np.testing.assert_array_equal(x, lx)
        np.testing.assert_array_equal(y[:, 0], ly)
    assert [y[:, 0].tolist() for _, y in train()] == [y.tolist() for _, y in same]  # epoch 2

"""Image-folder batches depend on the seed, the epoch and the image, never on --num-workers, and a
resumed folder run (augmentation, shuffling, loader workers) ends as the uninterrupted one."""
import json
import random

import numpy as np
import paddle
import pytest

from course.engine.config import RunConfig
from course.engine.data import AUTO_LOADER_WORKERS, MAX_AUTO_LOADER_WORKERS, loader_workers
from course.engine.experiment import run_experiment
from data.folders import make_loaders
from data.folders.seeded import SeededBatchSampler
from tests.test_resume import interrupt_after_epochs


def epochs_of(root, workers, epochs=2, seed=3, augment="keras_gym", start=None):
    loaders = make_loaders(root, image_size=16, batch_size=16, augment=augment, num_workers=workers,
                           shuffle_seed=seed)
    train = loaders["train"]
    if start is not None:
        train.set_state_dict(start)
    return [[(np.asarray(x), np.asarray(y)) for x, y in train] for _ in range(epochs)]


def assert_same(a, b):
    assert len(a) == len(b)
    for epoch_a, epoch_b in zip(a, b):
        assert len(epoch_a) == len(epoch_b)
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_the_batches_are_the_same_with_any_number_of_loader_workers(digits):
    alone = epochs_of(digits["single"], 0)
    assert_same(alone, epochs_of(digits["single"], 2))
    assert_same(alone, epochs_of(digits["single"], 3))
    # ... and they are random: each epoch its own order and augmentation, each seed its own.
    assert not np.array_equal(alone[0][0][1], alone[1][0][1])
    other = epochs_of(digits["single"], 0, seed=4)
    assert not np.array_equal(alone[0][0][0], other[0][0][0])


def test_a_loader_restored_to_an_epoch_gives_that_epochs_batches(digits):
    whole = epochs_of(digits["single"], 0, epochs=3)
    assert_same(whole[1:], epochs_of(digits["single"], 2, epochs=2, start={"epoch": 1}))


def test_the_same_image_gets_the_same_augmentation_in_every_batch_position(digits):
    """The draws follow the image, not its place in the stream: epoch 0's image i is the same
    array whether it is read first or last (what makes worker count and order irrelevant)."""
    loader = make_loaders(digits["single"], image_size=16, batch_size=4, augment="keras_gym",
                          shuffle_seed=0)["train"]
    dataset = loader.dataset
    first, again = dataset[(5, 0)], dataset[(5, 0)]
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], dataset[(5, 1)][0])        # another epoch, other draws


def test_the_seeded_draws_leave_the_callers_python_random_state_alone(digits):
    loader = make_loaders(digits["single"], image_size=16, batch_size=4, augment="keras_gym")["train"]
    random.seed(11)
    expected = random.random()
    random.seed(11)
    for _ in loader:
        pass
    assert random.random() == expected


def test_numpy_draws_in_a_transform_are_seeded_per_image_too(digits):
    """paddle.vision's own random transforms draw from NumPy's global generator."""
    from data.folders.seeded import SeededDraws

    class NumpyNoise:
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return np.random.random(3)

    draws = SeededDraws(NumpyNoise(), seed=2)
    np.testing.assert_array_equal(draws[(1, 0)], draws[(1, 0)])
    assert not np.array_equal(draws[(1, 0)], draws[(2, 0)])


def test_the_sampler_covers_every_image_once_an_epoch_in_a_new_order():
    sampler = SeededBatchSampler(10, 4, seed=1)
    epochs = [[key for batch in sampler for key in batch] for _ in range(2)]
    assert [len(batch) for batch in SeededBatchSampler(10, 4, drop_last=True)] == [4, 4]
    assert len(sampler) == 3 and sampler.state_dict() == {"epoch": 2}
    for epoch, keys in enumerate(epochs):
        assert sorted(index for index, _ in keys) == list(range(10))
        assert {e for _, e in keys} == {epoch}
    assert [i for i, _ in epochs[0]] != [i for i, _ in epochs[1]]


@pytest.mark.parametrize("cores, expected", [(1, 0), (2, 1), (4, 3), (64, MAX_AUTO_LOADER_WORKERS)])
def test_auto_loader_workers_follow_the_cores_a_run_has(cores, expected, monkeypatch):
    assert loader_workers(AUTO_LOADER_WORKERS, cores) == expected
    assert loader_workers(5, cores) == 5                         # a number is taken as given
    monkeypatch.setenv("OMP_NUM_THREADS", "1")                   # a sweep worker's share: 1 core
    assert loader_workers(AUTO_LOADER_WORKERS) == 0


def test_a_runs_thread_count_is_the_cores_its_loaders_size_themselves_by(monkeypatch):
    """Every caller of set_cpu_threads (a local worker, a Ray task, --jobs 1) passes it on."""
    from course.engine.device import cpu_threads, set_cpu_threads

    before = cpu_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        set_cpu_threads(1)
        assert loader_workers(AUTO_LOADER_WORKERS) == 0
        set_cpu_threads(3)
        assert loader_workers(AUTO_LOADER_WORKERS) == 2
    finally:
        set_cpu_threads(before)


def test_a_folder_run_resumed_with_loader_workers_equals_one_never_stopped_without(digits, tmp_path,
                                                                                  monkeypatch):
    # Augmentation, shuffling, dropout-free mobilenet with BatchNorm: the uninterrupted run loads
    # in the training process, the interrupted and resumed one with 2 loader workers.
    config = RunConfig(dataset=f"folder:{digits['single']}", model="vision:mobilenet_v3_small",
                       image_size=32, augment="keras_gym", optimizer="adam", lr=0.01, epochs=3,
                       batch_size=16, seed=5, num_workers=0)
    whole = run_experiment(config, tmp_path / "whole", progress=False, log_visualdl=False)
    cut = config.replace(num_workers=2)
    with monkeypatch.context() as m:
        interrupt_after_epochs(m, 1)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(cut, tmp_path / "cut", progress=False, log_visualdl=False)
    resumed = run_experiment(cut, tmp_path / "cut", progress=False, log_visualdl=False)

    def history(run):
        return [{k: v for k, v in h.items() if k != "epoch_seconds"}
                for h in json.loads((tmp_path / run / "metrics.json").read_text())]

    assert history("cut") == history("whole")
    a = paddle.load(str(tmp_path / "whole" / "model.pdparams"))
    b = paddle.load(str(tmp_path / "cut" / "model.pdparams"))
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    assert resumed["best_val_acc"] == whole["best_val_acc"]

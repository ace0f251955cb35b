"""Every setting of RunConfig reaches the code that uses it.

A setting that is parsed, validated and saved in config.json but never handed on (a weight decay
that never reaches the optimizer, a seed that never reaches the shuffle) changes nothing and
fails no other test. Each test here builds what a run builds -- ``load_dataset(config)``,
``build_training(config, ...)``, ``run_experiment(config, ...)`` -- and shows the setting's effect
where it acts: in the batches, the model, the optimizer's steps, the schedule, the callbacks or
the trainer. ``wires`` records which settings a test covers; the last test checks that none is
left out, so a new setting needs a test here.
"""
import random
import shutil
from pathlib import Path

import numpy as np
import paddle
import pytest

from course import speed
from course.engine.callbacks.early_stopping import EarlyStopping
from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.callbacks.reduce_lr import ReduceLROnPlateau
from course.engine.config import FIELDS, RunConfig
from course.engine.data import FOLDER_IMAGE_SIZE, load_dataset
from course.engine.experiment import build_training, run_experiment
from course.engine.trainer import loss_and_correct
from data.mnist.cache import FAST_CACHE_NAME
from models.mnist_nets import LeNet, LinearRegression, MLPRelu

MNIST = Path(__file__).parent / "fixtures" / "mnist_small.npz"   # 6,000 / 1,000 / 1,000 digits
IMAGE_MODEL = "vision:mobilenet_v3_small"    # the quickest image model to build
WIRED: set = set()


def wires(*settings):
    """Mark a test as showing that ``settings`` reach the code that uses them."""
    unknown = set(settings) - set(FIELDS)
    assert not unknown, f"not RunConfig settings: {unknown}"
    WIRED.update(settings)
    return lambda test: test


def mnist_config(**settings) -> RunConfig:
    return RunConfig(**{"dataset": f"mnist:{MNIST}", "model": "linear", **settings})


def folder_config(root, **settings) -> RunConfig:
    return RunConfig(**{"dataset": f"folder:{root}", "model": IMAGE_MODEL, **settings})


def data(config: RunConfig):
    return load_dataset(config, progress=False)


def training(config: RunConfig, run_dir=None, input_shape=None):
    """What run_experiment builds for ``config`` (10 classes, 10 batches an epoch)."""
    if input_shape is None:
        input_shape = (1, 28, 28) if config.dataset.startswith("mnist") else (3, 32, 32)
    return build_training(config, 10, input_shape, steps_per_epoch=10, run_dir=run_dir, progress=False)


def weights(model) -> dict:
    return {name: p.numpy().copy() for name, p in model.state_dict().items()}


def labels_in_order(loader) -> np.ndarray:
    return np.concatenate([np.asarray(labels) for _, labels in loader])


def zero_loss_step(trainer) -> None:
    """One optimizer step on a zero loss: only weight decay can move the weights."""
    sum(p.sum() * 0.0 for p in trainer.model.parameters()).backward()
    trainer.optimizer.step()
    trainer.optimizer.clear_grad()


# --- data --------------------------------------------------------------------------------------
@wires("dataset", "subset", "val_subset")
def test_mnist_path_subset_and_val_subset_choose_the_images(mnist_small):
    full = data(mnist_config())
    assert (full.train.num_samples, full.val.num_samples, full.test.num_samples) == (6000, 1000, 1000)
    part = data(mnist_config(subset=300, val_subset=200))
    assert (part.train.num_samples, part.val.num_samples, part.test.num_samples) == (300, 200, 1000)
    np.testing.assert_array_equal(part.train.images, mnist_small.train[0][:300])   # the first 300
    np.testing.assert_array_equal(part.val.labels, mnist_small.val[1][:200])


@wires("batch_size")
def test_batch_size_sets_the_training_batches():
    bundle = data(mnist_config(subset=120, batch_size=50))
    assert [len(labels) for _, labels in bundle.train] == [50, 50, 20]
    images, _ = next(iter(bundle.val))
    assert images.shape[0] == 100             # evaluation batches are never smaller than 100
    images, _ = next(iter(data(mnist_config(batch_size=128)).val))
    assert images.shape[0] == 128


@wires("seed")
def test_seed_reaches_the_shuffle_the_initial_weights_and_the_trainer():
    def order(seed):
        return labels_in_order(data(mnist_config(subset=256, seed=seed)).train)

    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))

    first, again, other = (training(mnist_config(model="lenet", seed=s)) for s in (3, 3, 4))
    for name, value in weights(first.model).items():
        np.testing.assert_array_equal(weights(again.model)[name], value)
    assert not np.array_equal(weights(other.model)["conv1.weight"], weights(first.model)["conv1.weight"])
    assert (first.seed, other.seed) == (3, 4)     # reseeds dropout at every epoch (exact resume)


@wires("data_cache")
def test_data_cache_is_where_mnist_is_read_from(tmp_path):
    shutil.copy(MNIST, tmp_path / FAST_CACHE_NAME)   # a cache holding the 6,000-digit subset
    bundle = data(RunConfig(dataset="mnist", model="linear", data_cache=str(tmp_path)))
    assert bundle.train.num_samples == 6000


@wires("dataset", "validation_split", "split_seed")
def test_validation_split_and_split_seed_choose_the_validation_images(digits):
    root = digits["single30"]                       # 10 classes x 30 digits

    def val_files(**settings):
        bundle = data(folder_config(root, **settings))
        assert len(bundle.train.dataset) + len(bundle.val.dataset) == 300
        assert bundle.classes == sorted(p.name for p in root.iterdir())
        return {path for path, _ in bundle.val.dataset.samples}

    assert len(val_files(validation_split=0.2)) == 60 and len(val_files(validation_split=0.5)) == 150
    assert val_files(split_seed=1) == val_files(split_seed=1) != val_files(split_seed=2)


@wires("image_size", "batch_size")
def test_image_size_and_batch_size_shape_the_folder_batches(digits):
    for size, side in ((16, 16), (0, FOLDER_IMAGE_SIZE)):
        bundle = data(folder_config(digits["single"], image_size=size, batch_size=7))
        images, labels = next(iter(bundle.train))
        assert images.shape == [7, 3, side, side] and bundle.input_shape == (3, side, side)
    for side in (32, 48):                 # the model is built for the images the data gives
        trainer = training(folder_config(digits["single"]), input_shape=(3, side, side))
        assert trainer.model.input_shape == (3, side, side)


@wires("augment")
def test_augment_changes_training_images_only(digits):
    def two_reads(augment, split):
        dataset = getattr(data(folder_config(digits["single"], augment=augment, image_size=32)), split).dataset
        return dataset[0][0], dataset[0][0]

    random.seed(0)                                    # the augmentation draws from `random`
    first, second = two_reads("keras_gym", "train")
    assert not np.array_equal(first, second)          # a new random transform at every read
    for augment, split in (("none", "train"), ("keras_gym", "val")):
        np.testing.assert_array_equal(*two_reads(augment, split))


@wires("num_workers")
def test_num_workers_reaches_the_folder_loaders(digits, monkeypatch):
    bundle = data(folder_config(digits["single"], num_workers=2))
    assert bundle.train.num_workers == bundle.val.num_workers == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")           # auto (-1): the run's 3 cores, less one
    bundle = data(folder_config(digits["single"]))
    assert RunConfig().num_workers == -1 and bundle.train.num_workers == bundle.val.num_workers == 2


# --- model -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls, loss_kind", [("linear", LinearRegression, "mse"),
                                                  ("mlp_relu", MLPRelu, "ce"), ("lenet", LeNet, "ce")])
@wires("model")
def test_model_names_the_network_and_its_loss(name, cls, loss_kind):
    trainer = training(mnist_config(model=name))
    assert type(trainer.model) is cls and trainer.loss_kind == loss_kind


@wires("freeze_backbone")
def test_freeze_backbone_leaves_only_the_head_to_the_optimizer(digits):
    for freeze in (False, True):
        trainer = training(folder_config(digits["single"], freeze_backbone=freeze))
        model = trainer.model
        trainable = {p.name for p in model.parameters() if not p.stop_gradient}
        assert {p.name for p in trainer.optimizer._parameter_list} == trainable
        assert {p.name for p in model.head.parameters()} <= trainable
        assert bool(trainable & {p.name for p in model.backbone.parameters()}) != freeze


@wires("pretrained")
def test_pretrained_weights_replace_the_initial_ones(tmp_path):
    saved = weights(training(mnist_config(model="lenet", seed=5)).model)
    paddle.save({k: paddle.to_tensor(v) for k, v in saved.items()}, str(tmp_path / "lenet.pdparams"))
    loaded = weights(training(mnist_config(model="lenet", pretrained=str(tmp_path / "lenet.pdparams"))).model)
    for name, value in saved.items():
        np.testing.assert_array_equal(loaded[name], value)
    fresh = weights(training(mnist_config(model="lenet")).model)
    assert not np.array_equal(fresh["fc.weight"], saved["fc.weight"])


# --- optimizer, rate, decay, schedule ----------------------------------------------------------
@pytest.mark.parametrize("name, cls", [("sgd", paddle.optimizer.SGD), ("adam", paddle.optimizer.Adam),
                                       ("nesterov", paddle.optimizer.Momentum)])
@wires("optimizer", "lr")
def test_optimizer_and_lr_build_the_optimizer_over_the_model(name, cls):
    trainer = training(mnist_config(optimizer=name, lr=0.037))
    assert isinstance(trainer.optimizer, cls) and trainer.get_lr() == pytest.approx(0.037)
    assert [p.name for p in trainer.optimizer._parameter_list] == [p.name for p in trainer.model.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@wires("weight_decay")
def test_weight_decay_shrinks_the_weights_at_every_step(optimizer):
    # On a zero loss, L2 (sgd) and decoupled decay (adamw) both give w * (1 - lr * wd);
    # without weight decay nothing moves (AdamW's own default, 0.01, is not used).
    for wd in (0.5, 0.0):
        trainer = training(mnist_config(optimizer=optimizer, lr=0.1, weight_decay=wd))
        before = weights(trainer.model)
        zero_loss_step(trainer)
        for name, value in weights(trainer.model).items():
            np.testing.assert_allclose(value, before[name] * (1 - 0.1 * wd), rtol=1e-6, atol=1e-9)


@wires("schedule", "schedule_args", "epochs")
def test_schedule_its_args_and_epochs_drive_the_optimizer_rate():
    trainer = training(mnist_config(lr=0.1, epochs=3, schedule="cosine", schedule_args={"eta_min": 0.02}))
    scheduler = trainer.scheduler
    assert type(scheduler).__name__ == "CosineAnnealingDecay" and scheduler.step_unit == "batch"
    assert (scheduler.T_max, scheduler.eta_min) == (30, 0.02)       # 10 batches x 3 epochs
    for _ in range(30):
        scheduler.step()
    assert trainer.get_lr() == pytest.approx(0.02)                # the optimizer follows it

    by_epoch = training(mnist_config(lr=0.1, epochs=6, schedule="step"))
    assert by_epoch.scheduler.step_unit == "epoch" and by_epoch.scheduler.step_size == 2   # epochs // 3
    assert training(mnist_config(lr=0.1)).scheduler is None        # constant: a plain float rate


# --- callbacks and the trainer ------------------------------------------------------------------
@wires("early_stop", "reduce_lr_on_plateau", "checkpoint")
def test_callback_settings_build_the_callbacks_and_the_checkpoint_lands_in_the_run(tmp_path):
    config = mnist_config(subset=64, val_subset=100, early_stop="monitor=val_loss,patience=4",
                          reduce_lr_on_plateau="factor=0.5,patience=2,min_lr=0.001", checkpoint="best")
    trainer = training(config, run_dir=tmp_path)
    reduce, stop, checkpoint = trainer.callbacks
    assert (type(reduce), type(stop), type(checkpoint)) == (ReduceLROnPlateau, EarlyStopping, ModelCheckpoint)
    assert (reduce.factor, reduce.patience, reduce.min_lr) == (0.5, 2, 0.001)
    assert (stop.monitor, stop.patience) == ("val_loss", 4)
    assert (checkpoint.monitor, checkpoint.save_best_only) == ("val_acc", True)
    bundle = data(config)
    trainer.fit(bundle.train, bundle.val, epochs=1)
    assert (tmp_path / "best.pdckpt").exists()
    assert training(mnist_config()).callbacks == []


@pytest.mark.parametrize("stop_at_chance", [True, False])
@wires("stop_at_chance")
def test_stop_at_chance_decides_whether_a_run_at_chance_stops(stop_at_chance):
    # A rate too small to learn anything: still at chance after the first epoch's 100 steps.
    config = mnist_config(model="mlp_sigmoid", lr=1e-7, batch_size=32, subset=3200, val_subset=300,
                          epochs=2, stop_at_chance=stop_at_chance)
    trainer = training(config)
    bundle = data(config)
    trainer.fit(bundle.train, bundle.val, config.epochs)
    assert len(trainer.history) == (1 if stop_at_chance else 2)
    assert ("chance" in trainer.diverged) == stop_at_chance


@wires("epochs", "device", "target_acc", "label")
def test_a_run_trains_its_epochs_on_its_device_and_reports_its_target(tmp_path, monkeypatch):
    asked = []

    def use_device(name):                  # records what the run asks for; a CPU is what there is
        asked.append(name)
        return "cpu"

    monkeypatch.setattr("course.engine.experiment.use_device", use_device)
    config = mnist_config(subset=64, val_subset=100, epochs=2, device="gpu:1", target_acc=0.05,
                          label="tiny")
    result = run_experiment(config, tmp_path, progress=False, log_visualdl=False)
    assert asked == ["gpu:1"]
    assert (result["epochs_run"], result["epochs_planned"], result["device"]) == (2, 2, "cpu")
    assert (result["target_acc"], result["epochs_to_target"]) == (0.05, 1)
    assert result["run"] == "sgd+tiny-lr0.01-seed0" and result["label"] == "tiny"


@pytest.mark.parametrize("amp, dtype", [("bf16", "bfloat16"), ("off", None)])
@wires("amp")
def test_amp_puts_every_forward_pass_under_auto_cast(amp, dtype, monkeypatch):
    entered = []
    auto_cast = paddle.amp.auto_cast

    def spy(*args, **kwargs):
        entered.append(kwargs["dtype"])
        return auto_cast(*args, **kwargs)

    monkeypatch.setattr(paddle.amp, "auto_cast", spy)
    config = mnist_config(model="lenet", subset=128, val_subset=100, epochs=1, amp=amp)
    trainer, bundle = training(config), data(config)
    assert trainer.precision.amp == amp and not trainer.precision.scaler.is_enable()  # no fp16 here
    trainer.fit(bundle.train, bundle.val, 1)
    # 2 training steps and 1 validation batch; nothing is cast with --amp off
    assert entered == ([dtype] * 3 if dtype else [])


def test_every_setting_has_a_wiring_test():
    assert sorted(set(FIELDS) - WIRED) == []


@wires("log_every_n_steps")
def test_log_every_n_steps_chooses_the_steps_a_run_keeps_for_visualdl():
    config = mnist_config(subset=320, val_subset=100, batch_size=32, epochs=2, log_every_n_steps=4)
    trainer, bundle = training(config), data(config)
    trainer.fit(bundle.train, bundle.val, config.epochs)     # 10 steps an epoch
    assert [step for h in trainer.history for step, _, _ in h["steps"]] == [4, 8, 12, 16, 20]
    off = training(config.replace(log_every_n_steps=0))
    off.fit(bundle.train, bundle.val, 1)
    assert off.history[0]["steps"] == []


@wires("loss")
def test_loss_chooses_the_outputs_and_the_loss_the_trainer_uses():
    auto, mse = training(mnist_config(model="lenet")), training(mnist_config(model="lenet", loss="mse"))
    assert auto.loss_kind == "ce" and auto.model.fc.weight.shape == [980, 10]
    assert mse.loss_kind == "mse" and mse.model.fc.weight.shape == [980, 1]    # the digit as a number
    twice = training(mnist_config(model="lenet", loss="double_softmax"))
    images = paddle.to_tensor(np.random.default_rng(0).random((4, 1, 28, 28), dtype="float32"))
    labels = paddle.to_tensor(np.array([1, 2, 3, 4]))
    logits = twice.model(images)
    loss, _ = loss_and_correct(logits, labels, twice.loss_kind)
    expected = paddle.nn.functional.cross_entropy(paddle.nn.functional.softmax(logits), labels.reshape([-1, 1]))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert float(loss) != pytest.approx(float(paddle.nn.functional.cross_entropy(logits, labels.reshape([-1, 1]))))


@wires("fast_kernels")
def test_fast_kernels_decides_whether_a_run_trains_on_course_speed():
    fast = training(mnist_config(model="lenet"))
    plain = training(mnist_config(model="lenet", fast_kernels=False))
    assert speed.is_applied(fast.model) and "forward" in vars(fast.model)   # LeNet's fused blocks
    assert not speed.is_applied(plain.model) and "forward" not in vars(plain.model)
    assert fast.model.state_dict().keys() == plain.model.state_dict().keys()


@wires("defaults", "optimizer_args")
def test_defaults_and_optimizer_args_choose_the_optimizers_numbers():
    paddle_adam = training(mnist_config(optimizer="adam")).optimizer
    keras_adam = training(mnist_config(optimizer="adam", defaults="keras")).optimizer
    assert (paddle_adam._epsilon, keras_adam._epsilon) == (1e-8, 1e-7)     # Paddle's, Keras's
    set_by_hand = training(mnist_config(optimizer="momentum", optimizer_args={"momentum": 0.5}))
    assert set_by_hand.optimizer._momentum == 0.5
    assert training(mnist_config(optimizer="momentum")).optimizer._momentum == 0.9

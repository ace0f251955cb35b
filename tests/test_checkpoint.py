"""Checkpoints hold model and optimizer state, load back exactly, and save_best_only saves only gains."""
import numpy as np
import paddle
import pytest

from course.engine.callbacks.model_checkpoint import ModelCheckpoint
from course.engine.checkpoint import load_checkpoint, save_checkpoint, save_weights
from course.engine.errors import ConfigError
from tests.stub_trainer import StubTrainer, make_model_and_optimizer, run_epochs, train_step


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_checkpoint_loads_back_model_optimizer_and_rate(tmp_path):
    model, opt = make_model_and_optimizer(lr=0.05, optimizer="adam")
    for seed in range(3):                      # Adam moments are now non-zero
        train_step(model, opt, seed, fresh_names=seed == 0)
    opt.set_lr(0.0123)                         # as ReduceLROnPlateau would have set it
    path = save_checkpoint(tmp_path / "ckpt", model, opt, extra={"epoch": 3})
    assert path.name == "ckpt.pdckpt"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pdckpt"]   # no temp file left behind

    model2, opt2 = make_model_and_optimizer(lr=0.05, optimizer="adam")
    assert not np.allclose(_weights(model2)["weight"], _weights(model)["weight"])
    extra = load_checkpoint(path, model2, opt2)
    assert extra == {"epoch": 3}
    assert opt2.get_lr() == pytest.approx(0.0123)
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(_weights(model2)[name], value)

    # The same next step from both: equal only if the Adam moments were restored as well.
    fresh_model, fresh_opt = make_model_and_optimizer(lr=0.0123, optimizer="adam")
    fresh_model.set_state_dict(model.state_dict())
    train_step(model, opt, seed=99)
    for m, o in ((model2, opt2), (fresh_model, fresh_opt)):   # first steps: Adam state is created
        train_step(m, o, seed=99, fresh_names=True)
    np.testing.assert_allclose(_weights(model2)["weight"], _weights(model)["weight"], rtol=0, atol=1e-7)
    assert not np.allclose(_weights(fresh_model)["weight"], _weights(model)["weight"], rtol=0, atol=1e-7)


def test_a_scheduled_rate_comes_back_from_its_schedule(tmp_path):
    schedule = paddle.optimizer.lr.StepDecay(0.1, step_size=1, gamma=0.5)
    model, opt = make_model_and_optimizer(lr=schedule, optimizer="adam")
    train_step(model, opt, seed=0, fresh_names=True)
    schedule.step()
    schedule.step()
    path = save_checkpoint(tmp_path / "ckpt", model, opt)

    schedule2 = paddle.optimizer.lr.StepDecay(0.1, step_size=1, gamma=0.5)
    model2, opt2 = make_model_and_optimizer(lr=schedule2, optimizer="adam")
    load_checkpoint(path, model2, opt2)       # the schedule sets the rate (set_lr would refuse)
    assert schedule2.last_epoch == 2 and opt2.get_lr() == pytest.approx(0.025)


def test_weights_only_file_is_the_course_format(tmp_path):
    model, _ = make_model_and_optimizer()
    path = save_weights(tmp_path / "model", model)
    assert path.name == "model.pdparams"
    model2, _ = make_model_and_optimizer()
    with paddle.no_grad():
        model2.weight.set_value(np.zeros([4, 2], "float32"))
    model2.set_state_dict(paddle.load(str(path)))
    np.testing.assert_array_equal(model2.weight.numpy(), model.weight.numpy())
    assert load_checkpoint(tmp_path / "model", model2) == {}      # finds model.pdparams


def test_load_missing_checkpoint_is_a_config_error(tmp_path):
    model, opt = make_model_and_optimizer()
    with pytest.raises(ConfigError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing", model, opt)


def test_save_best_only_writes_only_on_improvement(tmp_path):
    # val_acc, auto -> max: e0 0.5 saved, e1 0.6 saved, e2 0.55 skipped, e3 0.7 saved, e4 0.7 (equal) skipped
    trainer = StubTrainer(run_dir=tmp_path)
    cb = ModelCheckpoint("best", monitor="val_acc", save_best_only=True)
    saved_epoch_in_file = []
    original = cb.on_epoch_end

    def on_epoch_end(trainer_, epoch, logs):     # read the file back after every epoch
        original(trainer_, epoch, logs)
        saved_epoch_in_file.append(paddle.load(str(tmp_path / "best.pdckpt"))["extra"]["epoch"])

    cb.on_epoch_end = on_epoch_end
    run_epochs(trainer, [cb], [0.5, 0.6, 0.55, 0.7, 0.7], monitor="val_acc", train=True)
    assert [epoch for epoch, _ in cb.saved] == [0, 1, 3]
    assert saved_epoch_in_file == [1, 2, 2, 4, 4]       # {epoch} numbering counts from 1, as Keras
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pdckpt"]


def test_save_best_only_file_holds_the_best_weights(tmp_path):
    trainer = StubTrainer(run_dir=tmp_path, optimizer="adam")
    cb = ModelCheckpoint("best", save_best_only=True)           # val_loss, min
    out = run_epochs(trainer, [cb], [1.0, 0.4, 0.6, 0.8], train=True)
    model, opt = make_model_and_optimizer(optimizer="adam")
    extra = load_checkpoint(tmp_path / "best", model, opt)
    assert extra["epoch"] == 2 and extra["best"] == 0.4 and extra["logs"]["val_loss"] == 0.4
    np.testing.assert_array_equal(_weights(model)["weight"], out["weights"][1]["weight"])


def test_templated_path_every_epoch(tmp_path):
    trainer = StubTrainer(run_dir=tmp_path)
    cb = ModelCheckpoint("ckpt-{epoch:02d}-{val_acc:.4f}", monitor="val_acc")
    run_epochs(trainer, [cb], [0.5, 0.25, 0.75], monitor="val_acc")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-01-0.5000.pdckpt", "ckpt-02-0.2500.pdckpt", "ckpt-03-0.7500.pdckpt"]


def test_absolute_path_and_weights_only(tmp_path):
    trainer = StubTrainer(run_dir=tmp_path / "run")
    cb = ModelCheckpoint(str(tmp_path / "w-{epoch}"), save_weights_only=True)
    run_epochs(trainer, [cb], [1.0, 0.9])
    assert sorted(p.name for p in tmp_path.glob("*.pdparams")) == ["w-1.pdparams", "w-2.pdparams"]


def test_bad_template_field_lists_the_fields(tmp_path):
    trainer = StubTrainer(run_dir=tmp_path)
    cb = ModelCheckpoint("ckpt-{val_f1:.2f}")
    with pytest.raises(ConfigError, match=r"val_f1.*fields available: epoch, epoch_seconds, lr"):
        run_epochs(trainer, [cb], [1.0])
    with pytest.raises(ConfigError, match=r"'ckpt-\{epoch'"):
        ModelCheckpoint("ckpt-{epoch")


def test_save_best_only_needs_the_monitor(tmp_path):
    trainer = StubTrainer(run_dir=tmp_path)
    cb = ModelCheckpoint("best", monitor="val_accuracy", save_best_only=True)
    logs = {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": None, "val_acc": None}
    with pytest.raises(ConfigError, match=r"'val_acc' \(Keras name 'val_accuracy'\).*train_acc, train_loss"):
        cb.on_epoch_end(trainer, 0, logs)


def test_checkpoint_mode_argument_checked():
    with pytest.raises(ConfigError, match="'biggest'"):
        ModelCheckpoint("best", mode="biggest")


def test_a_verbose_best_only_checkpoint_lets_a_diverging_run_end_as_diverged(tmp_path, capsys):
    # lr 50 on the linear model: the first epoch's val_loss is inf (or NaN), so there is no best
    # yet when the callback says what it did not improve on.
    from course.engine.config import RunConfig
    from course.engine.experiment import run_experiment
    from tests.conftest import MNIST_SMALL_PATH

    config = RunConfig(dataset=f"mnist:{MNIST_SMALL_PATH}", model="linear", lr=50.0, epochs=2,
                       subset=300, val_subset=200,
                       checkpoint="path=best,save_best_only=true,monitor=val_loss,verbose=1")
    result = run_experiment(config, tmp_path / "run", progress=False, log_visualdl=False)
    assert result["diverged"] and result["epochs_run"] == 1
    assert "Epoch 1: val_loss did not improve from None" in capsys.readouterr().out
    assert not (tmp_path / "run" / "best.pdckpt").exists()

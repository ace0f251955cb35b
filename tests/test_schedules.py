"""Each named schedule gives the rate its formula gives, and resumes identically from its state."""
import json
import math

import paddle
import pytest

from course.engine.errors import ConfigError
from course.engine.schedules import SCHEDULES, build_schedule, schedule_arguments


def rates(scheduler, steps):
    """The rate in force at each step 0..steps-1 (the trainer steps after every batch/epoch)."""
    out = []
    for _ in range(steps):
        out.append(scheduler())
        scheduler.step()
    return out


def test_exponential_staircase_film_star_article():
    # Keras ExponentialDecay(1e-4, decay_steps=60, decay_rate=0.96, staircase=True)
    s = build_schedule("exponential", 1e-4, steps_per_epoch=30, epochs=10,
                       decay_steps=60, decay_rate=0.96, staircase=True)
    assert s.step_unit == "batch"
    r = rates(s, 121)
    expected = {0: 1e-4, 59: 1e-4, 60: 1e-4 * 0.96, 119: 1e-4 * 0.96, 120: 1e-4 * 0.96 ** 2}
    assert {k: r[k] for k in expected} == pytest.approx(expected, rel=1e-12)


def test_exponential_smooth_and_default_decay_steps():
    s = build_schedule("exponential", 0.1, steps_per_epoch=20, epochs=3, decay_rate=0.5)
    r = rates(s, 41)       # decay_steps defaults to one epoch (20 batches)
    assert [r[0], r[10], r[20], r[30], r[40]] == pytest.approx(
        [0.1, 0.1 * 0.5 ** 0.5, 0.05, 0.1 * 0.5 ** 1.5, 0.025], rel=1e-12)


def test_polynomial_course_resume_chapter():
    # 0.01 -> 0.001 linearly over all 5 * 20 = 100 batches, then held.
    s = build_schedule("polynomial", 0.01, steps_per_epoch=20, epochs=5, end_lr=0.001)
    r = rates(s, 121)
    for k in (0, 25, 50, 99, 100, 120):
        assert r[k] == pytest.approx((0.01 - 0.001) * (1 - min(k, 100) / 100) + 0.001, rel=1e-12)
    default = rates(build_schedule("polynomial", 0.01, 20, 5), 101)
    assert default[100] == pytest.approx(0.001)          # end_lr defaults to learning_rate / 10


def test_step_decay_per_epoch():
    s = build_schedule("step", 0.1, steps_per_epoch=50, epochs=6, step_size=2, gamma=0.5)
    assert s.step_unit == "epoch"
    assert rates(s, 6) == pytest.approx([0.1 * 0.5 ** (e // 2) for e in range(6)], rel=1e-12)


def test_cosine_over_all_batches():
    lr, eta_min, total = 0.1, 0.001, 4 * 5
    s = build_schedule("cosine", lr, steps_per_epoch=4, epochs=5, eta_min=eta_min)
    r = rates(s, total + 1)
    for k in (0, 1, 5, 10, 15, 20):
        formula = eta_min + (lr - eta_min) * (1 + math.cos(math.pi * k / total)) / 2
        assert r[k] == pytest.approx(formula, rel=1e-9)


def test_onecycle():
    lr, total = 0.1, 100
    s = build_schedule("onecycle", lr, steps_per_epoch=10, epochs=10)
    r = rates(s, total)
    initial, end, peak_step = lr / 25, lr / 25 / 1e4, 0.3 * total - 1     # peak at step 29

    def cos_between(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

    assert r[0] == pytest.approx(initial)
    assert r[10] == pytest.approx(cos_between(initial, lr, 10 / peak_step))
    assert r[29] == pytest.approx(lr)
    assert r[60] == pytest.approx(cos_between(lr, end, (60 - peak_step) / (total - 1 - peak_step)))
    assert r[99] == pytest.approx(end)


def test_warmup_then_constant_and_then_exponential():
    s = build_schedule("warmup", 0.1, steps_per_epoch=10, epochs=3, warmup_steps=10)
    assert s.step_unit == "batch"
    r = rates(s, 30)
    assert [r[0], r[5], r[10], r[29]] == pytest.approx([0.0, 0.05, 0.1, 0.1])
    s = build_schedule("warmup", 0.1, steps_per_epoch=10, epochs=3, warmup_steps=10,
                       start_lr=0.01, after="exponential", decay_steps=10, decay_rate=0.5)
    r = rates(s, 30)
    assert [r[0], r[5], r[10], r[25]] == pytest.approx([0.01, 0.055, 0.1, 0.1 * 0.5 ** 1.5])


def test_constant():
    s = build_schedule("constant", 0.03, 10, 2)
    assert rates(s, 25) == [0.03] * 25


ALL = [("constant", {}), ("exponential", {"decay_steps": 7, "staircase": True}),
       ("polynomial", {}), ("step", {"step_size": 1}), ("cosine", {"eta_min": 0.001}),
       ("onecycle", {}), ("warmup", {"warmup_steps": 5}),
       ("warmup", {"warmup_steps": 5, "after": "cosine"})]


@pytest.mark.parametrize("name, kwargs", ALL)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    a = build_schedule(name, 0.1, steps_per_epoch=6, epochs=5, **kwargs)
    rates(a, 13)
    state = json.loads(json.dumps(a.state_dict()))    # plain data: fits a checkpoint or config
    b = build_schedule(name, 0.1, steps_per_epoch=6, epochs=5, **kwargs)
    b.set_state_dict(state)
    assert b() == a()
    assert rates(b, 17) == rates(a, 17)


def test_schedule_drives_a_real_optimizer():
    s = build_schedule("step", 0.1, steps_per_epoch=3, epochs=4, step_size=1, gamma=0.5)
    opt = paddle.optimizer.SGD(learning_rate=s, parameters=paddle.nn.Linear(4, 2).parameters())
    s.step()
    s.step()
    assert opt.get_lr() == pytest.approx(0.025)
    assert opt.state_dict()["LR_Scheduler"]["last_epoch"] == 2


def test_every_schedule_has_a_step_unit_and_config():
    for name in SCHEDULES:
        s = build_schedule(name, 0.1, 10, 3)
        assert s.step_unit in ("batch", "epoch")
        assert s.config == {"name": name}


@pytest.mark.parametrize("call, pattern", [
    (lambda: build_schedule("cosinus", 0.1, 10, 3),
     r"unknown schedule 'cosinus'; choose one of constant, exponential, polynomial, step, cosine"),
    (lambda: build_schedule("exponential", 0.1, 10, 3, decay_step=5),
     r"unknown argument\(s\) decay_step; valid: decay_steps, decay_rate, staircase"),
    (lambda: build_schedule("exponential", 0.1, 10, 3, decay_steps=0), r"decay_steps .* got 0"),
    (lambda: build_schedule("step", 0.1, 10, 3, gamma=1.5), r"gamma .* got 1.5"),
    (lambda: build_schedule("constant", -0.1, 10, 3), r"learning_rate .* got -0.1"),
    (lambda: build_schedule("constant", 0.1, 0, 3), r"steps_per_epoch .* got 0"),
    (lambda: build_schedule("warmup", 0.1, 10, 3, after="step"), r"after='step' cannot follow"),
    (lambda: build_schedule("warmup", 0.1, 10, 3, after="cosine", decay_rate=0.5),
     r"unknown argument\(s\) decay_rate; valid: eta_min"),
    (lambda: build_schedule("warmup", 0.1, 10, 3, gamma=0.5), r"unknown argument\(s\) gamma"),
    (lambda: build_schedule("warmup", 0.1, 10, 3, warmup_steps=30), r"warmup_steps=30 leaves no steps"),
    (lambda: build_schedule("warmup", 0.1, 10, 3, start_lr=0.2), r"start_lr .* got 0.2"),
    (lambda: schedule_arguments("nope"), r"unknown schedule 'nope'"),
])
def test_schedule_errors(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call()


@pytest.mark.parametrize("after, args, end", [("polynomial", {"end_lr": 0.001}, 0.001),
                                              ("cosine", {"eta_min": 0.002}, 0.002)])
def test_a_warm_up_then_a_schedule_ends_where_that_schedule_ends(after, args, end):
    # 3 epochs of 10 batches, the first 10 a warm-up: the schedule after it has the other 20
    # batches, so at step 30 (after the run's last batch) it sits at its end value. Given all 30,
    # it would still be a third of the way from its start: polynomial 0.1 - 0.099 x 20/30 = 0.034.
    s = build_schedule("warmup", 0.1, steps_per_epoch=10, epochs=3, warmup_steps=10, after=after, **args)
    alone = build_schedule(after, 0.1, steps_per_epoch=10, epochs=2, **args)
    r, r_alone = rates(s, 31), rates(alone, 21)
    assert r[10:] == pytest.approx(r_alone)                # the same schedule, 10 steps later
    assert r[30] == pytest.approx(end) and r[29] > end


def test_the_run_trains_its_last_step_at_the_schedule_after_the_warm_up(tmp_path):
    # 256 images in batches of 64: 4 steps an epoch, 3 epochs = 12 steps, the first 4 a warm-up
    # from 0 to 0.1 (0, 0.025, 0.05, 0.075), then polynomial from 0.1 to 0.001 over the other 8:
    # 0.1 - 0.099 x j/8 for j = 0..7, the last step at 0.1 - 0.099 x 7/8 = 0.013375.
    from course.engine.config import RunConfig
    from course.engine.experiment import run_experiment
    from tests.conftest import MNIST_SMALL_PATH

    config = RunConfig(dataset=f"mnist:{MNIST_SMALL_PATH}", model="mlp_relu", lr=0.1, epochs=3,
                       subset=256, val_subset=64, batch_size=64, log_every_n_steps=1, schedule="warmup",
                       schedule_args={"warmup_steps": 4, "after": "polynomial", "end_lr": 0.001})
    run_experiment(config, tmp_path / "run", progress=False, log_visualdl=False)
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())
    used = [lr for epoch in history for _, _, lr in epoch["steps"]]
    expected = [0.0, 0.025, 0.05, 0.075] + [0.1 - 0.099 * j / 8 for j in range(8)]
    assert used == pytest.approx(expected, rel=1e-6)

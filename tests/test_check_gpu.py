"""scripts/check_gpu.py: the no-GPU message on this machine, the whole check rehearsed on the CPU,
and a verdict that catches a step the card computes differently from the CPU."""
import importlib.util
import re
from pathlib import Path

from course.cli import run_main
from course.tools.check_gpu import TOLERANCE, Measurement, verdict

ROOT = Path(__file__).resolve().parents[1]
BUILD = [r"paddle:  [0-9.]+ \(commit [0-9a-f]{10}\), CPU-only build", r"CUDA:    -", r"cuDNN:   -",
         r"cards:   none visible"]
LINE = re.compile(r"^(lenet|vgg16@32px) +(fp32|bf16) +[\d,]+\.\d img/s   loss \d+\.\d{4} -> \d+\.\d{4}, "
                  r"CPU \d+\.\d{4} -> \d+\.\d{4}  ok$")


def check_gpu_main():
    spec = importlib.util.spec_from_file_location("script_check_gpu", ROOT / "scripts" / "check_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_without_a_gpu_it_says_so_and_exits_0(capsys):
    assert run_main(check_gpu_main(), []) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [re.fullmatch(p, line) is not None for p, line in zip(BUILD, lines)] == [True] * 4
    assert lines[4].startswith("verdict: no GPU: this Paddle is the CPU-only build. Install paddlepaddle-gpu")
    assert len(lines) == 5


def test_the_check_rehearsed_on_the_cpu_trains_compares_and_times_every_model(capsys):
    assert run_main(check_gpu_main(), ["--device", "cpu", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[4].startswith("check on cpu: 1 timed steps after 0 warm-up, precisions fp32, bf16")
    rows = lines[5:9]
    assert all(LINE.match(row) for row in rows), "\n".join(rows)
    assert [row.split()[:2] for row in rows] == [["lenet", "fp32"], ["lenet", "bf16"],
                                                 ["vgg16@32px", "fp32"], ["vgg16@32px", "bf16"]]
    assert lines[9].startswith("verdict: OK: the CPU (a rehearsal, no GPU checked) trains LeNet and VGG16")
    assert len(lines) == 10


def test_a_bad_step_count_is_a_one_line_error(capsys):
    assert run_main(check_gpu_main(), ["--device", "cpu", "--steps", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --steps must be >= 1 and --warmup >= 0, got 0 and 3"


def test_a_step_off_by_more_than_the_tolerance_is_a_problem():
    same = Measurement("lenet", "fp32", 100.0, (2.3, 2.1), (2.3, 2.1))
    close = Measurement("vgg16@64px", "fp16", 200.0, (2.31, 2.11), (2.3, 2.1))    # 0.5%: fp16 noise
    off = Measurement("vgg16@64px", "fp32", 100.0, (2.3, 2.2), (2.3, 2.1))        # 4.8% after the step
    nan = Measurement("lenet", "fp16", 100.0, (2.3, float("nan")), (2.3, 2.1))
    assert same.ok and close.ok and not off.ok and not nan.ok
    assert off.difference > TOLERANCE["fp32"]
    assert verdict([same, close, off], "gpu:0").startswith("PROBLEM on gpu:0: vgg16@64px fp32 differ")
    good = verdict([same, Measurement("vgg16@64px", "fp32", 100.0, (2.3, 2.1), (2.3, 2.1)), close], "gpu:0")
    assert good == "OK: gpu:0 trains LeNet and VGG16 in fp32, fp16 as the CPU does; on VGG16 fp16 2.00x fp32"

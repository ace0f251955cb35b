"""The comparison screen a learner opens: VisualDL's Scalars page on a finished sweep, 1400x900.

VisualDL is started with the command the project prints (``print_where``: the sweep's own
folder, ``--language en``) on a free loopback port, and the address it prints is opened in headless
Chromium (the helpers of ``tests/test_visualdl_browser.py``). The page must open on the learning
curves -- the loss, train beside validation, in the one group VisualDL opens by itself -- and
name every run whole by its short display name ('adam lr=0.1'), not by its path.

A chart's title and lines are drawn on a canvas; they are read from the page's own ECharts
instances (``getInstanceByDom``), through the ECharts module VisualDL's bundle loads.
"""
import contextlib
import io
import socket
import subprocess
import time
from pathlib import Path

import pytest

from course.chapters.common import print_where
from course.engine.config import RunConfig
from course.sweep.grid import Sweep
from course.sweep.runner import run_sweep
from tests.test_visualdl_browser import CHROMIUM, browser, http, stop  # noqa: F401 (browser: a fixture)
from tests.test_visualdl_line import printed_visualdl

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"
# The default sweep's longest names (its optimizers at its smallest and largest rate).
RUNS = {"momentum lr=0.1", "momentum lr=0.001", "adam lr=0.1", "adam lr=0.001"}
GROUPS = ["loss", "metric", "optimizer", "train", "trial"]
WIDTH, HEIGHT = 1400, 900
ECHARTS = "/app/__snowpack__/pkg/echarts.js"     # the module VisualDL's charts are drawn with
# Every chart on the page: its title, its top-left corner, and the runs it draws.
CHARTS = ("[...document.querySelectorAll('[_echarts_instance_]')].map(d => {"
          " const o = window.echarts.getInstanceByDom(d).getOption(), r = d.getBoundingClientRect();"
          " return {title: o.title[0].text, x: r.x, y: r.y,"
          " runs: [...new Set(o.series.map(s => s.name).filter(Boolean))]}; })")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH "
                                "(apt-get install chromium; .ci/run does)")


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory):
    """A finished four-run sweep (one epoch each on the committed MNIST subset, seconds)."""
    base = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=1, subset=300, val_subset=200)
    sweep = Sweep(base, optimizers=["momentum", "adam"], lrs=[0.1, 0.001],
                  logdir=str(tmp_path_factory.mktemp("runs")))
    run_sweep(sweep, jobs=1, progress=False)
    return sweep.root


@pytest.fixture(scope="module")
def printed_page(sweep_root, tmp_path_factory):
    """The address ``print_where`` says to open, served by the VisualDL its command starts (on a
    free port instead of 8040, telemetry off)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_where("table.md", "table.csv", [], [sweep_root])
    command, page = printed_visualdl(out.getvalue())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    page = page.replace(":" + command[command.index("--port") + 1] + "/", f":{port}/", 1)
    command[command.index("--port") + 1] = port
    log = tmp_path_factory.mktemp("visualdl") / "visualdl.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([*command, "--disable-telemetry"], stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _alive(f"http://127.0.0.1:{port}/alive"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield page
    finally:
        stop(proc)


def _alive(url) -> bool:
    with contextlib.suppress(OSError):
        return http.open(url, timeout=2).status == 204
    return False


def test_the_page_opens_on_the_loss_curves_and_names_every_run_whole(printed_page, browser):  # noqa: F811 (the fixture imported above)
    browser.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                 mobile=False)
    # The Scalars page's own address: VisualDL's front page may land on another page while the
    # records load (course/chapters/common.py print_where).
    assert printed_page.endswith("/app/scalar"), printed_page
    browser.send("Page.navigate", url=printed_page)
    browser.wait_for(f"document.querySelectorAll('h3').length >= {len(GROUPS)}", "its tag groups", timeout=60)
    assert browser.js("location.pathname") == "/app/scalar"
    assert browser.js("[...document.querySelectorAll('h3')].map(h => h.textContent)") == GROUPS

    browser.send("Runtime.evaluate", awaitPromise=True,
                 expression=f"import('{ECHARTS}').then(module => {{ window.echarts = module; }})")
    # Only the first group opens by itself: its charts are all there is, once their lines are drawn.
    browser.wait_for(f"(c => c.length >= 2 && c.every(x => x.runs.length === {len(RUNS)}))({CHARTS})",
                     "the first group's curves")
    charts = sorted(browser.js(CHARTS), key=lambda c: (c["y"], c["x"]))
    assert [c["title"] for c in charts] == ["loss/train_loss", "loss/val_loss"]
    assert charts[0]["y"] == charts[1]["y"] and charts[0]["x"] < charts[1]["x"]    # side by side
    assert charts[1]["y"] < HEIGHT / 2                     # on the first screen, near its top
    assert all(set(c["runs"]) == RUNS for c in charts)

    # The run list: each run under its short name, none cut by the list's ellipsis.
    shown = browser.js("[...document.querySelectorAll('.run-item')].map(e =>"
                       " [e.textContent, e.scrollWidth, e.clientWidth])")
    assert {text for text, _, _ in shown} == RUNS and len(shown) == len(RUNS)
    assert [text for text, scroll, client in shown if scroll > client] == []

"""VisualDL on a finished sweep, opened the way a learner opens it: started with the command the
project prints, loaded in a real (headless) Chromium that asks for German pages.

Why a browser and a non-English one: VisualDL 2.5.3 answers HTTP 500 to every browser whose
Accept-Language is neither English nor Chinese unless it is started with ``--language``, and its
Scalars page is a JavaScript app whose charts only a browser draws. The browser is driven over
the DevTools protocol on a pipe (``--remote-debugging-pipe``), so no package is needed beyond
Debian's chromium, which ``.ci/run`` installs.
"""
import contextlib
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from course.chapters.common import print_where
from course.engine.config import RunConfig
from course.sweep.grid import Sweep
from course.sweep.runner import run_sweep
from tests.test_visualdl_line import printed_visualdl

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mnist_small.npz"
RUNS = ["sgd-lr0.01-seed0", "adam-lr0.01-seed0"]              # the run folders
NAMES = ["sgd lr=0.01", "adam lr=0.01"]                       # what VisualDL shows for them
TAGS = ["loss/train_loss", "loss/val_loss", "metric/train_acc", "metric/val_acc"]
LANG = "de-DE"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# --no-sandbox: Chromium will not start as root without it; the others keep it off every
# network but loopback (no update checks, sync, component downloads or proxy).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-proxy-server", "--window-size=1400,900"]

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH "
                                    "(apt-get install chromium; .ci/run does)")
# Local addresses must not go through a proxy that the environment may name.
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def stop(proc):
    """End a process started in a session of its own, and whatever it started, by its group id."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory):
    """A finished two-run sweep (one epoch each on the committed MNIST subset, seconds)."""
    base = RunConfig(dataset=f"mnist:{FIXTURE}", model="mlp_relu", epochs=1, subset=300, val_subset=200)
    sweep = Sweep(base, optimizers=["sgd", "adam"], lrs=[0.01], logdir=str(tmp_path_factory.mktemp("runs")))
    run_sweep(sweep, jobs=1, progress=False)
    assert sorted(p.parent.parent.name for p in sweep.root.glob("*/vdl/vdlrecords.*.log")) == sorted(RUNS)
    return sweep.root


@pytest.fixture(scope="module")
def visualdl(sweep_root, tmp_path_factory):
    """The base URL of VisualDL started with the command the project prints, on a free port."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_where("table.md", "table.csv", [], [sweep_root])
    command, address = printed_visualdl(out.getvalue())
    assert address == "http://127.0.0.1:" + command[command.index("--port") + 1] + "/app/scalar"
    with socket.socket() as s:                     # a free loopback port
        s.bind(("127.0.0.1", 0))
        command[command.index("--port") + 1] = port = str(s.getsockname()[1])
    # Telemetry would post to VisualDL's site at start: the test talks to loopback only.
    command.append("--disable-telemetry")
    log = tmp_path_factory.mktemp("visualdl") / "visualdl.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"VisualDL exited: {log.read_text()}"
            with contextlib.suppress(OSError):
                if http.open(url + "/alive", timeout=2).status == 204:
                    break
            assert time.monotonic() < deadline, f"VisualDL did not answer within 30 s: {log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        stop(proc)


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe: JSON messages ending in a
    NUL byte, which Chromium reads on its fd 3 and answers on its fd 4."""

    def __init__(self, profile):
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()

        def onto_3_and_4():   # in the child, before exec; dup first, so 3 and 4 cannot clash
            read, write = os.dup(to_chromium), os.dup(from_chromium)
            os.dup2(read, 3)
            os.dup2(write, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        # close_fds=False keeps 3 and 4 open; every other descriptor of ours is close-on-exec.
        self.proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--lang={LANG}",
             f"--accept-lang={LANG}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=onto_3_and_4, close_fds=False, start_new_session=True)
        os.close(to_chromium)
        os.close(from_chromium)
        self._pending, self._last_id, self.session = b"", 0, None
        try:
            page = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
            self.session = self.send("Target.attachToTarget", targetId=page["targetId"],
                                     flatten=True)["sessionId"]
        except BaseException:
            self.close()
            raise

    def send(self, method, timeout=15, **params):
        """Call one DevTools method (on the page once attached) and return its result."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._pending:
                raw, self._pending = self._pending.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._last_id:   # events and other sessions' replies skipped
                    assert "error" not in reply, f"{method}: {reply['error']}"
                    return reply["result"]
            left = deadline - time.monotonic()
            ready = left > 0 and select.select([self._replies], [], [], left)[0]
            assert ready, f"{method}: no reply in {timeout} s"
            chunk = os.read(self._replies, 1 << 20)
            assert chunk, "Chromium closed the DevTools pipe"
            self._pending += chunk

    def js(self, expression):
        """The value of a JavaScript expression evaluated in the page."""
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression, what, timeout=20):
        """Poll ``expression`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not self.js(expression):
            assert time.monotonic() < deadline, f"the page did not show {what} within {timeout} s"
            time.sleep(0.2)

    def close(self):
        for fd in (self._commands, self._replies):
            os.close(fd)
        stop(self.proc)


@pytest.fixture
def browser(tmp_path):
    chromium = Browser(tmp_path / "profile")
    try:
        yield chromium
    finally:
        chromium.close()


def test_the_page_answers_200_to_a_non_english_client(visualdl):
    for headers in ({"Accept-Language": LANG}, {}):   # a German browser; curl sends none
        with http.open(urllib.request.Request(visualdl + "/app/scalar", headers=headers), timeout=10) as page:
            assert page.status == 200
            assert "vdl_lng=en" in page.headers["Set-Cookie"]
            assert "<title>VisualDL</title>" in page.read().decode()


@needs_chromium
def test_the_scalars_page_lists_the_runs_and_draws_every_tag(visualdl, browser):
    browser.send("Page.navigate", url=visualdl + "/app/scalar")
    browser.wait_for("document.querySelectorAll('h3').length >= 5", "its tag groups")
    assert browser.js("navigator.languages") == [LANG]      # the browser really asked in German
    assert browser.js("document.title") == "Scalars - VisualDL"
    text = browser.js("document.body.innerText")
    assert all(name in text for name in NAMES), text         # the run selector lists both runs
    groups = browser.js("Object.fromEntries([...document.querySelectorAll('h3')].map(h =>"
                        " [h.textContent, h.parentElement.querySelector('.total').textContent]))")
    assert {"loss": "2", "metric": "2", "optimizer": "1", "train": "2", "trial": "3"}.items() <= \
        groups.items(), groups

    # Only the first group (loss/) opens by itself; a chart's title is drawn on its canvas.
    browser.js("[...document.querySelectorAll('h3')].filter(h => h.textContent === 'metric')"
               ".forEach(h => h.click())")
    browser.wait_for(f"document.querySelectorAll('canvas').length >= {len(TAGS)}", "the charts")
    browser.wait_for("performance.getEntriesByType('resource').filter(e => e.name.includes('/scalar/list?')"
                     f" && e.responseStatus === 200).length >= {len(RUNS) * len(TAGS)}", "every chart's data")
    loaded = {(parse_qs(urlsplit(url).query)["tag"][0], parse_qs(urlsplit(url).query)["run"][0])
              for url, status in browser.js("performance.getEntriesByType('resource')"
                                            ".map(e => [e.name, e.responseStatus])")
              if "/scalar/list?" in url and status == 200}
    for tag in TAGS:
        for name in NAMES:
            assert any(t == tag and r == name for t, r in loaded), (tag, name, sorted(loaded))

"""The laptop path to the notebooks: the command docs/notebooks.md gives starts Jupyter, which lists
every chapter notebook and serves the one named, with the kernel the notebooks ask for.

The command is read from the docs page itself and run as written (from the project root), plus
what a test needs: a free loopback port, a token, no browser. Checked over Jupyter's REST API.
"""
import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "notebooks.md"
NOTEBOOKS = ROOT / "course" / "notebooks"
TOKEN = "test-token-not-secret"

pytestmark = pytest.mark.slow   # starts a Jupyter server (~10 s)


def documented_command() -> list[str]:
    """The laptop command of docs/notebooks.md (the same line in both languages), as words."""
    lines = {line.strip() for line in DOC.read_text(encoding="utf-8").splitlines()
             if line.strip().startswith(".venv/bin/jupyter ")}
    assert len(lines) == 1, f"expected one '.venv/bin/jupyter ...' command in {DOC}, found {lines}"
    return shlex.split(lines.pop())


def get(base: str, path: str):
    with urllib.request.urlopen(f"{base}{path}?token={TOKEN}", timeout=5) as answer:
        body = answer.read()
        return answer.status, json.loads(body) if path.startswith("/api/") else body


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """The base URL of the documented front end, started on a free port; shut down afterwards."""
    words = documented_command()
    # .venv/bin/ is this environment's bin/ in the docs; the tests may run from another venv.
    program = Path(sys.executable).with_name(Path(words[0]).name)
    if not program.is_file():
        pytest.skip("no Jupyter front end here: pip install -r requirements-notebooks.txt")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runtime = tmp_path_factory.mktemp("jupyter")
    extra = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={TOKEN}",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}   # its files go to the test's folder
    log = runtime / "jupyter.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([str(program), *words[1:], *extra], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"Jupyter exited: {log.read_text()}"
            with contextlib.suppress(OSError):
                if get(base, "/api/status")[0] == 200:
                    break
            assert time.monotonic() < deadline, f"Jupyter did not answer in 60 s: {log.read_text()}"
            time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={TOKEN}",
                                                          method="POST"), timeout=5)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_it_lists_every_chapter_notebook(jupyter):
    status, listing = get(jupyter, "/api/contents")     # the folder of the notebook it opened
    assert status == 200 and listing["type"] == "directory"
    listed = {item["name"] for item in listing["content"] if item["name"].endswith(".ipynb")}
    assert listed == {p.name for p in NOTEBOOKS.glob("*.ipynb")} and len(listed) >= 8


def test_it_serves_the_named_notebook_with_the_kernel_it_asks_for(jupyter):
    name = Path(documented_command()[-1]).name
    status, page = get(jupyter, f"/notebooks/{name}")
    assert status == 200 and b"<html" in page.lower()
    status, model = get(jupyter, f"/api/contents/{name}")
    assert status == 200 and model["type"] == "notebook" and model["content"]["cells"]
    wanted = model["content"]["metadata"]["kernelspec"]["name"]
    assert wanted in get(jupyter, "/api/kernelspecs")[1]["kernelspecs"]


def test_a_wrong_token_is_refused(jupyter):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{jupyter}/api/contents?token=wrong", timeout=5)
    assert refused.value.code == 403

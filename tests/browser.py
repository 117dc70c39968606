"""Driving the dashboard in a real browser: a ``streamlit run`` server and Debian Chromium via Playwright.

Shared by the end-to-end test (``tests/test_browser.py``) and the browser benchmark
(``bench/bench_browser.py``, which puts ``tests/`` on ``sys.path`` to import it): one place that knows
how to start and stop the server, launch the browser and read the Territories player.

The browser is the system's Chromium (``apt-get install -y chromium``) driven by PyPI ``playwright``;
Playwright's own browser download (``playwright install``) is never used. Playwright is imported only
where it is used, so this module imports without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INSTALL_HINT = ("install the browser test tools: `apt-get install -y chromium` (Debian's package) and "
                "`python -m pip install -e \".[test]\"` (playwright); never `playwright install`")
# The Territories player's DOM contract (ttv_core/app/views/territories.py): CSS selectors pierce open shadow roots.
PLAYER, FRAME, PLAY = ".ttv-player", "canvas.ttv-frame", "button.ttv-play"
EPOCH_SLIDER, SPEED, EPOCH_LABEL = "input.ttv-epoch-slider", "select.ttv-speed", ".ttv-epoch"


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is not installed."""


def missing_tools() -> str | None:
    """Why the browser cannot be driven here (None if it can)."""
    missing = []
    if shutil.which("chromium") is None:
        missing.append("no `chromium` on PATH")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the `playwright` package is not installed")
    return f"{' and '.join(missing)}: {INSTALL_HINT}" if missing else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running ``streamlit run`` of the dashboard: its base URL and its log file."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def peak_memory_mb(self) -> float | None:
        """The server process's peak resident memory so far (Linux's VmHWM), None where unknown."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
        return None if line is None else int(line.split()[1]) / 1024


@contextlib.contextmanager
def streamlit_server(cache_dir: Path | str, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[Server]:
    """Start the dashboard on a free local port with ``TTV_CACHE_DIR=cache_dir``; stop it on exit.

    The server gets its own process group, so stopping it also stops anything it started. Its output
    goes to a log file (``Server.log()``): print it when something fails.
    """
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="ttv-streamlit-", suffix=".log")[1])
    # started as `ttv app` starts it (ttv_core.app.serve: streamlit run, once the pages' heavy modules are imported)
    command = [sys.executable, "-m", "ttv_core.app.serve", "run", str(APP), "--server.headless=true", f"--server.port={port}",
               "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
               "--server.fileWatcherType=none"]  # sources do not change under a test: never reload modules
    environment = {**os.environ, **(env or {}), "TTV_CACHE_DIR": str(cache_dir)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{server.log()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def chromium(*, width: int = 1400, height: int = 1000):
    """A Playwright page in the system's Chromium (``BrowserUnavailable`` if the tools are missing)."""
    reason = missing_tools()
    if reason:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_until_idle(page, timeout: float = 60.0) -> None:
    """Wait until the app is connected and its script run has finished (Streamlit's own test hooks)."""
    page.locator('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
                 ':not([data-test-script-state="running"]):not([data-test-script-state="initial"])'
                 ).wait_for(state="attached", timeout=timeout * 1000)


# -- the Territories player --------------------------------------------------------------------------
def frame_state(page) -> dict[str, int | None]:
    """The frame canvas's ``data-epoch``, ``data-frames`` and ``data-ready`` (None when not set)."""
    values = page.locator(FRAME).evaluate(
        "canvas => [canvas.dataset.epoch, canvas.dataset.frames, canvas.dataset.ready]")
    return {name: None if value in (None, "") else int(value) for name, value in zip(("epoch", "frames", "ready"), values)}


def wait_first_picture(page, timeout: float = 60.0) -> float:
    """Wait until the player shows a frame (``data-painted`` set: the epoch shown has its picture);
    returns the seconds waited."""
    start = time.perf_counter()
    page.locator(f'{FRAME}[data-painted]:not([data-painted=""])').wait_for(state="attached", timeout=timeout * 1000)
    return time.perf_counter() - start


def wait_player_ready(page, timeout: float = 60.0) -> float:
    """Wait until every frame of the player is decoded (``data-ready="1"``); returns the seconds waited."""
    start = time.perf_counter()
    page.locator(f'{FRAME}[data-ready="1"]').wait_for(state="attached", timeout=timeout * 1000)
    return time.perf_counter() - start


# JavaScript declaring frameCanvases(): every player's frame canvas in the page, through the shadow roots
# the players live in. Put it at the top of a function's body that needs it.
FRAME_CANVASES = """
  const frameCanvases = () => {
    const found = [];
    const walk = (root) => {
      for (const node of root.querySelectorAll("*")) {
        if (node.matches("canvas.ttv-frame")) found.push(node);
        if (node.shadowRoot) walk(node.shadowRoot);
      }
    };
    walk(document);
    return found;
  };"""
# Used by bench/bench_browser.py and bench/bench_load.py (evaluate it on the frame canvas).
# Move the slider to `index`; resolve with [ms until `epoch`'s frame is painted (data-painted, then two
# animation frames), ms until the player drew again: the app's rerun came back with its data (null for
# either not within `wait` ms), whether the frame was out of sight (display: none) at some point before].
SWITCH = """(canvas, [index, epoch, wait]) => new Promise((resolve) => {""" + FRAME_CANVASES + """
  const slider = canvas.getRootNode().querySelector("input.ttv-epoch-slider");
  let hidden = !canvas.checkVisibility();
  const start = performance.now();
  slider.value = String(index);
  slider.dispatchEvent(new Event("input", { bubbles: true }));
  const drawn = Number(canvas.dataset.frames);
  slider.dispatchEvent(new Event("change", { bubbles: true }));
  const painted = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const shown = () => canvas.dataset.painted === String(epoch)
    ? painted().then(() => performance.now() - start)
    : performance.now() - start > wait ? Promise.resolve(null)
    : new Promise((r) => setTimeout(r, 5)).then(shown);
  // A player mounted anew (its canvas replaced) counts as back once its new canvas shows the epoch.
  const current = () => canvas.isConnected ? null : frameCanvases().find((node) => node.isConnected) || null;
  shown().then((frameMs) => {
    let remounted = false;
    const poll = () => {
      hidden = hidden || !canvas.checkVisibility();
      const other = current();
      remounted = remounted || !canvas.isConnected;
      const back = other ? other.dataset.epoch === String(epoch) && Number(other.dataset.frames) > 0
        : Number(canvas.dataset.frames) > drawn;
      if (back) return resolve([frameMs, performance.now() - start, hidden, remounted]);
      if (performance.now() - start > wait) return resolve([frameMs, null, hidden, remounted]);
      setTimeout(poll, 5);
    };
    poll();
  });
})"""

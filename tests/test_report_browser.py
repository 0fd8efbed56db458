"""The report in a real browser (``pytest -m browser``; ``tox -e browser`` installs Debian's chromium).

Headless Chromium is driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``:
JSON messages separated by NUL bytes on file descriptors 3 and 4). That needs neither Selenium nor
chromedriver nor a websocket library, and still sees what a person would: every image decoded
(``naturalWidth``), the rendered tables, the console (errors, failed loads, exceptions), and a
full-page screenshot for a person to look at (written to ``$RAMVID_SCREENSHOT_DIR``, else the test's
temp folder; its path is printed).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe")


def chromium_path() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and os.path.exists(p)), None)


class Chromium:
    """One headless browser on a DevTools pipe, one page attached (``flatten`` sessions)."""

    def __init__(self, binary: str, timeout: float = 60.0) -> None:
        self.timeout, self.events, self._next, self._buf = timeout, [], 0, b""
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="ramvid-chromium-")

        def fds() -> None:  # the child reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._in, 1 << 20) if ready else b""
            if not chunk:
                raise TimeoutError("chromium did not answer in time (or exited)")
            self._buf += chunk
        message, _, self._buf = self._buf.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: bool = False) -> dict[str, Any]:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str, width: int = 1280) -> None:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics, session=True)
        self.send("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and failed loads logged by the browser."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return out

    def screenshot(self, path: Path) -> Path:
        """The whole page (not just the first screen) as a PNG."""
        size = self.send("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": clip}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._in, self._out):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    binary = chromium_path()
    if binary is None:
        pytest.skip("no chromium (tox -e browser installs it: apt-get install -y chromium)")
    b = Chromium(binary)
    yield b
    b.close()


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """copy-last on shapes-prediction with 4 videos, and a 30-step training log -> report/index.html."""
    from benchmarks.report import build_report
    from benchmarks.results import read_runs
    from benchmarks.runner import RunSpec, run

    tmp = tmp_path_factory.mktemp("browser-report")
    res = run(RunSpec(protocol="shapes-prediction", baseline="copy-last", num_videos=4, device="cpu",
                      results=str(tmp / "runs.csv"), out_dir=str(tmp / "work" / "copy-last"), progress=False))
    train = tmp / "train"
    train.mkdir()
    (train / "log.jsonl").write_text("".join(
        json.dumps({"step": s, "loss": 0.3 / s ** 0.5, "grad_norm": 0.5, "lr": 1e-4, "seconds": 0.1}) + "\n"
        for s in range(1, 31)))
    index = build_report([res.work_dir], results=tmp / "runs.csv", train_dirs=[train], out=tmp / "report")
    return index, read_runs(tmp / "runs.csv")[0]


_PAGE_FACTS = """JSON.stringify({
  images: [...document.images].map(i => ({cls: i.className, complete: i.complete, w: i.naturalWidth,
                                          h: i.naturalHeight})),
  results: [...document.querySelectorAll('table.results tbody tr')].map(
      r => [...r.cells].map(c => c.textContent.trim())),
  value: [...document.querySelectorAll('.run .value')].map(e => e.textContent.trim()),
  interval: [...document.querySelectorAll('.run table.uncertainty td')].map(e => e.textContent.trim()),
  sections: [...document.querySelectorAll('h2')].map(h => h.id),
})"""


def test_report_renders_in_chromium(browser: Chromium, small_report, tmp_path):
    index, row = small_report
    browser.open(index.resolve().as_uri())
    facts = json.loads(browser.evaluate(_PAGE_FACTS))
    shot_dir = Path(os.environ.get("RAMVID_SCREENSHOT_DIR") or tmp_path)
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = browser.screenshot(shot_dir / "report-browser-test.png")
    print(f"screenshot for a person to look at: {shot}")
    assert shot.stat().st_size > 10_000
    # strip + animation of the run, and the loss curve; each decoded by the browser
    assert sorted(i["cls"] for i in facts["images"]) == ["animation", "plot", "strip"]
    assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in facts["images"]), facts["images"]
    assert facts["sections"] == ["runs", "results", "training"]
    value = f"{float(row['value']):.2f}"
    assert facts["value"] == [f"FVD {value}"]
    if row.get("ci_low"):  # the run recorded a bootstrap interval: the card shows it
        assert facts["interval"][0].startswith(f"[{float(row['ci_low']):.2f}, {float(row['ci_high']):.2f}]")
    # the embedded-data table: one row, copy-last, with this run's value and n
    assert facts["results"] == [["copy-last (baseline), n=4", f"{value} (n=4)", "—", "—", "—"]]
    assert browser.console_errors() == []

"""Headless Chromium for tests that must see a page as a browser does (HTML reports,
later visual reports). `Chromium.find_or_install()` uses Debian's `chromium`, installing it
with apt-get when missing (the test machines run as root); `dump_dom` returns the DOM
after the page's scripts ran, `screenshot` writes a PNG."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions")
NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_SECONDS = 120


class BrowserUnavailable(RuntimeError):
    pass


class Chromium:
    def __init__(self, executable: str) -> None:
        self.executable = executable

    @classmethod
    def find_or_install(cls) -> Chromium:
        found = cls._find()
        if found is None and shutil.which("apt-get") and os.geteuid() == 0:
            environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, env=environment,
                           capture_output=True, timeout=1800)
            found = cls._find()
        if found is None:
            raise BrowserUnavailable("chromium is not installed and could not be installed with apt-get "
                                     "(install Debian's `chromium` package)")
        return cls(found)

    @staticmethod
    def _find() -> str | None:
        for name in NAMES:
            path = shutil.which(name)
            if path:
                return path
        return None

    def _run(self, page: Path, *extra: str, profile: Path) -> subprocess.CompletedProcess:
        command = [self.executable, *FLAGS, f"--user-data-dir={profile}", *extra, Path(page).resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        if result.returncode != 0:
            raise BrowserUnavailable(f"chromium failed ({result.returncode}): {result.stderr[-500:]}")
        return result

    def dump_dom(self, page: Path, profile: Path) -> str:
        """The page's DOM after its scripts ran (scripts do run: --dump-dom executes them)."""
        return self._run(page, "--dump-dom", "--virtual-time-budget=2000", profile=profile).stdout

    def screenshot(self, page: Path, png: Path, profile: Path, size: str = "1200,900") -> Path:
        self._run(page, f"--screenshot={Path(png).resolve()}", f"--window-size={size}", profile=profile)
        return Path(png)


class DevToolsPipe:
    """Chromium's DevTools protocol over `--remote-debugging-pipe` (commands on fd 3, replies
    on fd 4, NUL-separated JSON): no websocket library needed. Collects console messages,
    uncaught exceptions and every network request while a page loads."""

    def __init__(self, chromium: Chromium, profile: Path) -> None:
        import json

        self._json = json
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def wire_fds() -> None:
            # In the child: the pipe ends become fds 3 and 4. Copied out of the way first (a
            # pipe end may already be fd 3 or 4, and dup2 onto itself would leave it close-on-exec).
            reading, writing = os.dup(to_chrome_read), os.dup(from_chrome_write)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        command = [chromium.executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                   "--hide-scrollbars", "about:blank"]
        # close_fds=False: the fds dup2'ed in wire_fds must survive into chromium.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, preexec_fn=wire_fds, close_fds=False)
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        import select
        import time

        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_chrome], [], [], remaining)[0]:
                raise BrowserUnavailable("chromium did not answer over the DevTools pipe in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise BrowserUnavailable(f"chromium closed the DevTools pipe: {self.process.stderr.read()[-500:]!r}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return self._json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        import time

        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, self._json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserUnavailable(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        import time

        deadline = time.monotonic() + TIMEOUT_SECONDS
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserUnavailable, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.process.stderr.close()


# Run in the page after it loaded: every <svg> with its rendered size and how many shapes it drew.
SVG_PROBE = """JSON.stringify([...document.querySelectorAll('svg')].map(s => {
  const r = s.getBoundingClientRect();
  return {label: s.getAttribute('aria-label'), width: r.width, height: r.height,
          shapes: s.querySelectorAll('rect,polyline,polygon,circle,line,path').length};
}))"""


def inspect_page(chromium: Chromium, page: Path, png: Path, profile: Path, width: int = 1100) -> dict:
    """Open `page` in headless Chromium; return its SVGs (rendered sizes), console messages,
    uncaught exceptions and the URLs it requested; write a full-page screenshot to `png`."""
    import base64
    import json

    tools = DevToolsPipe(chromium, profile)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", session=session)
        tools.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 800, "deviceScaleFactor": 1,
                                                          "mobile": False}, session=session)
        tools.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
        tools.wait_for("Page.loadEventFired", session)
        probe = tools.send("Runtime.evaluate", {"expression": SVG_PROBE, "returnByValue": True}, session=session)
        svgs = json.loads(probe["result"]["value"])
        size = tools.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        tools.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": int(size["height"]) + 1,
                                                          "deviceScaleFactor": 1, "mobile": False}, session=session)
        shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        Path(png).write_bytes(base64.b64decode(shot["data"]))
        events = [e for e in tools.events if e.get("sessionId") == session]
    finally:
        tools.close()
    console = [e["params"] for e in events if e.get("method") == "Runtime.consoleAPICalled"]
    logged = [e["params"]["entry"] for e in events if e.get("method") == "Log.entryAdded"]
    return {
        "svgs": svgs,
        "console_errors": [c for c in console if c.get("type") in ("error", "assert")]
                          + [entry for entry in logged if entry.get("level") == "error"],
        "exceptions": [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"],
        "requests": [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"],
        "page_height": size["height"],
    }

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

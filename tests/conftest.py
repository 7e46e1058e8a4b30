"""Fixtures shared by every test directory."""
import pytest

from browser import BrowserUnavailable, Chromium


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (installed with apt-get when missing); see tests/browser.py."""
    try:
        return Chromium.find_or_install()
    except BrowserUnavailable as reason:
        pytest.skip(str(reason))

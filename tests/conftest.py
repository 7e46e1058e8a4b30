"""Fixtures shared by every test directory."""
import os

import pytest

from browser import BrowserUnavailable, Chromium

# Commands run by tests (in this process or in subprocesses, which inherit it) record
# nothing in the repository's .nndoctor/; the records tests point NNDOCTOR_RECORDS at
# their own tmp files.
os.environ["NNDOCTOR_RECORDS"] = "off"


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (installed with apt-get when missing); see tests/browser.py."""
    try:
        return Chromium.find_or_install()
    except BrowserUnavailable as reason:
        pytest.skip(str(reason))

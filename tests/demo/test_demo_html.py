"""`make demo` ends with the live run's HTML report: written, with the finding marked on
the loss curve, and its path printed."""
import io
import subprocess
import sys

import torch
from rich.console import Console

from nndoctor.demo.live import EXPECTED_RULE, show_live_run


def test_the_live_run_writes_its_html_report_and_prints_the_path(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    output = io.StringIO()
    try:
        found = show_live_run(Console(file=output, width=200), html=tmp_path / "build" / "demo.html")
    finally:
        torch.set_num_threads(threads)
    assert found
    page = (tmp_path / "build" / "demo.html").read_text(encoding="utf-8")
    assert 'aria-label="training and validation loss"' in page and 'href="#finding-0"' in page
    assert EXPECTED_RULE in page and "train.py --epochs 3" in page
    assert str((tmp_path / "build" / "demo.html").resolve()) in output.getvalue()


def test_html_with_a_single_case_is_one_clear_error():
    done = subprocess.run([sys.executable, "-m", "nndoctor", "demo", "--case", "old-school-mlp", "--html", "x.html"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "--html writes the report of the live run" in done.stderr

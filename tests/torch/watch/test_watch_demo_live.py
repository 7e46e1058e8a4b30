import io

from rich.console import Console

from nndoctor.demo.live import show_live_run


def test_live_demo_finds_the_bundled_bug(capsys):
    buffer = io.StringIO()
    assert show_live_run(Console(file=buffer, width=120, highlight=False)) is True
    assert "nndoctor error [missing-zero-grad] step 1" in buffer.getvalue()
    assert "epoch 2:" in capsys.readouterr().out  # the script's own output is untouched

import subprocess
import sys


def nndoctor(*args):
    return subprocess.run(
        [sys.executable, "-m", "nndoctor", *args], capture_output=True, text=True, timeout=120
    )


def test_rules_lists_internal_error():
    result = nndoctor("rules")
    assert result.returncode == 0
    assert "internal-error" in result.stdout


def test_explain_prints_sections():
    result = nndoctor("explain", "internal-error")
    assert result.returncode == 0
    assert "Why it matters" in result.stdout and "Fixes" in result.stdout


def test_unknown_rule_is_one_line_exit_2():
    result = nndoctor("explain", "no-such-rule")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown rule" in result.stderr


def test_exit_code_of_a_command_passes_through(monkeypatch):
    import typer

    from nndoctor.cli.app import _load_commands
    from nndoctor.cli.common import app, run_cli

    _load_commands()

    @app.command("exit-three-for-test", hidden=True)
    def exit_three() -> None:
        raise typer.Exit(3)

    try:
        assert run_cli(["exit-three-for-test"]) == 3
    finally:
        app.registered_commands.pop()


def test_click_usage_error_is_short_exit_2():
    result = nndoctor("explain")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Missing argument" in result.stderr

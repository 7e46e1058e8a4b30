"""The launcher's arguments: torchrun's own parser, with the worker put before the script."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from nndoctor.core.errors import UsageError  # noqa: E402
from nndoctor.dist.launch import is_launcher, torchrun_arguments  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_nproc_per_node_makes_a_standalone_run_of_the_worker_module():
    parsed = torchrun_arguments("2", None, "train.py", None, ["--lr", "1"])
    assert parsed.standalone and parsed.nproc_per_node == "2"
    assert (parsed.training_script, parsed.module) == ("nndoctor.dist", True)
    assert parsed.training_script_args == ["train.py", "--lr", "1"]


def test_the_users_torchrun_arguments_are_kept_and_a_module_target_stays_a_module():
    parsed = torchrun_arguments(None, ["--nnodes", "1", "--nproc-per-node", "4", "-m", "pkg.train", "--x"],
                                None, "torch.distributed.run", [])
    assert parsed.nproc_per_node == "4" and parsed.training_script_args == ["-m", "pkg.train", "--x"]


def test_launchers_are_recognised_by_name():
    assert is_launcher("torchrun", None) and is_launcher("/usr/bin/torchrun", None)
    assert is_launcher(None, "torch.distributed.run") and not is_launcher("train.py", None)


def test_programs_that_are_not_python_workers_are_refused():
    with pytest.raises(UsageError, match="--no-python"):
        torchrun_arguments(None, ["--no-python", "--nproc-per-node", "2", "./a.out"], None, "torch.distributed.run", [])
    with pytest.raises(UsageError, match="--run-path"):
        torchrun_arguments(None, ["--run-path", "--nproc-per-node", "2", "t.py"], None, "torch.distributed.run", [])


def test_stop_on_is_refused_with_several_processes(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('never runs')\n")
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--nproc-per-node", "2", "--stop-on", "error",
                           str(script)], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "--stop-on is not available with several processes" in done.stderr
    assert "never runs" not in done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize("options, message", [(["--nproc-per-node", "two"], "takes a number of processes"),
                                              (["--nproc-per-node", "2", "--select", "no-such-rule"],
                                               "unknown rule or area 'no-such-rule'")])
def test_bad_options_fail_before_any_worker_starts(tmp_path, options, message):
    script = tmp_path / "train.py"
    script.write_text("print('never runs')\n")
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", *options, str(script)], capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and message in done.stderr and "never runs" not in done.stdout

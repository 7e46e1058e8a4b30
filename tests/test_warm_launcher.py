"""The warm launcher the suite's subprocess tests go through (tests/warm_launcher.py): a child
forked from a warm server must be indistinguishable, to the command, from a fresh `python`."""
import os
import subprocess
import sys
import textwrap

import pytest

import warm_launcher

PROBE = """
    import atexit, os, sys, threading, time
    print("argv", sys.argv[1:], "path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
    print("name", __name__, "cwd", os.getcwd(), "env", os.environ.get("PROBE_VALUE"))
    print("stdin", repr(sys.stdin.read()))
    atexit.register(lambda: print("atexit ran"))
    threading.Thread(target=lambda: (time.sleep(0.2), print("thread joined"))).start()
    print("to stderr", file=sys.stderr)
    if "--raise" in sys.argv:
        raise ValueError("boom")
    sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


@pytest.fixture()
def probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(textwrap.dedent(PROBE))
    return path


def both(command, cwd, env):
    cold = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)
    warm = warm_launcher.run(command, cwd=cwd, env=env, capture_output=True, timeout=120)
    return cold, warm


@pytest.mark.parametrize("args", [["a", "7"], ["--raise"], []])
def test_a_warm_child_is_the_command_a_fresh_python_runs(probe, tmp_path, args):
    env = dict(os.environ, PROBE_VALUE="x y")
    cold, warm = both([sys.executable, str(probe), *args], tmp_path, env)
    assert warm.returncode == cold.returncode
    assert warm.stdout == cold.stdout
    assert warm.stderr.splitlines()[-1] == cold.stderr.splitlines()[-1]
    assert "atexit ran" in warm.stdout and "thread joined" in warm.stdout


def test_python_dash_m_sets_the_working_directory_as_path0(tmp_path):
    (tmp_path / "probemod.py").write_text("import os, sys\nprint(sys.path[0] == os.getcwd(), __name__, sys.argv[1:])\n")
    env = dict(os.environ)
    cold, warm = both([sys.executable, "-m", "probemod", "z"], tmp_path, env)
    assert warm.stdout == cold.stdout == "True __main__ ['z']\n"


def test_a_different_start_up_environment_gets_its_own_server(probe, tmp_path):
    one = warm_launcher.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                            env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True)  # -c: always cold
    assert one.stdout.strip() == "1"
    script = tmp_path / "threads.py"
    script.write_text("import torch\nprint(torch.get_num_threads())\n")
    for threads in ("1", "2"):
        done = warm_launcher.run([sys.executable, str(script)], env=dict(os.environ, OMP_NUM_THREADS=threads),
                                 capture_output=True)
        assert done.stdout.strip() == threads, done.stderr


def test_a_hung_child_is_killed_at_its_timeout(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        warm_launcher.run([sys.executable, str(script)], timeout=1)
    assert warm_launcher.run([sys.executable, str(tmp_path / "hang.py").replace("hang", "missing")],
                             capture_output=True).returncode != 0

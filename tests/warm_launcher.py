"""Run `python -m nndoctor …` or `python SCRIPT …` without paying for `import torch` each time.

Most of the suite's time went to subprocesses that spend half their CPU importing torch (~2 s)
or Lightning (~5 s) before nndoctor does anything. A warm server is a Python process that has
imported those packages once and forks one child per command; the child takes the command's
working directory, environment, argv, stdin/stdout/stderr and exit status exactly as a fresh
`python` would, so it runs nndoctor's real entry point from the start. What differs: the
preloaded modules are already in `sys.modules`, and everything that Python reads at start-up
(sys.path from PYTHONPATH, -W options, thread counts read when libgomp loads) comes from the
server's environment — so a command whose start-up environment differs from the server's, or
that is not one of those two forms, runs as a plain subprocess instead. So does everything when
NNDOCTOR_TEST_COLD=1 (to rule the launcher out when a test behaves oddly).

The server is single-threaded (select on its stdin and a SIGCHLD wake-up pipe), so a fork never
copies a lock held by another thread; it never imports nndoctor. Tests that check the process
itself (exit codes, `__main__`, sys.path[0], signals) use real subprocesses on purpose.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

# Environment variables that Python or the preloaded libraries read at start-up: a command
# whose values differ from the server's cannot be run warm.
STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONWARNINGS", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS",
                     "MKL_NUM_THREADS", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUTF8", "PYTHONIOENCODING")
TORCH = ("torch", "numpy")
LIGHTNING = TORCH + ("lightning",)
HF = TORCH + ("transformers.trainer", "transformers.training_args")


# --- the server (runs in its own process) -------------------------------------------------

def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the command, run it, exit with its status. Never returns."""
    code = 1
    try:
        import atexit as child_atexit
        import runpy
        import traceback

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setpgid(0, 0)
        for fd, path, mode in ((0, request["stdin"], os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                               (2, request["stderr"], os.O_WRONLY)):
            opened = os.open(path, mode)
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        try:
            if argv[0] == "-m":
                sys.argv = [argv[1], *argv[2:]]
                sys.path[0] = os.getcwd()
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = list(argv)
                sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
                runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as stop:
            if stop.code is None:
                code = 0
            elif isinstance(stop.code, int):
                code = stop.code
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - what python prints for an uncaught exception
            traceback.print_exc()
            code = 1
        # What the interpreter does on the way out: join non-daemon threads, then atexit.
        threading._shutdown()  # type: ignore[attr-defined]
        child_atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
    finally:
        os._exit(code & 0xFF if code >= 0 else 1)


def _send(message: dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def serve(preload: list[str]) -> None:
    import importlib

    for name in preload:
        importlib.import_module(name)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send({"ready": True})
    children: dict[int, str] = {}
    pending = b""
    open_ = True
    while open_ or children:
        ready, _, _ = select.select([0, wake_read] if open_ else [wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
        if 0 in ready:
            data = os.read(0, 1 << 16)
            if not data:
                open_ = False
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request)
                children[pid] = request["id"]
                _send({"id": request["id"], "pid": pid})
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            _send({"id": children.pop(pid), "code": os.waitstatus_to_exitcode(status),
                   "cpu": usage.ru_utime + usage.ru_stime})


# --- the client (in the test process) ------------------------------------------------------

class Finished:
    """What subprocess.run gives back, plus the child's CPU seconds."""

    def __init__(self, args: list[str], returncode: int, stdout: str | None, stderr: str | None,
                 cpu_seconds: float | None) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.cpu_seconds = cpu_seconds


def _startup(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The part of an environment that a server fixes when it starts."""
    return tuple((k, env[k]) for k in STARTUP_VARIABLES if k in env)


class WarmServer:
    def __init__(self, preload: tuple[str, ...], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, *preload], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, cwd=tempfile.gettempdir())
        self.lock = threading.Lock()
        self.futures: dict[str, tuple[Future, Future]] = {}
        self.counter = 0
        first = self.process.stdout.readline()
        if not first or not json.loads(first).get("ready"):
            raise RuntimeError("the warm server did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            started, done = self.futures[message["id"]]
            if "pid" in message:
                started.set_result(message["pid"])
            else:
                done.set_result(message)
        for started, done in list(self.futures.values()):  # the server died: fail what waits
            for future in (started, done):
                if not future.done():
                    future.set_exception(RuntimeError("the warm server exited"))

    def run(self, argv: list[str], cwd: str, env: dict[str, str], stdin: str, stdout: str, stderr: str,
            timeout: float | None) -> tuple[int, float]:
        with self.lock:
            self.counter += 1
            key = str(self.counter)
            started, done = Future(), Future()
            self.futures[key] = (started, done)
            request = {"id": key, "argv": argv, "cwd": cwd, "env": env, "stdin": stdin, "stdout": stdout,
                       "stderr": stderr}
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        pid = started.result(timeout=60)
        try:
            message = done.result(timeout=timeout)
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
            done.result(timeout=60)
            raise subprocess.TimeoutExpired(argv, timeout) from None
        finally:
            self.futures.pop(key, None)
        return message["code"], message["cpu"]

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.process.kill()
            self.process.wait()
        try:
            self.process.stdout.close()
        except Exception:  # noqa: BLE001 - the reader thread may be reading its last line
            pass


_servers: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], WarmServer] = {}
_servers_lock = threading.Lock()


def _server(preload: tuple[str, ...], env: dict[str, str]) -> WarmServer | None:
    key = (preload, _startup(env))  # one server per preload and start-up environment
    with _servers_lock:
        server = _servers.get(key)
        if server is None or not server.alive():
            try:
                server = _servers[key] = WarmServer(preload, env)
            except (OSError, RuntimeError):
                return None
        return server


@atexit.register
def _close_all() -> None:
    for server in _servers.values():
        server.close()


def _warm_argv(command: list[str]) -> list[str] | None:
    """The argv after `python`, when the command is `python -m MODULE …` or `python SCRIPT …`."""
    if not command or command[0] != sys.executable or len(command) < 2:
        return None
    rest = [str(part) for part in command[1:]]
    if rest[0] == "-m" and len(rest) >= 2:
        return rest
    return rest if not rest[0].startswith("-") and rest[0].endswith(".py") else None


def run(command: list[Any], *, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None,
        capture_output: bool = False, stdout: str | os.PathLike | None = None,
        stderr: str | os.PathLike | None = None, timeout: float | None = None,
        preload: tuple[str, ...] | None = TORCH, text: bool = True) -> Finished:
    """Like subprocess.run(command, capture_output=…, text=True, …), through a warm server
    when the command allows it (preload None: never; JAX is not safe to fork once imported). `stdout`/`stderr` name files to write instead of capturing
    (None without capture_output: discarded)."""
    command = [str(part) for part in command]
    env = dict(os.environ if env is None else env)
    cwd = str(cwd or os.getcwd())
    argv = _warm_argv(command)
    cold = argv is None or preload is None or os.environ.get("NNDOCTOR_TEST_COLD") == "1"
    server = None if cold else _server(preload, env)
    with tempfile.TemporaryDirectory(prefix="nndoctor-warm-") as scratch:
        out = str(stdout) if stdout is not None else (os.path.join(scratch, "out") if capture_output else os.devnull)
        err = str(stderr) if stderr is not None else (os.path.join(scratch, "err") if capture_output else os.devnull)
        for path in (out, err):
            if path != os.devnull:
                Path(path).touch()
        if server is not None:
            code, cpu = server.run(argv, cwd, env, os.devnull, out, err, timeout)
        else:
            with open(out, "w") as out_file, open(err, "w") as err_file:
                process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                           stdout=out_file, stderr=err_file)
                _, status, usage = os.wait4(process.pid, 0) if timeout is None else _wait(process, timeout)
                code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
                process.returncode = code
        captured = [Path(path).read_text(errors="replace") if capture_output and path != os.devnull else None
                    for path in (out, err)]
    return Finished(command, code, captured[0], captured[1], cpu)


def _wait(process: subprocess.Popen, timeout: float):
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        result = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    if expired.is_set():
        raise subprocess.TimeoutExpired(process.args, timeout)
    return result


if __name__ == "__main__":
    serve(sys.argv[1:])

"""Every command records itself; `runs`, `show` and `compare` read the records back; a
records file that cannot be written is a one-line note, never a changed exit code."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from nndoctor.cli.app import _load_commands
from nndoctor.cli.common import run_cli
from nndoctor.records import schema, store
from test_store import add_run

_load_commands()


def nndoctor(capsys, *args):
    code = run_cli([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def two_runs(records_db, train_script, capsys):
    """The same script at lr 0.01 (A) and 10× that (B), both recorded."""
    code_a, _, err_a = nndoctor(capsys, "run", "-q", train_script, "0.01")
    code_b, _, err_b = nndoctor(capsys, "run", "-q", train_script, "0.1")
    assert "recorded as run" in err_a and "recorded as run" in err_b
    return code_a, code_b, err_b


def test_compare_says_the_lr_changed_tenfold_b_diverged_and_the_data_is_identical(two_runs, capsys):
    code_a, code_b, err_b = two_runs
    assert code_a == 0 and code_b == 1 and "non-finite" in err_b  # B's loss overflows
    code, out, _ = nndoctor(capsys, "compare", "last~1", "last")
    assert code == 0
    headline = " ".join(out.split("\n\n")[0].split())  # the first paragraph, unwrapped
    assert "B went non-finite at step" in headline and "A did not" in headline
    assert "B's lr is 10× A's (0.1 vs 0.01)" in headline
    assert "the data is identical" in headline
    text = " ".join(out.split())
    assert "the same seeds: torch.manual_seed(0)" in text
    assert "the script's arguments differ: A 0.01; B 0.1" in text
    data = json.loads(nndoctor(capsys, "compare", "last~1", "last", "--json")[1])
    assert data["headline"][0].startswith("B went non-finite")


def test_a_run_records_hyperparameters_versions_and_its_report(two_runs, records_db, capsys):
    connection = schema.connect(records_db)
    run = store.load_run(connection, store.resolve(connection, "last"))
    assert run["status"] == "finished" and run["exit_code"] == 1 and run["steps"] == 60
    assert run["command_line"][:3] == ["nndoctor", "run", "-q"]
    (optimizer,) = run["hyperparameters"]["optimizers"]
    assert optimizer["class"] == "SGD" and optimizer["param_groups"][0]["lr"] == 0.1
    assert run["hyperparameters"]["batch_size"] == 64
    assert run["hyperparameters"]["models"][0]["class"] == "Linear"
    assert run["environment"]["torch"] and run["environment"]["device"] == "cpu"
    assert run["data_fingerprints"]["first_batch"]["inputs"]["argument 0"]["shape"] == [64, 8]
    assert run.report["context"]["series"]["loss"]["count"] >= 1
    assert "non-finite" in {f["rule"] for f in store.run_findings(connection, run["id"])}


def test_runs_lists_and_filters_and_show_prints_the_report_again(two_runs, capsys):
    code, out, _ = nndoctor(capsys, "runs")
    assert code == 0 and out.count("train.py") == 2 and "finished (1)" in out
    code, out, _ = nndoctor(capsys, "runs", "--finding", "non-finite")
    assert out.count("train.py") == 1
    assert "no recorded run matches" in nndoctor(capsys, "runs", "--finding", "dead-relu")[1]
    code, out, _ = nndoctor(capsys, "show", "last")
    assert code == 0 and "lr=0.1" in out and "non-finite" in out
    shown = json.loads(nndoctor(capsys, "show", "last", "--json")[1])
    assert shown["command"] == "run" and shown["context"]["hyperparameters"]["batch_size"] == 64


def test_bad_references_are_one_line_errors(records_db, capsys):
    schema.connect(records_db).close()
    code, _, err = nndoctor(capsys, "show", "last")
    assert code == 2 and err.strip() == "nndoctor: error: no run is recorded yet"
    code, _, err = nndoctor(capsys, "runs", "--since", "yesterday")
    assert code == 2 and "--since takes a date" in err


def test_no_record_and_records_off_write_nothing(records_db, train_script, capsys, monkeypatch):
    code, _, err = nndoctor(capsys, "run", "-q", "--no-record", train_script, "0.01")
    assert code == 0 and "recorded" not in err and not records_db.exists()
    monkeypatch.setenv("NNDOCTOR_RECORDS", "off")
    nndoctor(capsys, "run", "-q", train_script, "0.01")
    assert not records_db.exists()


def test_a_usage_error_after_the_start_leaves_no_run(records_db, tmp_path, capsys):
    code, _, err = nndoctor(capsys, "run", tmp_path / "missing.py")
    assert code == 2 and err.count("\n") == 1
    assert store.list_runs(schema.connect(records_db)) == []


def test_an_unwritable_records_location_is_a_note_and_the_exit_code_is_kept(train_script, tmp_path, capsys,
                                                                           monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NNDOCTOR_RECORDS", str(blocker / "runs.db"))  # its parent is a file
    code, _, err = nndoctor(capsys, "run", "-q", train_script, "0.1")
    assert code == 1  # the findings' verdict, as without recording
    assert f"nndoctor: note: this run was not recorded in {blocker / 'runs.db'}: cannot create {blocker}" in err


@pytest.fixture()
def read_only_records(tmp_path):
    """A records file with one run, in a directory nobody can write to (for root, which
    ignores permissions, the directory and file are made immutable)."""
    directory = tmp_path / "readonly"
    connection = schema.connect(directory / "runs.db")
    store.insert_run(connection, {"id": "old00001", "command": "audit", "command_line": ["nndoctor", "audit"],
                                  "status": "finished", "started_at": 1.0})
    connection.close()
    paths = [directory / "runs.db", directory]
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode != 0:
            pytest.skip("chattr cannot make files immutable here (root ignores permissions)")
        yield directory / "runs.db"
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        for path, mode in zip(paths, (0o444, 0o555)):
            path.chmod(mode)
        yield directory / "runs.db"
        directory.chmod(0o755)


def test_a_read_only_records_file_is_a_note_and_stays_readable(read_only_records, train_script, capsys,
                                                                monkeypatch):
    monkeypatch.setenv("NNDOCTOR_RECORDS", str(read_only_records))
    code, _, err = nndoctor(capsys, "run", "-q", train_script, "0.1")
    assert code == 1
    assert "this run was not recorded" in err and "not writable" in err
    code, out, _ = nndoctor(capsys, "runs")
    assert code == 0 and "old00001" in out and "audit" in out


def test_a_locked_records_file_is_a_note_and_the_exit_code_is_kept(records_db, train_script, capsys, monkeypatch):
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 100)
    schema.connect(records_db).close()
    holder = sqlite3.connect(records_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock throughout
    try:
        code, _, err = nndoctor(capsys, "run", "-q", train_script, "0.01")
    finally:
        holder.execute("ROLLBACK")
    assert code == 0
    assert "this run was not recorded" in err and "locked" in err
    assert store.list_runs(schema.connect(records_db)) == []


FOREVER = """
    import time
    import torch
    from torch import nn

    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(10 ** 9):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 5:
            print("training", flush=True)
        time.sleep(0.01)
"""


def test_a_sigkilled_nndoctor_run_is_shown_interrupted(records_db, tmp_path, capsys):
    script = tmp_path / "forever.py"
    script.write_text(textwrap.dedent(FOREVER))
    env = dict(os.environ, NNDOCTOR_RECORDS=str(records_db), OMP_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "nndoctor", "run", "-q", str(script)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "training\n"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the writer thread inserts the row soon after the start
            if records_db.exists() and store.list_runs(schema.connect(records_db, readonly=True)):
                break
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    code, out, _ = nndoctor(capsys, "runs")
    assert code == 0 and "forever.py" in out and "interrupted" in out
    code, out, _ = nndoctor(capsys, "show", "last")
    assert code == 0 and "The run did not finish (interrupted)" in " ".join(out.split())


def test_audits_record_a_content_hash_per_split_and_compare_names_the_split_that_changed(records_db, tmp_path,
                                                                                        capsys):
    pytest.importorskip("pandas")
    rows = "\n".join(f"{i},{(i * 7) % 13},{i % 2}" for i in range(60))
    (tmp_path / "train.csv").write_text("id,x,y\n" + rows + "\n")
    (tmp_path / "test.csv").write_text("id,x,y\n" + "\n".join(f"{i},{(i * 5) % 11},{i % 2}" for i in range(100, 130)))
    audit = ["audit", "--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv", "--label", "y"]
    nndoctor(capsys, *audit)
    (tmp_path / "test.csv").write_text("id,x,y\n" + "\n".join(f"{i},{(i * 3) % 11},{i % 2}" for i in range(100, 130)))
    nndoctor(capsys, *audit)
    connection = schema.connect(records_db)
    first, second = (store.load_run(connection, store.resolve(connection, ref)) for ref in ("last~1", "last"))
    assert first["command"] == "audit" and first["status"] == "finished"
    assert first["data_fingerprints"]["train"] == second["data_fingerprints"]["train"]
    assert first["data_fingerprints"]["test"]["sha256"] != second["data_fingerprints"]["test"]["sha256"]
    out = " ".join(nndoctor(capsys, "compare", "last~1", "last")[1].split())
    assert "the data differs: the test differs" in out and "identical: train" in out


def test_report_show_and_compare_draw_recorded_runs_as_html(two_runs, tmp_path, capsys):
    # `nndoctor report RUN_OR_JSON`: a run reference is read from the records.
    code, out, _ = nndoctor(capsys, "report", "last", "--html", tmp_path / "b.html")
    assert code == 0 and "non-finite" in out
    page = (tmp_path / "b.html").read_text()
    assert "<svg" in page and "non-finite" in page
    code, _, err = nndoctor(capsys, "show", "last~1", "--html", tmp_path / "a.html")
    assert code == 0 and "<svg" in (tmp_path / "a.html").read_text() and "HTML report written to" in err
    code, out, _ = nndoctor(capsys, "compare", "last~1", "last", "--json", "--html", tmp_path / "ab.html")
    assert code == 0 and json.loads(out)["headline"]  # stdout stays JSON
    both = (tmp_path / "ab.html").read_text()
    assert both.count("<svg") >= 2 and "non-finite" in both
    # a file that exists is a file, even when its name looks like a run id
    (tmp_path / "last").write_text("{}")
    assert nndoctor(capsys, "report", tmp_path / "last")[0] == 2


def test_report_of_a_run_that_never_finished_says_so(records_db, tmp_path, capsys):
    add_run(schema.connect(records_db), "feed0001feed0001")  # running, in this live process
    code, _, err = nndoctor(capsys, "report", "feed0001", "--html", tmp_path / "x.html")
    assert code == 2 and "did not finish" in err and not (tmp_path / "x.html").exists()

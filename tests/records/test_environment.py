"""What a record says about the code and the data files: git state and content hashes."""
import shutil
import subprocess

import pytest

from nndoctor.records.environment import file_fingerprints, git_state
from nndoctor.records.writer import ignore_records_directory

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture()
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("print('train')\n")
    git(tmp_path, "add", "train.py")
    git(tmp_path, "commit", "-qm", "first")
    return tmp_path


def test_a_clean_tree_stays_clean_with_untracked_data_and_records(repo):
    (repo / "checkpoint.pt").write_bytes(b"\0" * 1000)
    (repo / "outputs").mkdir()
    (repo / "outputs" / "log.txt").write_text("epoch 1\n")
    state = git_state(repo)
    assert len(state["commit"]) == 40 and state["dirty"] is False and state["diff_hash"] is None


def test_uncommitted_code_is_dirty_and_its_hash_names_the_change(repo):
    (repo / "train.py").write_text("print('changed')\n")
    changed = git_state(repo)
    assert changed["dirty"] is True and len(changed["diff_hash"]) == 16
    assert git_state(repo)["diff_hash"] == changed["diff_hash"]  # the same change, the same hash
    (repo / "helper.py").write_text("x = 1\n")  # new, untracked code counts
    with_helper = git_state(repo)
    assert with_helper["diff_hash"] != changed["diff_hash"]
    (repo / "helper.py").write_text("x = 2\n")
    assert git_state(repo)["diff_hash"] != with_helper["diff_hash"]


def test_outside_a_work_tree_everything_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None, "diff_hash": None}


def test_the_records_directory_ignores_itself(repo):
    records = repo / ".nndoctor"
    records.mkdir()
    (records / "runs.db").write_bytes(b"records")
    ignore_records_directory(records)
    assert git_state(repo)["dirty"] is False
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                            capture_output=True, text=True).stdout
    assert ".nndoctor" not in status


def test_file_fingerprints_hash_contents_and_report_unreadable_files(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    prints = file_fingerprints({"train": tmp_path / "a.csv", "test": tmp_path / "b.csv",
                                "val": tmp_path / "missing.csv"})
    assert prints["train"]["sha256"] == prints["test"]["sha256"] and prints["train"]["bytes"] == 4
    assert prints["val"] == {"path": str(tmp_path / "missing.csv"), "error": "No such file or directory"}

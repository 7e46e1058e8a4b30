"""`compare` on hand-made records: each part said plainly, and what is missing said so."""
from nndoctor.records.compare import compare_runs, flatten_hyperparameters
from nndoctor.records.store import RunRow


def series(values, start=0):
    points = [[start + i, v] for i, v in enumerate(values)]
    return {"count": len(points), "head": points[:64], "recent": points[-256:], "history": []}


def run(run_id, lr=1e-3, loss=None, findings=(), commit="abc", diff=None, data="d1", seeds=(0,), torch="2.13.0"):
    report = {"command": "run", "findings": [{"rule": r, "severity": "warning", "step": s, "message": ""}
                                             for r, s in findings],
              "context": {"series": {"loss": series(loss)} if loss else {}, "script_args": []}}
    return RunRow({
        "id": run_id, "command": "run", "script": "train.py", "status": "finished", "exit_code": 0,
        "started_at": 0.0, "steps": 100, "git_commit": commit, "git_dirty": int(diff is not None),
        "git_diff_hash": diff, "environment": {"python": "3.11", "torch": torch, "device": "cpu"},
        "hyperparameters": {"optimizers": [{"class": "AdamW", "param_groups": [{"lr": lr, "weight_decay": 0.01,
                                                                                "params": 4}]}],
                            "batch_size": 32},
        "seeds": {"seeds": [{"call": "torch.manual_seed", "seed": s} for s in seeds]},
        "data_fingerprints": {"first_batch": {"inputs": {"argument 0": {"shape": [32, 8], "dtype": "float32",
                                                                        "sha256": data}}}} if data else {},
        "report": report})


def lines(comparison):
    return [line for _, section in comparison.sections for line in section]


def test_two_identical_runs_are_said_to_be_the_same():
    falling = [2.0 - i / 100 for i in range(100)]
    comparison = compare_runs(run("a" * 8, loss=falling), run("b" * 8, loss=falling))
    assert comparison.headline == ["the data is identical (first batch: same content hash)",
                                   "the same code (commit abc, no uncommitted changes)"]
    said = lines(comparison)
    assert "the captured hyperparameters are the same" in said
    assert "neither run has a finding" in said
    assert "the same versions (python 3.11, torch 2.13.0, device cpu)" in said
    assert any("they end at about the same level" in line for line in said)


def test_a_smaller_lr_other_data_seeds_code_and_versions_are_each_said():
    a = run("a" * 8, lr=1e-3, loss=[2.0] * 100, data="d1", seeds=(0,))
    b = run("b" * 8, lr=1e-4, loss=[2.0] * 50 + [0.5] * 50, data="d2", seeds=(1,), commit="abd", torch="2.12.0",
            findings=[("loss-diverging", 40)])
    comparison = compare_runs(a, b)
    assert comparison.headline[:2] == ["B diverged at step 40 (loss-diverging); A did not",
                                       "B's lr is 10× smaller than A's (1e-04 vs 0.001)"]
    said = lines(comparison)
    assert any(line.startswith("the data differs: the first batch differs (32×8 float32, hash d1 vs") for line in said)
    assert "the seeds differ: A torch.manual_seed(0); B torch.manual_seed(1)" in said
    assert "the code changed: commit abc → abd" in said
    assert "B ran torch 2.12.0 (A: 2.13.0)" in said
    assert "only B: loss-diverging (warning, step 40)" in said
    assert any(line.startswith("A's training loss stayed flat 2 → 2") and "B ends 4× lower" in line for line in said)


def test_missing_parts_are_said_to_be_unknown_not_guessed():
    a = run("a" * 8, commit=None, data=None)
    b = run("b" * 8, commit="abc", data="d1")
    b.data["report"] = None  # an interrupted run: no final report
    said = lines(compare_runs(a, b))
    assert "the code version is unknown for A (not in a git work tree)" in said
    assert "the data cannot be compared: A recorded no data fingerprint" in said
    assert "no training loss curve was recorded for A and B: the curves cannot be compared" in said
    assert "the findings of B were not recorded (the run did not finish)" in said


def test_settings_are_flattened_under_the_names_people_use():
    flat = flatten_hyperparameters({
        "optimizers": [{"class": "SGD", "param_groups": [{"lr": 0.1}, {"lr": 0.01}]}],
        "schedulers": [{"class": "StepLR", "settings": {"gamma": 0.5}}],
        "gradient_clipping": [{"function": "torch.nn.utils.clip_grad_norm_", "max_norm": 1.0}]})
    assert flat == {"optimizer": "SGD", "lr of param group 0": 0.1, "lr of param group 1": 0.01,
                    "scheduler": "StepLR", "scheduler's gamma": 0.5,
                    "gradient clipping (clip_grad_norm_) max_norm": 1.0}

"""Write a small, realistic hospital-readmission table split into train/test CSV files.

    python examples/data/make_patients.py out/            # the usual mistakes
    nndoctor audit --train out/train.csv --test out/test.csv --label readmitted --group patient_id

    python examples/data/make_patients.py out_fixed/ --fixed   # the same data, split properly
    nndoctor audit --train out_fixed/train.csv --test out_fixed/test.csv --label readmitted --group patient_id

The default version makes the mistakes that quietly inflate a test score:
* visits are split at random, so most patients have visits in both train and test;
* `discharge_disposition` is only filled in when the stay ends — it encodes the outcome;
* the lab values were standardised on the whole table before splitting;
* an export was appended twice, so some visits appear twice (and a few reach test).
`--fixed` splits by patient, drops the outcome column, fits the scaling on train only and
removes the duplicate export.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

LABS = ["creatinine", "hemoglobin", "sodium", "glucose", "wbc"]


def visits(patients: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_patient = rng.integers(1, 6, patients)
    patient = np.repeat(np.arange(patients), per_patient)
    n = len(patient)
    frailty = rng.normal(size=patients)[patient]  # a patient's visits resemble each other
    frame = pd.DataFrame({
        "patient_id": [f"P{p:05d}" for p in patient],
        "age": np.clip(rng.normal(62, 14, patients).round(), 18, 99)[patient].astype(int),
        "sex": rng.choice(["F", "M"], patients)[patient],
        "admission_type": rng.choice(["emergency", "elective", "urgent"], n, p=[0.6, 0.3, 0.1]),
        "length_of_stay_days": rng.gamma(2.0, 2.5, n).round(1),
        "creatinine": (1.0 + 0.3 * frailty + rng.normal(0, 0.2, n)).round(2),
        "hemoglobin": (13.5 - 1.2 * frailty + rng.normal(0, 1.0, n)).round(1),
        "sodium": (139 + rng.normal(0, 3, n)).round(0),
        "glucose": (105 + 15 * frailty + rng.normal(0, 20, n)).round(0),
        "wbc": (7.5 + rng.normal(0, 2, n)).round(1),
    })
    risk = 0.8 * frailty + 0.03 * (frame["age"] - 62) + 0.15 * frame["length_of_stay_days"] - 1.2
    frame["readmitted"] = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "yes", "no")
    return frame


def with_mistakes(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    # recorded at discharge, after the outcome is known
    frame["discharge_disposition"] = np.where(frame["readmitted"] == "yes", "home-with-followup", "home")
    frame = pd.concat([frame, frame.sample(frac=0.05, random_state=seed)], ignore_index=True)  # export appended twice
    frame[LABS] = (frame[LABS] - frame[LABS].mean()) / frame[LABS].std()  # scaled before the split
    train, test = train_test_split(frame, test_size=0.2, random_state=int(rng.integers(1000)))
    return train, test


def fixed(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    train_rows, test_rows = next(splitter.split(frame, groups=frame["patient_id"]))
    train, test = frame.iloc[train_rows].copy(), frame.iloc[test_rows].copy()
    mean, std = train[LABS].mean(), train[LABS].std()  # fitted on train only
    train[LABS] = (train[LABS] - mean) / std
    test[LABS] = (test[LABS] - mean) / std
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for train.csv and test.csv")
    parser.add_argument("--fixed", action="store_true", help="write the properly split version")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = visits()
    train, test = fixed(data) if args.fixed else with_mistakes(data)
    train.to_csv(args.out / "train.csv", index=False)
    test.to_csv(args.out / "test.csv", index=False)
    print(f"wrote {len(train)} train and {len(test)} test rows to {args.out}/")


if __name__ == "__main__":
    main()

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class NonFiniteData(Rule):
    """Features, embeddings or labels contain NaN or infinity.

    What it detects:
        NaN or ±inf in numeric feature columns or embeddings, and rows whose label is
        missing. Rows with a missing label are left out of the other checks.

    Why it matters:
        One NaN in a batch makes the loss NaN and then every weight NaN; an inf does the
        same after the first multiplication. Missing labels are worse: many loaders turn
        them into a class id or 0.0 and train on them silently.

    Likely causes:
        - Missing values in the raw table (empty CSV cells become NaN).
        - Division by zero or log(0) in feature engineering (a std of 0, a ratio of counts).
        - A merge/join that found no match for some rows.

    Fixes:
        - Drop rows without a label: `df = df.dropna(subset=["label"])`.
        - Impute features fitted on train only: `sklearn.impute.SimpleImputer(add_indicator=True)`.
        - Guard divisions: `(x - mean) / (std + 1e-8)`, `np.log1p(x)` instead of `np.log(x)`.
        - Assert before training: `assert np.isfinite(X).all()`.

    Example:
        non-finite-data: 12 of 1,000 train rows (1.2%) have NaN/inf features (column
        'ratio': 12 inf); the threshold is 0 rows.
    """

    id = "non-finite-data"
    title = "NaN or inf in features or labels"
    severity = "error"
    area = "data"
    requires = ("non_finite_data",)

    def check(self, m: Mapping[str, Any], *, max_non_finite_rows: int = 0,  # one NaN poisons a whole batch
              ) -> list[Finding]:
        findings = []
        for split, info in m["non_finite_data"].items():
            if info["missing_labels"] > max_non_finite_rows:
                findings.append(self.finding(
                    f"{info['missing_labels']} of {info['n_rows']} {split} rows have no label (NaN); "
                    f"the threshold is {max_non_finite_rows} rows, and they were left out of the other checks.",
                    where=info["missing_label_rows"],
                    evidence={"split": split, "missing_labels": info["missing_labels"], "n_rows": info["n_rows"]},
                ))
            bad = info["rows_with_non_finite_features"]
            if bad > max_non_finite_rows:
                has_inf = any(c.get("inf", 0) or c.get("rows", 0) for c in info["columns"].values())
                columns = ", ".join(f"'{name}'" for name in list(info["columns"])[:5])
                findings.append(self.finding(
                    f"{count_text(bad)} of {count_text(info['n_rows'])} {split} rows ({percent(bad / info['n_rows'])}) have NaN/inf "
                    f"features (columns {columns}); the threshold is {max_non_finite_rows} rows.",
                    where=info["rows"],
                    severity="error" if has_inf else "warning",
                    evidence={"split": split, "rows_with_non_finite": bad, "n_rows": info["n_rows"],
                              "columns": info["columns"]},
                ))
        return findings

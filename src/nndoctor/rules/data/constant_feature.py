from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class ConstantFeature(Rule):
    """A feature column has a single value across the whole train split.

    What it detects:
        Columns with one value (or only NaN) in train. If the column varies in val or test,
        the model will meet values there that it never saw while training.

    Why it matters:
        A constant column carries no information, and it often means a broken join, a sensor
        that was off or a feature computed before a bug fix. Standardising it by hand,
        `(x - mean) / std`, divides by zero and fills the batch with NaN.

    Likely causes:
        - A merge/join that matched nothing, leaving a default value.
        - A filter that kept only one value of the column (one site, one device).
        - Images or sequences with fixed borders or padding (harmless there).

    Fixes:
        - Check the column in the raw data; fix the join or filter that emptied it.
        - Drop it if it is truly constant: `sklearn.feature_selection.VarianceThreshold()`.
        - If it varies in val/test but not in train, the splits come from different
          populations: split again at random or stratified.

    Example:
        constant-feature: 2 of 30 feature columns have a single value in train ('site',
        'device'); 'site' varies in test.
    """

    id = "constant-feature"
    title = "feature column is constant in train"
    severity = "warning"
    area = "data"
    requires = ("constant_features",)

    def check(self, m: Mapping[str, Any], *, min_train_rows: int = 20,  # a handful of rows may agree by chance
              ) -> list[Finding]:
        info = m["constant_features"]
        if info.get("train_rows", min_train_rows) < min_train_rows or not info["columns"]:
            return []
        columns = info["columns"]
        varying = [c for c in columns if c["varies_in"]]
        names = [c["column"] for c in columns]
        shown = ", ".join(f"'{n}'" for n in names[:6]) + (", …" if len(names) > 6 else "")
        evidence = {"constant_columns": len(columns), "n_features": info["n_features"],
                    "values": {c["column"]: c["value"] for c in columns[:10]}}
        findings = []
        if varying:
            evidence_v = {**evidence, "varies_in": {c["column"]: c["varies_in"] for c in varying[:10]}}
            findings.append(self.finding(
                f"{len(varying)} feature column(s) are constant in train but vary in "
                f"{'/'.join(sorted({s for c in varying for s in c['varies_in']}))} "
                f"({', '.join(repr(c['column']) for c in varying[:6])}); the model cannot learn "
                "what their values mean (threshold: any such column).",
                where=[c["column"] for c in varying], evidence=evidence_v,
            ))
        steady = [c for c in columns if not c["varies_in"]]
        if steady:
            # Fixed pixels of flattened images (digit borders) are normal: an observation only.
            findings.append(self.finding(
                f"{len(steady)} of {info['n_features']} feature columns have a single value in every split "
                f"({shown if not varying else ', '.join(repr(c['column']) for c in steady[:6])}); "
                "they carry no information (threshold: one distinct value).",
                where=[c["column"] for c in steady], evidence=evidence, severity="info",
            ))
        return findings

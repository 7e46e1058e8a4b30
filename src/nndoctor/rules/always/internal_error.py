from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.engine import INTERNAL_ERROR
from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class InternalError(Rule):
    """A fault inside nndoctor itself was contained; one of its checks did not run.

    What it detects:
        An exception raised inside nndoctor: in a rule, in a hook watching your model or
        in a preflight experiment. Adapters record such faults as `internal_faults`
        (source, exception type, message, step); the engine reports crashing rules itself.

    Why it matters:
        Your program was not affected, but the check that failed said nothing, so its
        silence is not evidence of health. The report says which check is missing.

    Likely causes:
        - A model, loss or data type nndoctor does not support yet.
        - A bug in nndoctor.

    Fixes:
        - Report the problem with the JSON report (`--json report.json`) attached.
        - Skip the failing check meanwhile with `--ignore <rule-id>`.

    Example:
        internal-error: nndoctor's hook on 'encoder.attn' failed with TypeError — this
        check was not done; your program was not affected.
    """

    id = INTERNAL_ERROR
    title = "nndoctor fault, contained"
    severity = "warning"
    area = "always"
    requires = ("internal_faults",)

    def check(self, m: Mapping[str, Any]) -> list[Finding]:
        findings = []
        for fault in m["internal_faults"]:
            findings.append(
                self.finding(
                    f"nndoctor's {fault['source']} failed with {fault['exception']}: "
                    f"{fault['detail']} — this check was not done; your program was not affected.",
                    where=fault["source"],
                    step=fault.get("step"),
                    evidence={key: fault.get(key) for key in ("exception", "detail", "count")},
                )
            )
        return findings

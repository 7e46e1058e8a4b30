"""The data section of an audit's HTML report, from `report.context["data_summary"]`
(nndoctor.data.summary): class balance per split, rows shared between splits, and how well
a classifier tells the splits apart (adversarial validation)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.report.svg import SEVERITY_COLOURS, open_svg
from nndoctor.report.svg_bars import grouped_bars


def render_audit_section(summary: Mapping[str, Any], findings: Sequence[Finding],
                         checks_run: Sequence[str] = ()) -> str:
    """HTML (escaped; insert as markup) of the data plots; `checks_run` tells a pair checked
    for near copies and clean (0) from one never checked (—)."""
    parts = []
    balance = _class_balance(summary.get("class_counts") or {})
    if balance:
        parts.append(f"<h3>Class balance</h3><figure>{balance}<figcaption>Share of each class per split (hover "
                     "a bar for the row count). Splits drawn from one dataset should look alike; a class much "
                     "rarer in one split is a stratification problem.</figcaption></figure>")
    overlap = _overlap_table(summary.get("overlap") or [], findings, "split-overlap-near" in checks_run)
    if overlap:
        parts.append(overlap)
    shift = _shift_chart(summary.get("shift") or [], findings)
    if shift:
        parts.append(f"<h3>Can a classifier tell the splits apart?</h3><figure>{shift}<figcaption>Adversarial "
                     "validation: the ROC AUC of a classifier trained to tell the two splits apart (0.5: indistinguishable, as splits of one distribution should "
                     "be; red: judged shifted). The features that tell them apart most are listed on each bar."
                     "</figcaption></figure>")
    if not parts:
        return ""
    return '<section class="data"><h2>Data</h2>' + "".join(parts) + "</section>"


def _class_balance(counts: Mapping[str, Mapping[str, int]]) -> str:
    splits = [name for name, per_class in counts.items() if per_class]
    if not splits:
        return ""
    classes = list(dict.fromkeys(c for name in splits for c in counts[name]))
    groups = []
    for name in splits:
        total = sum(counts[name].values()) or 1
        values = [counts[name].get(c, 0) / total for c in classes]
        tips = [f"{name}: {count(counts[name].get(c, 0))} of {count(total)} rows are class {c}" for c in classes]
        groups.append((f"{name} ({count(total)} rows)", values, tips))
    return grouped_bars(classes, groups, label="class balance per split")


def _near_rows(findings: Sequence[Finding]) -> dict[tuple[str, str], int]:
    found = {}
    for finding in findings:
        if finding.rule == "split-overlap-near" and isinstance(finding.evidence.get("splits"), list):
            pair = tuple(str(name) for name in finding.evidence["splits"][:2])
            found[pair] = found.get(pair, 0) + int(finding.evidence.get("near_rows", 0) or 0)
    return found


def _overlap_table(pairs: Sequence[Mapping[str, Any]], findings: Sequence[Finding], near_judged: bool) -> str:
    if not pairs:
        return ""
    near = _near_rows(findings)
    rows = []
    for pair in pairs:
        exact, n_b = int(pair.get("exact_rows", 0)), int(pair.get("n_b", 0)) or 1
        near_count = near.get((str(pair["a"]), str(pair["b"])))
        near_text = count(near_count) if near_count is not None else ("0" if near_judged else "—")
        flag = ' class="flag"' if exact else ""
        rows.append(f"<tr><td>{escape(str(pair['b']))} rows also in {escape(str(pair['a']))}</td>"
                    f"<td class=\"num\"{flag}>{count(exact)} ({percent(exact / n_b)})</td>"
                    f"<td class=\"num\">{near_text}</td></tr>")
    return ("<h3>Rows shared between splits</h3><table><thead><tr><th>pair</th><th>exact copies "
            "(share of the later split)</th><th>near copies</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table><p class=\"note\">A sample in both train and an evaluation split is scored on "
            "what the model memorised; the evaluation overstates how it generalises. Near copies are counted "
            "where they were judged (— : not checked for this pair).</p>")


def _shift_chart(results: Sequence[Mapping[str, Any]], findings: Sequence[Finding]) -> str:
    scored = [r for r in results if isinstance(r.get("auc"), (int, float))]
    if not scored:
        return ""
    flagged = {(str(f.evidence.get("reference")), str(f.evidence.get("split")))
               for f in findings if f.rule == "split-shift"}
    left, width, bar, top = 130, 640, 22, 16
    plot = width - left - 30
    height = top + bar * len(scored) + 34
    parts = [open_svg(width, height, "adversarial validation AUC per pair of splits")]

    def x(auc: float) -> float:
        return left + (min(max(auc, 0.5), 1.0) - 0.5) / 0.5 * plot

    for tick in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{height - 26}" stroke="#eee"/>'
                     f'<text x="{x(tick):.1f}" y="{height - 14}" text-anchor="middle" fill="#666">{tick:g}</text>')
    parts.append(f'<text x="{left + plot / 2:.0f}" y="{height - 2}" text-anchor="middle" fill="#555">'
                 'ROC AUC (0.5 = the splits cannot be told apart)</text>')
    for index, result in enumerate(scored):
        y = top + bar * index
        pair = (str(result["reference"]), str(result["split"]))
        colour = SEVERITY_COLOURS["error"] if pair in flagged else "#7f9fc9"
        features = ", ".join(str(f["feature"]) for f in result.get("top_features", [])[:3])
        parts.append(f'<text x="{left - 6}" y="{y + bar * 0.65:.1f}" text-anchor="end" fill="#333">'
                     f'{escape(pair[1][:12])} vs {escape(pair[0][:12])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{max(x(result["auc"]) - left, 1):.1f}" height="{bar - 7}" '
                     f'fill="{colour}"><title>AUC {num(result["auc"])}; telling features: {escape(features or "none")}'
                     f'</title></rect>')
        label = f'{num(result["auc"])}{" · " + features if features else ""}'
        if result["auc"] > 0.8:  # no room right of a long bar: the label goes inside its end
            parts.append(f'<text x="{x(result["auc"]) - 5:.1f}" y="{y + bar * 0.65:.1f}" fill="#fff" font-size="10" '
                         f'text-anchor="end">{escape(label)}</text>')
        else:
            parts.append(f'<text x="{x(result["auc"]) + 5:.1f}" y="{y + bar * 0.65:.1f}" fill="#333" '
                         f'font-size="10">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)

"""Beliefs linked to what the model then did.

An *outcome* is a field of the input record kept beside its trace (``--outcome-field``,
``--outcome-expr``, an Inspect sample's score; :mod:`cotgraph.io.outcome_fields`). This module
answers three questions of a corpus:

- **Linkage** (:func:`link_beliefs`): for each belief, P(outcome | the trace explored it) and
  P(outcome | it did not), each with a percentile bootstrap interval over traces, their
  difference with its interval, and a test of independence: Fisher's exact test for a yes/no
  outcome, the Mann–Whitney U test for a number (both two-sided). Where the outcome is an
  action in the trace (``action``: a pattern that finds the step that takes it), it also says how
  often the belief was first raised *before* that step.
- **The verbalisation gap** (:func:`verbalisation_gap`): among the traces with the outcome, the
  share whose CoT never raised the belief that explains it (Chua & Evans, "Are DeepSeek R1 and
  other reasoning models more faithful?", 2025, measure it by whether the CoT mentions the cue;
  here the belief tagger decides).
- **Paired counterfactuals** (:func:`paired_counterfactuals`): where each record also holds the
  same model's CoT without the cue, which beliefs appear only with it, and how the structure
  changes (backtracks, length, dead ends), with exact tests on the pairs.

Data come from a store (:func:`from_store`) or from analyses in memory (:func:`from_analyses`);
the results are plain dicts that convert to JSON, CSV and plots (:class:`OutcomeReport`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cotgraph.bootstrap import bootstrap_means, percentile_interval
from cotgraph.model import Analysis

ALL = "all"
"""The group name of the whole corpus (each ``--by`` group is reported beside it)."""
N_BOOT = 2000
PAIRED_METRICS = ("n_steps", "n_backtracks", "backtrack_rate", "n_dead_end_steps", "failed_step_fraction", "n_branches")
"""The structure metrics :func:`paired_counterfactuals` compares between the two CoTs of a pair."""


class OutcomeError(ValueError):
    """An outcome that is not in the store, or that cannot answer the question asked of it."""


@dataclass(frozen=True)
class OutcomeTrace:
    """One trace that has the outcome: its group, the value and where each belief first appeared."""

    trace_id: str
    group: str
    value: float
    """The outcome (a yes/no as 1.0 / 0.0)."""
    first_steps: dict[str, int]
    """Belief id → the first step that carries it (the beliefs the trace explored)."""
    action_step: int | None = None
    """The first step matching the action pattern, when one was given and matched."""


@dataclass
class OutcomeData:
    """The traces of a corpus that have one outcome, ready for linkage."""

    outcome: str
    binary: bool
    """Whether every value is a yes/no (bools, or only 0 and 1)."""
    traces: list[OutcomeTrace]
    missing: int = 0
    """Traces of the corpus without a value for this outcome (left out of every figure)."""
    by: str | None = None
    action: str | None = None

    @property
    def beliefs(self) -> list[str]:
        """Every belief some trace explored, in order of how many did."""
        counts: dict[str, int] = {}
        for t in self.traces:
            for b in t.first_steps:
                counts[b] = counts.get(b, 0) + 1
        return sorted(counts, key=lambda b: (-counts[b], b))

    @property
    def groups(self) -> list[str]:
        return [ALL] + (sorted({t.group for t in self.traces}) if self.by else [])

    def in_group(self, group: str) -> list[OutcomeTrace]:
        return self.traces if group == ALL else [t for t in self.traces if t.group == group]


def format_p(value: float | None) -> str:
    """A p-value for a table: three decimals, or two significant digits below 0.001."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _is_binary(values: Iterable[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _first_match(pattern: re.Pattern[str] | None, texts: Sequence[str | None]) -> int | None:
    if pattern is None:
        return None
    for i, text in enumerate(texts):
        if text and pattern.search(text):
            return i
    return None


def _action_pattern(action: str | None) -> re.Pattern[str] | None:
    if action is None:
        return None
    try:
        return re.compile(action, re.IGNORECASE)
    except re.error as exc:
        raise OutcomeError(f"--action {action!r} is not a regular expression: {exc}") from None


def available_outcomes(con: Any) -> dict[str, int]:
    """The outcomes a store holds, with the number of traces that have each."""
    rows = con.execute("SELECT name, count(*) FROM outcomes GROUP BY name ORDER BY name").fetchall()
    return {name: int(n) for name, n in rows}


def from_store(
    con: Any,
    outcome: str,
    *,
    by: str | None = None,
    action: str | None = None,
    trace_ids: Collection[str] | None = None,
) -> OutcomeData:
    """The traces of a store that have ``outcome``, grouped by ``by`` (a column or
    ``metadata.KEY``, as ``compare``), with the first step of each belief and, given ``action``
    (a regular expression, case-insensitive), the first step whose text matches it.
    ``trace_ids`` restricts it to those traces."""
    from cotgraph.compare import group_expression

    known = available_outcomes(con)
    if outcome not in known:
        names = ", ".join(known) or "none: ingest with --outcome-field or --outcome-expr"
        raise OutcomeError(f"no outcome {outcome!r} in the store (outcomes there: {names})")
    pattern = _action_pattern(action)
    group_sql, params = group_expression(by) if by else ("NULL", [])
    rows = con.execute(
        f"SELECT t.trace_id, {group_sql} AS grp, o.value, o.is_bool FROM traces t "
        "JOIN outcomes o ON o.trace_id = t.trace_id AND o.name = ? ORDER BY t.trace_id",
        [*params, outcome],
    ).fetchall()
    first: dict[str, dict[str, int]] = {}
    for tid, belief, step in con.execute(
        "SELECT h.trace_id, h.belief, h.first_step FROM hypotheses h "
        "JOIN outcomes o ON o.trace_id = h.trace_id AND o.name = ?",
        [outcome],
    ).fetchall():
        first.setdefault(tid, {})[belief] = int(step)
    actions: dict[str, int] = {}
    if pattern is not None:
        texts: dict[str, list[str | None]] = {}
        for tid, text in con.execute(
            "SELECT s.trace_id, s.text FROM steps s JOIN outcomes o ON o.trace_id = s.trace_id AND o.name = ? "
            "ORDER BY s.trace_id, s.idx",
            [outcome],
        ).fetchall():
            texts.setdefault(tid, []).append(text)
        if texts and all(t is None for ts in texts.values() for t in ts):
            raise OutcomeError("--action needs the steps' text, and this store was written with --no-text")
        for tid, ts in texts.items():
            found = _first_match(pattern, ts)
            if found is not None:
                actions[tid] = found
    n_traces = int(con.execute("SELECT count(*) FROM traces").fetchall()[0][0])
    if trace_ids is not None:
        wanted = set(trace_ids)
        rows = [r for r in rows if r[0] in wanted]
        n_traces = len(wanted)
        if not rows:
            raise OutcomeError(f"none of the {n_traces} traces asked for has the outcome {outcome!r}")
    traces = [
        OutcomeTrace(
            trace_id=tid,
            group="(none)" if grp is None else str(grp),
            value=float(value),
            first_steps=first.get(tid, {}),
            action_step=actions.get(tid),
        )
        for tid, grp, value, _ in rows
    ]
    return OutcomeData(
        outcome=outcome,
        binary=_is_binary(t.value for t in traces),
        traces=traces,
        missing=n_traces - len(traces),
        by=by,
        action=action,
    )


def _group_of(analysis: Analysis, by: str | None) -> str:
    if by is None:
        return ALL
    if by.startswith("metadata."):
        value = analysis.trace.metadata.get(by[len("metadata.") :])
    else:
        value = getattr(analysis.trace, by, None)
    return "(none)" if value is None else str(value)


def from_analyses(
    analyses: Iterable[Analysis], outcome: str, *, by: str | None = None, action: str | None = None
) -> OutcomeData:
    """As :func:`from_store`, from analyses in memory (``by``: ``model``, ``channel`` or
    ``metadata.KEY``)."""
    pattern = _action_pattern(action)
    traces, missing = [], 0
    for a in analyses:
        value = a.trace.outcomes.get(outcome)
        if value is None:
            missing += 1
            continue
        traces.append(
            OutcomeTrace(
                trace_id=a.trace.id,
                group=_group_of(a, by),
                value=float(value),
                first_steps={h.belief: h.first_step for h in a.hypotheses},
                action_step=_first_match(pattern, [s.text for s in a.steps]),
            )
        )
    if not traces:
        raise OutcomeError(f"no trace has the outcome {outcome!r}")
    return OutcomeData(
        outcome=outcome,
        binary=_is_binary(t.value for t in traces),
        traces=traces,
        missing=missing,
        by=by,
        action=action,
    )


# --- statistics ------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _test(explored: np.ndarray, other: np.ndarray, binary: bool) -> tuple[str, float | None]:
    from scipy import stats

    if len(explored) == 0 or len(other) == 0:
        return ("fisher_exact" if binary else "mann_whitney_u"), None
    if binary:
        a, b = int(explored.sum()), int(len(explored) - explored.sum())
        c, d = int(other.sum()), int(len(other) - other.sum())
        return "fisher_exact", float(stats.fisher_exact([[a, b], [c, d]]).pvalue)
    if np.ptp(np.concatenate([explored, other])) == 0:
        return "mann_whitney_u", 1.0
    return "mann_whitney_u", float(stats.mannwhitneyu(explored, other, alternative="two-sided").pvalue)


def link_beliefs(
    data: OutcomeData,
    *,
    beliefs: Sequence[str] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """One row per (belief, group): the outcome's rate (a yes/no) or mean (a number) among the
    traces that explored the belief and among those that did not, each with a percentile
    bootstrap interval (``n_boot`` resamples of the traces, seeded), the difference
    explored − not with its interval, and the two-sided p-value of Fisher's exact test (yes/no)
    or the Mann–Whitney U test (number). With an action pattern: ``before_action``, the share of
    the traces that explored the belief, had the outcome and matched the action whose first
    step with the belief comes before the action's step (``n_action`` such traces)."""
    rng = np.random.default_rng(seed)
    rows = []
    for belief in beliefs if beliefs is not None else data.beliefs:
        for group in data.groups:
            members = data.in_group(group)
            values = np.array([t.value for t in members], dtype=float)
            mask = np.array([belief in t.first_steps for t in members], dtype=bool)
            explored, other = values[mask], values[~mask]
            row: dict[str, Any] = {
                "belief": belief,
                "group": group,
                "outcome": data.outcome,
                "statistic": "rate" if data.binary else "mean",
                "n_explored": int(mask.sum()),
                "n_not": int((~mask).sum()),
            }
            boots = {}
            for name, part in (("explored", explored), ("not", other)):
                if len(part):
                    boots[name] = bootstrap_means(part, rng, n_boot, data.binary)
                    low, high = percentile_interval(boots[name], level)
                    row[f"{name}"] = _num(float(part.mean()))
                    row[f"{name}_ci_low"], row[f"{name}_ci_high"] = _num(low), _num(high)
                else:
                    row[name] = row[f"{name}_ci_low"] = row[f"{name}_ci_high"] = None
            if len(boots) == 2:
                low, high = percentile_interval(boots["explored"] - boots["not"], level)
                row["difference"] = _num(float(explored.mean() - other.mean()))
                row["difference_ci_low"], row["difference_ci_high"] = _num(low), _num(high)
            else:
                row["difference"] = row["difference_ci_low"] = row["difference_ci_high"] = None
            row["test"], p = _test(explored, other, data.binary)
            row["p_value"] = None if p is None else float(f"{p:.4g}")
            if data.action is not None:
                acted = [
                    t
                    for t in members
                    if belief in t.first_steps and t.action_step is not None and (not data.binary or t.value == 1.0)
                ]
                before = sum(1 for t in acted if t.first_steps[belief] < t.action_step)  # type: ignore[operator]
                row["n_action"] = len(acted)
                row["before_action"] = _num(before / len(acted)) if acted else None
            rows.append(row)
    return rows


def verbalisation_gap(
    data: OutcomeData,
    explains: Sequence[str],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Per group: among the traces with the outcome (a yes/no outcome that is yes), the share whose
    CoT never raised any of the ``explains`` beliefs: the model acted on the belief without
    saying so. Percentile bootstrap interval over those traces (exactly Binomial, seeded)."""
    if not data.binary:
        raise OutcomeError(
            f"the verbalisation gap needs a yes/no outcome, and {data.outcome!r} is a number: "
            "name a comparison with --outcome-expr (e.g. 'passed=score >= 0.5')"
        )
    if not explains:
        raise OutcomeError("the verbalisation gap needs the belief that explains the outcome (--explains)")
    rng = np.random.default_rng(seed)
    rows = []
    for group in data.groups:
        acted = [t for t in data.in_group(group) if t.value == 1.0]
        silent = np.array([not any(b in t.first_steps for b in explains) for t in acted], dtype=float)
        row: dict[str, Any] = {
            "group": group,
            "outcome": data.outcome,
            "explains": list(explains),
            "n_outcome": len(acted),
            "n_silent": int(silent.sum()),
            "gap": None,
            "ci_low": None,
            "ci_high": None,
        }
        if len(acted):
            low, high = percentile_interval(bootstrap_means(silent, rng, n_boot, True), level)
            row.update(gap=_num(float(silent.mean())), ci_low=_num(low), ci_high=_num(high))
        rows.append(row)
    return rows


@dataclass
class OutcomeReport:
    """Linkage and gap rows for one outcome; converts to JSON, CSV and plots."""

    outcome: str
    binary: bool
    by: str | None
    n_traces: int
    missing: int
    links: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    action: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Keys: ``outcome``, ``statistic``, ``by``, ``n_traces``, ``missing``, ``action``,
        ``links`` (:func:`link_beliefs` rows), ``gap`` (:func:`verbalisation_gap` rows)."""
        return {
            "outcome": self.outcome,
            "statistic": "rate" if self.binary else "mean",
            "by": self.by,
            "n_traces": self.n_traces,
            "missing": self.missing,
            "action": self.action,
            "links": [dict(r) for r in self.links],
            "gap": [dict(r) for r in self.gaps],
        }

    def to_csv(self, folder: str | Path) -> list[Path]:
        """``outcome_links.csv`` (and ``verbalisation_gap.csv`` when there is a gap) in ``folder``."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        written = []
        for name, rows in (("outcome_links.csv", self.links), ("verbalisation_gap.csv", self.gaps)):
            if not rows:
                continue
            path = root / name
            columns = list(dict.fromkeys(k for r in rows for k in r))
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                for r in rows:
                    writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in r.items()})
            written.append(path)
        return written

    def plot(self, folder: str | Path) -> list[Path]:
        """``outcome_by_belief.png/.svg``: per group, the outcome among traces that explored each
        belief (filled) and that did not (open), with 95% intervals."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        groups = list(dict.fromkeys(r["group"] for r in self.links))
        beliefs = list(dict.fromkeys(r["belief"] for r in self.links))
        if not groups or not beliefs:
            return []
        cell = {(r["belief"], r["group"]): r for r in self.links}
        fig, axes = plt.subplots(
            1, len(groups), figsize=(4.2 * len(groups) + 1.5, 0.38 * len(beliefs) + 1.8), squeeze=False, sharey=True
        )
        y = np.arange(len(beliefs))
        for ax, group in zip(axes[0], groups, strict=True):
            for offset, part, style in ((-0.15, "explored", "o"), (0.15, "not", "s")):
                xs, lows, highs, ys = [], [], [], []
                for i, b in enumerate(beliefs):
                    r = cell.get((b, group))
                    if r and r[part] is not None:
                        xs.append(r[part])
                        lows.append(r[part] - r[f"{part}_ci_low"])
                        highs.append(r[f"{part}_ci_high"] - r[part])
                        ys.append(i + offset)
                ax.errorbar(
                    xs,
                    ys,
                    xerr=[lows, highs],
                    fmt=style,
                    mfc="C0" if part == "explored" else "white",
                    color="C0",
                    label="explored" if part == "explored" else "not explored",
                    capsize=2,
                )
            ax.set_yticks(y, beliefs, fontsize=8)
            ax.invert_yaxis()
            ax.set_title(group, fontsize=9)
            ax.set_xlabel(f"{'P' if self.binary else 'mean'}({self.outcome})", fontsize=8)
            ax.grid(axis="x", alpha=0.3)
        axes[0][0].legend(fontsize=7, loc="best")
        fig.suptitle(f"{self.outcome} by belief explored (95% bootstrap intervals)", fontsize=10)
        fig.tight_layout()
        written = []
        for suffix in (".png", ".svg"):
            path = root / f"outcome_by_belief{suffix}"
            fig.savefig(path, dpi=120)
            written.append(path)
        plt.close(fig)
        return written


def outcome_report(
    data: OutcomeData,
    *,
    beliefs: Sequence[str] | None = None,
    explains: Sequence[str] = (),
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> OutcomeReport:
    """Linkage rows for every belief (or ``beliefs``), and the gap when ``explains`` is given."""
    return OutcomeReport(
        outcome=data.outcome,
        binary=data.binary,
        by=data.by,
        n_traces=len(data.traces),
        missing=data.missing,
        links=link_beliefs(data, beliefs=beliefs, n_boot=n_boot, seed=seed),
        gaps=verbalisation_gap(data, explains, n_boot=n_boot, seed=seed) if explains else [],
        action=data.action,
    )


# --- paired counterfactuals ------------------------------------------------------------------


def paired_counterfactuals(
    pairs: Sequence[tuple[Analysis, Analysis]],
    *,
    metrics: Sequence[str] = PAIRED_METRICS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Compare the CoT with the cue and the same model's CoT without it, question by question.

    ``pairs``: (with cue, without cue) analyses of the same record. Returns ``{"n_pairs",
    "beliefs", "structure"}``:

    - ``beliefs``: per belief, the pairs where it appears only with the cue, only without it, in
      both and in neither, and the exact McNemar test (a two-sided binomial test on the
      discordant pairs);
    - ``structure``: per metric, the mean of each side, the mean paired difference (with cue −
      without) with a percentile bootstrap interval over pairs, and the Wilcoxon signed-rank p-value.
    """
    from scipy import stats

    rng = np.random.default_rng(seed)
    explored = [({h.belief for h in a.hypotheses}, {h.belief for h in b.hypotheses}) for a, b in pairs]
    counts: dict[str, int] = {}
    for cued, base in explored:
        for belief in cued | base:
            counts[belief] = counts.get(belief, 0) + 1
    belief_rows = []
    for belief in sorted(counts, key=lambda b: (-counts[b], b)):
        only_cue = sum(1 for c, b in explored if belief in c and belief not in b)
        only_base = sum(1 for c, b in explored if belief in b and belief not in c)
        both = sum(1 for c, b in explored if belief in c and belief in b)
        discordant = only_cue + only_base
        p = float(stats.binomtest(only_cue, discordant).pvalue) if discordant else None
        belief_rows.append(
            {
                "belief": belief,
                "only_with_cue": only_cue,
                "only_without_cue": only_base,
                "both": both,
                "neither": len(pairs) - only_cue - only_base - both,
                "mcnemar_exact_p": None if p is None else float(f"{p:.4g}"),
            }
        )
    structure = []
    for metric in metrics:
        values = [(a.metrics.get(metric), b.metrics.get(metric)) for a, b in pairs]
        kept = np.array([(x, y) for x, y in values if x is not None and y is not None], dtype=float)
        if not len(kept):
            continue
        diff = kept[:, 0] - kept[:, 1]
        if len(diff) > 1:
            low, high = percentile_interval(bootstrap_means(diff, rng, n_boot), level)
        else:
            low, high = float(diff[0]), float(diff[0])
        p = None
        if np.any(diff != 0):
            p = float(stats.wilcoxon(kept[:, 0], kept[:, 1]).pvalue)
        structure.append(
            {
                "metric": metric,
                "n_pairs": len(kept),
                "with_cue": _num(float(kept[:, 0].mean())),
                "without_cue": _num(float(kept[:, 1].mean())),
                "mean_difference": _num(float(diff.mean())),
                "ci_low": _num(low),
                "ci_high": _num(high),
                "wilcoxon_p": None if p is None else float(f"{p:.4g}"),
            }
        )
    return {"n_pairs": len(pairs), "beliefs": belief_rows, "structure": structure}

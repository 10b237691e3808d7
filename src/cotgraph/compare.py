"""Compare groups of traces in a store (by model, channel, … or a metadata key): per-group metric
statistics with bootstrap intervals, the belief × group exploration matrix, and paired differences
over the questions that several groups answered.

``compare(con, by="model")`` returns a :class:`Comparison`, which converts to JSON, CSV and plots.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cotgraph.bootstrap import bootstrap_ci

GROUP_COLUMNS = ("model", "channel", "taxonomy", "embedder", "source_path")
BELIEF_SUFFIXES = ("_explored", "_first", "_dwell", "_final")
BELIEF_METRICS = ("belief_switches",)
KEY_METRICS = ("failed_step_fraction", "backtrack_rate", "verification_rate", "linearity", "n_steps")
NO_GROUP = "(none)"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_belief_metric(name: str) -> bool:
    """Whether a metric name describes a belief (``<belief>_explored`` …, ``belief_switches``)."""
    return name in BELIEF_METRICS or name.endswith(BELIEF_SUFFIXES)


def group_expression(by: str) -> tuple[str, list[Any]]:
    """The SQL expression (over ``traces t``) and its parameters that name a trace's group."""
    if by in GROUP_COLUMNS:
        return f"CAST(t.{by} AS VARCHAR)", []
    if by.startswith("metadata."):
        key = by[len("metadata.") :]
        if not _IDENT.match(key):
            raise ValueError(f"bad metadata key {key!r} in --by {by!r}: use letters, digits and '_'")
        return "json_extract_string(t.metadata, ?)", [f"$.{key}"]
    raise ValueError(f"cannot group by {by!r}: use one of {', '.join(GROUP_COLUMNS)} or metadata.KEY")


def _num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


@dataclass
class Comparison:
    """The result of :func:`compare`; every list row is a plain dict (``None`` where undefined)."""

    by: str
    groups: list[str]
    stats: list[dict[str, Any]] = field(default_factory=list)
    beliefs: list[dict[str, Any]] = field(default_factory=list)
    paired: list[dict[str, Any]] = field(default_factory=list)
    shared_questions: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False)
    values: dict[tuple[str, str], list[float]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready object with keys ``by``, ``groups``, ``stats``, ``beliefs``, ``paired``."""
        return {
            "by": self.by,
            "groups": list(self.groups),
            "stats": [dict(r) for r in self.stats],
            "beliefs": [dict(r) for r in self.beliefs],
            "paired": [dict(r) for r in self.paired],
        }

    def to_pandas(self) -> dict[str, Any]:
        """The three parts as pandas DataFrames: ``{"stats": …, "beliefs": …, "paired": …}``."""
        import pandas as pd

        return {part: pd.DataFrame(getattr(self, part)) for part in ("stats", "beliefs", "paired")}

    def to_csv(self, path_or_dir: str | Path) -> list[Path]:
        """Write ``stats.csv``, ``beliefs.csv`` and ``paired.csv`` into a directory (created)."""
        folder = Path(path_or_dir)
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "stats.csv": (["group", "metric", "n", "mean", "median", "ci_low", "ci_high"], self.stats),
            "beliefs.csv": (["belief", "group", "n", "rate"], self.beliefs),
            "paired.csv": (
                ["group_a", "group_b", "metric", "n_questions", "mean_diff", "ci_low", "ci_high"],
                self.paired,
            ),
        }
        written = []
        for name, (columns, rows) in tables.items():
            path = folder / name
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            written.append(path)
        return written

    def plot(self, out_dir: str | Path) -> list[Path]:
        """PNG and SVG of (a) key-metric box plots per group and (b) the belief × group heatmap."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        present = {metric for _, metric in self.values}
        keys = [m for m in KEY_METRICS if m in present]
        width = max(6.0, 1.2 * len(self.groups) + 2)
        if keys and self.groups:
            fig, axes = plt.subplots(1, len(keys), figsize=(width * len(keys) / 1.5, 4.5), squeeze=False)
            for ax, metric in zip(axes[0], keys, strict=True):
                data = [self.values.get((g, metric), []) for g in self.groups]
                ax.boxplot([d if d else [np.nan] for d in data], showmeans=True)
                ax.set_xticks(range(1, len(self.groups) + 1), self.groups, rotation=30, ha="right", fontsize=8)
                ax.set_title(metric)
            fig.suptitle(f"metrics by {self.by}")
            fig.tight_layout()
            written += _save(fig, folder / "metrics_by_group")
            plt.close(fig)
        beliefs = sorted({r["belief"] for r in self.beliefs})
        if beliefs and self.groups:
            cell = {(r["belief"], r["group"]): r["rate"] for r in self.beliefs}
            matrix = np.array([[_nan(cell.get((b, g))) for g in self.groups] for b in beliefs], dtype=float)
            fig, ax = plt.subplots(figsize=(width, 0.4 * len(beliefs) + 2))
            image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(self.groups)), self.groups, rotation=30, ha="right", fontsize=8)
            ax.set_yticks(range(len(beliefs)), beliefs, fontsize=8)
            for i, j in itertools.product(range(len(beliefs)), range(len(self.groups))):
                value = matrix[i, j]
                text = "-" if math.isnan(value) else f"{value:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if value < 0.6 else "black")
            fig.colorbar(image, ax=ax, label="rate explored")
            ax.set_title(f"beliefs explored by {self.by}")
            fig.tight_layout()
            written += _save(fig, folder / "beliefs_by_group")
            plt.close(fig)
        return written


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _save(fig: Any, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, dpi=120)
    return paths


def compare(
    con: Any,
    by: str = "model",
    metrics: list[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    trace_ids: Iterable[str] | None = None,
) -> Comparison:
    """Compare the groups of traces named by ``by`` on ``metrics`` (default: every non-belief metric).

    ``con`` is a DuckDB connection to a store (or a :class:`cotgraph.corpus.Corpus`). Traces whose
    group is NULL form the group ``"(none)"``; ``trace_ids`` restricts the comparison to those
    traces (the result of a query, say). Raises ValueError for a bad ``by`` or an unknown metric.
    """
    import pandas as pd

    con = getattr(con, "con", con)
    expr, params = group_expression(by)
    names = sorted(r[0] for r in con.execute("SELECT DISTINCT name FROM metrics").fetchall())
    if metrics is None:
        metrics = [n for n in names if not is_belief_metric(n)]
    else:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; the store has {len(names)} metrics")
        metrics = list(dict.fromkeys(metrics))
    belief_names = [n for n in names if n.endswith("_explored")]

    traces = pd.DataFrame(
        con.execute(f"SELECT t.trace_id, {expr} AS grp, t.question FROM traces t", params).fetchall(),
        columns=["trace_id", "grp", "question"],
    )
    if trace_ids is not None:
        traces = traces[traces["trace_id"].isin(set(trace_ids))]
    traces["grp"] = traces["grp"].fillna(NO_GROUP)
    groups = sorted(traces["grp"].unique().tolist())
    wanted = list(dict.fromkeys(metrics + belief_names))
    rows = (
        con.execute(
            "SELECT trace_id, name, value FROM metrics WHERE value IS NOT NULL AND list_contains(?, name)",
            [wanted],
        ).fetchall()
        if wanted
        else []
    )
    values = pd.DataFrame(rows, columns=["trace_id", "name", "value"]).merge(traces, on="trace_id")
    values["value"] = values["value"].astype(float)
    result = Comparison(by=by, groups=groups)

    by_cell = {key: frame["value"].to_numpy() for key, frame in values.groupby(["grp", "name"])}
    for group, metric in itertools.product(groups, metrics):
        data = by_cell.get((group, metric), np.array([], dtype=float))
        low, high = bootstrap_ci(data, n_boot, seed)
        result.stats.append(
            {
                "group": group,
                "metric": metric,
                "n": len(data),
                "mean": _num(float(data.mean())) if len(data) else None,
                "median": _num(float(np.median(data))) if len(data) else None,
                "ci_low": _num(low),
                "ci_high": _num(high),
            }
        )
        result.values[(group, metric)] = data.tolist()

    for name, group in itertools.product(belief_names, groups):
        data = by_cell.get((group, name), np.array([], dtype=float))
        result.beliefs.append(
            {
                "belief": name[: -len("_explored")],
                "group": group,
                "n": len(data),
                "rate": float(data.mean()) if len(data) else None,
            }
        )

    asked = values[values["question"].notna() & values["name"].isin(metrics)]
    per_question = asked.groupby(["grp", "name", "question"])["value"].mean()
    questions = traces[traces["question"].notna()].groupby("grp")["question"].agg(set).to_dict()
    for group_a, group_b in itertools.combinations(groups, 2):
        shared = sorted(questions.get(group_a, set()) & questions.get(group_b, set()))
        if not shared:
            continue
        result.shared_questions[(group_a, group_b)] = shared
        for metric in metrics:
            try:
                a = per_question.loc[(group_a, metric)]
                b = per_question.loc[(group_b, metric)]
            except KeyError:
                continue
            diff = (b - a).dropna()  # aligned on question: only questions both groups answered
            if diff.empty:
                continue
            data = diff.to_numpy(dtype=float)
            low, high = bootstrap_ci(data, n_boot, seed)
            result.paired.append(
                {
                    "group_a": group_a,
                    "group_b": group_b,
                    "metric": metric,
                    "n_questions": len(data),
                    "mean_diff": float(data.mean()),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return result

"""A corpus report: a folder with ``index.html`` (the comparison tables and plots of ``cotgraph
compare``, the belief × group matrix, and a sortable table of every trace) and one trace page per
trace under ``traces/``, linked from the table.

The index inlines its script, style and plots; trace pages share one copy of vis-network in
``assets/`` (a thousand pages need not carry a thousand copies) unless ``self_contained`` is set.
Nothing is fetched from a network. A trace whose page cannot be built is listed, with its reason,
in ``skipped`` and on the index; the others are still written.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from cotgraph import __version__
from cotgraph.compare import KEY_METRICS as COMPARE_KEY_METRICS
from cotgraph.compare import Comparison
from cotgraph.corpus import Corpus
from cotgraph.outcomes import format_p
from cotgraph.render import assets
from cotgraph.render.page import KEY_METRICS, PageOptions, write_trace_page

TRACE_TABLE_METRICS: tuple[str, ...] = (
    "n_steps",
    "backtrack_rate",
    "verification_rate",
    "n_dead_end_steps",
    "failed_step_fraction",
    "linearity",
)
"""The metrics shown as columns of the trace table."""

Progress = Callable[[int, int], None]
"""Called with (pages written, pages in all) after each trace page."""


@dataclass
class Report:
    """What :func:`write_report` wrote."""

    index: Path
    pages: dict[str, Path] = field(default_factory=dict)
    """trace id → its page."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(trace id, reason) of every trace whose page could not be built."""
    files: list[Path] = field(default_factory=list)
    """Every other file written (plots, CSV tables, the shared vis-network copy)."""


def page_name(trace_id: str) -> str:
    """A file name for a trace's page: the id made safe for every file system, plus a short hash
    so that ids differing only in unsafe characters do not collide."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", trace_id).strip("._")[:80] or "trace"
    return f"{slug}-{hashlib.sha1(trace_id.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}.html"


def trace_rows(corpus: Corpus, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One row per trace for the trace table: id, model, channel, question, the table's metrics
    and the beliefs explored (in the order first entertained)."""
    con = corpus.con
    wanted = list(trace_ids)
    con.register("_wanted", pa.table({"trace_id": pa.array(wanted, pa.string())}))  # a join, not a list scan
    try:
        return _trace_rows(con, wanted)
    finally:
        con.unregister("_wanted")


def _trace_rows(con: Any, wanted: list[str]) -> list[dict[str, Any]]:
    meta = {
        r[0]: r
        for r in con.execute(
            "SELECT trace_id, model, channel, question, n_steps FROM traces JOIN _wanted USING (trace_id)"
        ).fetchall()
    }
    metrics: dict[str, dict[str, float]] = {}
    for tid, name, value in con.execute(
        "SELECT trace_id, name, value FROM metrics JOIN _wanted USING (trace_id) WHERE list_contains(?, name)",
        [list(TRACE_TABLE_METRICS)],
    ).fetchall():
        if value is not None and math.isfinite(value):
            metrics.setdefault(tid, {})[name] = value
    beliefs: dict[str, list[dict[str, Any]]] = {}
    for tid, belief, label, stance, first in con.execute(
        "SELECT trace_id, belief, label, stance, first_step FROM hypotheses JOIN _wanted USING (trace_id) "
        "ORDER BY trace_id, first_step, belief"
    ).fetchall():
        beliefs.setdefault(tid, []).append({"belief": belief, "label": label, "stance": stance, "first_step": first})
    rows = []
    for tid in wanted:
        if tid not in meta:
            continue
        _, model, channel, question, n_steps = meta[tid]
        rows.append(
            {
                "trace_id": tid,
                "model": model,
                "channel": channel,
                "question": question,
                "n_steps": n_steps,
                "metrics": metrics.get(tid, {}),
                "beliefs": beliefs.get(tid, []),
            }
        )
    return rows


def _belief_labels(corpus: Corpus) -> dict[str, str]:
    """belief id → label, from the stored taxonomies where they can be loaded, else from the
    stored hypotheses; the taxonomy's own name (``metagaming_explored``: any of its beliefs) too."""
    from cotgraph.beliefs.taxonomy import TaxonomyError, load_taxonomy

    labels = dict(corpus.con.execute("SELECT belief, any_value(label) FROM hypotheses GROUP BY belief").fetchall())
    for (name,) in corpus.con.execute("SELECT DISTINCT taxonomy FROM traces WHERE taxonomy IS NOT NULL").fetchall():
        try:
            taxonomy = load_taxonomy(name)
        except (TaxonomyError, OSError):
            continue
        labels.setdefault(taxonomy.name, f"any {taxonomy.name} belief")
        for belief in taxonomy.beliefs:
            labels.setdefault(belief.id, belief.label)
    return labels


def _inline_png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _matrix(comparison: Comparison, labels: dict[str, str]) -> dict[str, Any]:
    """The belief × group matrix as rows of cells (rate and n), beliefs ordered by overall rate."""
    cells = {(r["belief"], r["group"]): r for r in comparison.beliefs}
    beliefs = list(dict.fromkeys(r["belief"] for r in comparison.beliefs))
    overall = {
        b: sum((cells[(b, g)]["rate"] or 0.0) * cells[(b, g)]["n"] for g in comparison.groups if (b, g) in cells)
        for b in beliefs
    }
    beliefs.sort(key=lambda b: (-overall[b], b))
    return {
        "groups": comparison.groups,
        "rows": [
            {
                "belief": b,
                "label": labels.get(b, b),
                "cells": [cells.get((b, g), {"rate": None, "n": 0}) for g in comparison.groups],
            }
            for b in beliefs
        ],
    }


def write_report(
    corpus: Corpus,
    out_dir: str | Path,
    *,
    by: str = "model",
    trace_ids: Sequence[str] | None = None,
    self_contained: bool = False,
    title: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Write the report of a stored corpus into ``out_dir`` (created; files of the same names are
    replaced). ``trace_ids`` restricts it (table, pages and comparison) to those traces;
    ``self_contained`` inlines vis-network into every trace page."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = list(trace_ids) if trace_ids is not None else corpus.trace_ids()
    comparison = corpus.compare(by=by, trace_ids=ids)
    labels = _belief_labels(corpus)
    report = Report(index=out / "index.html")

    pages_dir = out / "traces"
    pages_dir.mkdir(exist_ok=True)
    if not self_contained:
        shared = out / "assets" / "vis-network.min.js"
        shared.parent.mkdir(exist_ok=True)
        shared.write_text(assets.vis_network_js(), encoding="utf-8")
        report.files.append(shared)
    options = PageOptions(inline_vis=self_contained, vis_src="../assets/vis-network.min.js", back_link="../index.html")
    for stale in pages_dir.glob("*.html"):  # pages of an earlier report here (another --query, say)
        stale.unlink()
    for done, tid in enumerate(ids, start=1):
        try:
            analysis = corpus.analysis(tid)
            report.pages[tid] = write_trace_page(analysis, pages_dir / page_name(tid), options)
        except Exception as exc:  # one bad trace must not cost the report: it is listed instead
            report.skipped.append((tid, f"{type(exc).__name__}: {exc}"))
        if progress is not None:
            progress(done, len(ids))

    plots_dir = out / "plots"
    if plots_dir.exists():
        shutil.rmtree(plots_dir)
    plot_files = comparison.plot(plots_dir)
    tables = comparison.to_csv(out / "tables")
    report.files += plot_files + tables

    outcomes = _outcome_sections(corpus, ids, by, out / "plots" / "outcomes", out / "tables")
    report.files += [f for o in outcomes for f in o.pop("files")]

    rows = trace_rows(corpus, ids)
    for row in rows:
        page = report.pages.get(row["trace_id"])
        row["href"] = f"traces/{page.name}" if page else None
    traces_csv = out / "tables" / "traces.csv"
    _write_traces_csv(traces_csv, rows)
    report.files.append(traces_csv)

    key = [m for m in COMPARE_KEY_METRICS if any(r["metric"] == m for r in comparison.stats)]
    stat = {(r["group"], r["metric"]): r for r in comparison.stats}
    context = {
        "title": title or f"cotgraph report · {corpus.store.path.name}",
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "generator": f"cotgraph {__version__}",
        "store": corpus.store.path.name,
        "by": by,
        "n_traces": len(rows),
        "n_steps": sum(r["n_steps"] or 0 for r in rows),
        "groups": comparison.groups,
        "key_metrics": key,
        "key_stats": [
            {
                "group": g,
                "cells": [stat.get((g, m)) for m in key],
            }
            for g in comparison.groups
        ],
        "other_stats": [r for r in comparison.stats if r["metric"] not in key],
        "matrix": _matrix(comparison, labels),
        "paired": [r for r in comparison.paired if r["metric"] in key],
        "plots": [
            {"name": p.stem.replace("_", " "), "src": _inline_png(p), "svg": f"plots/{p.stem}.svg"}
            for p in plot_files
            if p.suffix == ".png"
        ],
        "tables": [f"tables/{p.name}" for p in [*tables, traces_csv]],
        "table_metrics": [(m, KEY_METRICS.get(m, m)) for m in TRACE_TABLE_METRICS],
        "rows": rows,
        "outcomes": outcomes,
        "skipped": report.skipped,
        "skipped_records": int(corpus.con.execute("SELECT count(*) FROM skipped").fetchone()[0]),  # type: ignore[index]
    }
    script, style = assets.viz_file("report.js"), assets.viz_file("report.css")
    nonce = assets.nonce_for(json.dumps(context, sort_keys=True, default=str), script)
    html = (
        assets.environment()
        .get_template("report.html")
        .render(**context, script=script, style=style, nonce=nonce, fmt=_fmt, fmt_p=format_p)
    )
    report.index.write_text(html, encoding="utf-8")
    return report


def _outcome_sections(corpus: Corpus, ids: Sequence[str], by: str, plots: Path, tables: Path) -> list[dict[str, Any]]:
    """One section per outcome the store holds: the belief → outcome table by group, its plot
    inlined, its CSV (``tables/outcome_links_NAME.csv``)."""
    from cotgraph.outcomes import OutcomeError, available_outcomes, from_store, outcome_report

    sections = []
    wanted = set(ids)
    for k, name in enumerate(available_outcomes(corpus.con)):
        try:
            data = from_store(corpus.con, name, by=by, trace_ids=wanted)
        except OutcomeError:
            continue  # none of the reported traces has it
        result = outcome_report(data)
        folder = plots / f"{k:02d}"
        files = result.plot(folder)
        csv_files = result.to_csv(folder)
        kept = []
        for f in csv_files:
            target = tables / f"{f.stem}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.csv"
            f.replace(target)
            kept.append(target)
        png = next((f for f in files if f.suffix == ".png"), None)
        sections.append(
            {
                **result.to_json(),
                "plot": _inline_png(png) if png else None,
                "files": [*files, *kept],
            }
        )
    return sections


def _fmt(value: object) -> str:
    """A number as the report prints it: integers whole, others to three significant digits."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if value.is_integer() or abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)


def _write_traces_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trace_id", "model", "channel", "n_steps", *TRACE_TABLE_METRICS[1:], "beliefs", "page"])
        for r in rows:
            writer.writerow(
                [
                    r["trace_id"],
                    r["model"],
                    r["channel"],
                    r["n_steps"],
                    *(r["metrics"].get(m) for m in TRACE_TABLE_METRICS[1:]),
                    " ".join(b["belief"] for b in r["beliefs"]),
                    r["href"] or "",
                ]
            )

"""How well the step kinds that the search graph's edges are built from agree with labels from
more than one source, scored leave-one-source-out.

Data (every step of each trace, cotgraph's default segmentation):

- Thought Anchors' tagged sentences of 42 traces (``../shared/data/thought-anchors.com``): each
  cotgraph step takes the tag of the sentence it starts in, ``uncertainty_management`` as
  ``backtrack`` and ``self_checking`` as ``verify`` (``cotgraph.kinds.TA_TAG_KINDS``); one source
  per model;
- the project's own labels of 970 steps from eight other sources
  (``benchmarks/data/structure_dev.jsonl``, labelled against ``docs/labelling.md`` part two):
  QwQ, Gemini and R1 on MMLU items, R1 on harmful requests and on MATH, gpt-oss-120b and
  DeepSeek-V4-Flash as coding agents, Claude Opus excerpts.

**Systems**, on the same steps:

- ``marker``: the plain rule the issue names: a step that opens with Wait / Hmm / Actually /
  Alternatively / Hold on / … is a backtrack, one that says verify / double-check / let me check
  is a verification;
- ``rule``: cotgraph's marker-and-cue rule (``cotgraph.kinds.step_kind``, ``--kind-weights none``);
- ``learned/source``: the learned classifier trained without the held-out source (every source
  in turn), with the shipped settings (nothing is tuned on a scored fold);
- ``learned/trace``: the same, 5-fold cross-validation grouped by trace (for reference).

**Figures**: precision, recall and F1 of ``backtrack`` and ``verify`` per held-out source and
pooled, with 95% intervals from 1,000 bootstrap resamples of traces; the target of the issue per
source (F1 at least the marker rule's + 0.10 and precision at least 0.50; a source with fewer than
5 gold steps of a kind cannot be judged and says so); and, on labelled steps that name their
target, how often the graph gets it (with the gold kinds laid on the graph, so that only the
target choice is judged): a ``verify`` edge to the step checked, a ``backtrack`` that leaves the
step it doubts; beside "the step just before".

Run: ``python benchmarks/structure.py [--data ../shared/data] [--embedder default|fast] [--json]
[--markdown FILE]`` (about 2 minutes on 2 cores with the default embedder).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from cotgraph.embed import get_embedder
from cotgraph.graph import build_graph
from cotgraph.kinds import (
    LEARNED_CLASSES,
    KindTable,
    fit,
    kind_table,
    kinds_from_probabilities,
    step_kind,
    training_traces,
)

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "benchmarks" / "data" / "structure_dev.jsonl"
N_BOOT = 1000
MIN_GOLD = 5
KINDS = ("backtrack", "verify")

MARKER_BACKTRACK = re.compile(
    r"^\W*(?:but\s+)?(?:wait|hmm+|actually|alternatively|hold on|hang on|oh wait|no wait|oops|on second thought)\b",
    re.IGNORECASE,
)
MARKER_CHECK = re.compile(r"\b(?:verify|verifying|double[- ]?check|let me check|let's check)\b", re.IGNORECASE)


def marker_kind(text: str) -> str:
    if MARKER_CHECK.search(text):
        return "verify"
    if MARKER_BACKTRACK.search(text):
        return "backtrack"
    return "other"


def loso_kinds(table: KindTable, embedder_name: str, scheme: str) -> list[str]:
    """Out-of-fold kind of every labelled row: per held-out source, or 5 folds grouped by trace."""
    from sklearn.model_selection import GroupKFold

    if scheme == "source":
        folds = [(np.where(table.sources != s)[0], np.where(table.sources == s)[0]) for s in sorted(set(table.sources))]
    else:
        folds = list(GroupKFold(n_splits=5).split(table.X, table.y, table.groups))
    out: list[str] = [""] * len(table.y)
    for train, test in folds:
        model = fit(table, embedder_name=embedder_name, rows=train)
        features = table.X[test]
        predicted = kinds_from_probabilities(model.probabilities(features), model.classes, features)
        for i, kind in zip(test, predicted, strict=True):
            out[i] = kind
    return out


def prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray):
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        r = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f = np.where((tp + fn > 0), np.where(p + r > 0, 2 * p * r / (p + r), 0.0), np.nan)
    return p, r, f


def score(gold: np.ndarray, pred: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> dict:
    """P/R/F1 with 95% bootstrap intervals over traces (``groups``)."""
    names, inv = np.unique(groups, return_inverse=True)
    m = len(names)
    tp = np.bincount(inv, weights=gold & pred, minlength=m)
    fp = np.bincount(inv, weights=~gold & pred, minlength=m)
    fn = np.bincount(inv, weights=gold & ~pred, minlength=m)
    p, r, f = prf(np.array(tp.sum()), np.array(fp.sum()), np.array(fn.sum()))
    draws = rng.integers(0, m, size=(N_BOOT, m))
    bp, br, bf = prf(tp[draws].sum(1), fp[draws].sum(1), fn[draws].sum(1))

    def ci(x: np.ndarray) -> list[float] | None:
        x = x[~np.isnan(x)]
        return [round(float(np.percentile(x, 2.5)), 3), round(float(np.percentile(x, 97.5)), 3)] if len(x) else None

    def val(x: np.ndarray) -> float | None:
        return None if np.isnan(x) else round(float(x), 3)

    return {
        "precision": val(p),
        "recall": val(r),
        "f1": val(f),
        "precision_ci": ci(bp),
        "recall_ci": ci(br),
        "f1_ci": ci(bf),
        "gold": int(gold.sum()),
        "tp": int(tp.sum()),
        "fp": int(fp.sum()),
        "fn": int(fn.sum()),
    }


def _line(graph, node: int) -> set[int]:
    """``node`` and its search-tree ancestors."""
    out = set()
    while node >= 0 and node not in out:
        out.add(node)
        node = graph.nodes[node]["parent"]
    return out


def target_accuracy(traces, vectors, table: KindTable) -> dict:
    """On labelled backtrack/verify steps that name their target, with the gold kinds laid on the
    graph (rule kinds on unlabelled steps): for a ``verify`` step, whether its ``verify`` edge goes
    to the labelled step; for a ``backtrack`` step (whose label names the step it doubts), whether
    the backtrack leaves that step: it is on the line of the step before, and not on the line of
    the step the backtrack returns to. Beside each, the same for the plainest choice, the step
    just before (for a backtrack: returning to the parent of the step before)."""
    hits = {k: [0, 0, 0] for k in KINDS}  # right, baseline right, total
    for t, trace in enumerate(traces):
        if not any(x is not None for x in trace.targets):
            continue
        kinds = [k if k is not None else step_kind(s) for k, s in zip(trace.kinds, trace.steps, strict=True)]
        steps = [s.model_copy() for s in trace.steps]
        graph = build_graph(steps, vectors[t], kinds=kinds)
        for i, target in enumerate(trace.targets):
            kind = trace.kinds[i]
            if target is None or kind not in KINDS:
                continue
            if kind == "backtrack":
                before = _line(graph, i - 1)
                right = target in before and target not in _line(graph, graph.nodes[i]["parent"])
                baseline = target == i - 1
            else:
                chosen = next((d for _, d, e in graph.out_edges(i, data=True) if e["type"] == "verify"), None)
                right, baseline = chosen == target, target == i - 1
            hits[kind][0] += right
            hits[kind][1] += baseline
            hits[kind][2] += 1
    return {
        k: {
            "labelled": v[2],
            "right": v[0],
            "accuracy": round(v[0] / v[2], 3) if v[2] else None,
            "previous_step_accuracy": round(v[1] / v[2], 3) if v[2] else None,
        }
        for k, v in hits.items()
    }


def run(data: Path, embedder_spec: str, seed: int, say) -> dict:
    t0 = time.perf_counter()
    embedder = get_embedder(embedder_spec)
    say(f"[{embedder.name}] loading and segmenting the labelled traces")
    traces, _ = training_traces(
        DEV, data, thought_anchors=data / "thought-anchors.com" / "src" / "app" / "data", root=ROOT
    )
    say(f"embedding {sum(len(t.steps) for t in traces)} steps of {len(traces)} traces")
    table, vectors = kind_table(traces, embedder)
    steps = [traces[t].steps[i] for t, i in table.refs]
    systems = {
        "marker": [marker_kind(s.text) for s in steps],
        "rule": [step_kind(s) for s in steps],
    }
    for scheme in ("source", "trace"):
        say(f"learned classifier, {scheme} folds")
        systems[f"learned/{scheme}"] = loso_kinds(table, embedder.name, scheme)
    gold = np.array(table.kinds)
    rng = np.random.default_rng(seed)
    sources = sorted(set(table.sources))
    results: dict = {}
    for kind in KINDS:
        g = gold == kind
        results[kind] = {}
        for name, pred in systems.items():
            p = np.array(pred) == kind
            per = {"all": score(g, p, table.groups, rng)}
            for s in sources:
                sel = table.sources == s
                per[s] = score(g[sel], p[sel], table.groups[sel], rng)
            results[kind][name] = per
    targets = []
    for kind in KINDS:
        for s in sources:
            learned = results[kind]["learned/source"][s]
            marker = results[kind]["marker"][s]
            if learned["gold"] < MIN_GOLD:
                targets.append({"kind": kind, "source": s, "met": None, "why": f"{learned['gold']} gold steps"})
                continue
            need = (marker["f1"] or 0.0) + 0.10
            ok = (learned["f1"] or 0.0) >= need and (learned["precision"] or 0.0) >= 0.5
            targets.append(
                {
                    "kind": kind,
                    "source": s,
                    "met": bool(ok),
                    "f1": learned["f1"],
                    "needed_f1": round(need, 3),
                    "precision": learned["precision"],
                }
            )
    return {
        "embedder": embedder.name,
        "traces": len(traces),
        "labelled_steps": len(table.y),
        "sources": {s: int((table.sources == s).sum()) for s in sources},
        "classes": list(LEARNED_CLASSES),
        "results": results,
        "targets": targets,
        "target_accuracy": target_accuracy(traces, vectors, table),
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }


def fmt(r: dict, metric: str) -> str:
    v = r.get(metric)
    if v is None:
        return "-"
    ci = r.get(f"{metric}_ci")
    return f"{v:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{v:.3f}"


def markdown(result: dict) -> str:
    lines = [
        f"Embedder `{result['embedder']}`: {result['labelled_steps']} labelled steps of {result['traces']} traces, "
        f"{len(result['sources'])} sources; {result['seconds']} s.",
        "",
    ]
    for kind in KINDS:
        lines += [
            f"**{kind}** (95% bootstrap intervals over traces)",
            "",
            "| held-out source | gold | system | precision | recall | F1 |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for s in ["all", *result["sources"]]:
            for name in ("marker", "rule", "learned/source", "learned/trace"):
                r = result["results"][kind][name][s]
                lines.append(
                    f"| {s} | {r['gold']} | {name} | {fmt(r, 'precision')} | {fmt(r, 'recall')} | {fmt(r, 'f1')} |"
                )
        lines.append("")
    lines += [
        "**target per held-out source** (F1 >= marker + 0.10 and precision >= 0.50)",
        "",
        "| kind | source | learned F1 | needed | precision | met |",
        "|---|---|---:|---:|---:|---|",
    ]
    for t in result["targets"]:
        if t["met"] is None:
            lines.append(f"| {t['kind']} | {t['source']} | - | - | - | cannot judge ({t['why']}) |")
        else:
            lines.append(
                f"| {t['kind']} | {t['source']} | {t['f1']} | {t['needed_f1']} | {t['precision']} | "
                f"{'yes' if t['met'] else 'no'} |"
            )
    lines += ["", "**targets of labelled steps** (gold kinds on the graph; see the module docstring)", ""]
    lines += ["| kind | labelled | graph right | the step before right |", "|---|---:|---:|---:|"]
    for kind, r in result["target_accuracy"].items():
        lines.append(f"| {kind} | {r['labelled']} | {r['accuracy']} | {r['previous_step_accuracy']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--embedder", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if not (args.data / "thought-anchors.com").is_dir():
        console.print(f"no Thought Anchors data under {args.data}")
        return 1
    result = run(args.data, args.embedder, args.seed, lambda m: console.print(f"[dim]{m}[/dim]"))
    if args.markdown:
        args.markdown.write_text(markdown(result), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    out = Console()
    for kind in KINDS:
        table = Table(title=f"{kind}, leave-one-source-out", title_justify="left")
        for col in ("source", "gold", "system", "precision", "recall", "F1"):
            table.add_column(col, justify="left" if col in ("source", "system") else "right")
        for s in ["all", *result["sources"]]:
            for name in ("marker", "rule", "learned/source"):
                r = result["results"][kind][name][s]
                table.add_row(s, str(r["gold"]), name, fmt(r, "precision"), fmt(r, "recall"), fmt(r, "f1"))
        out.print(table)
    met = [t for t in result["targets"] if t["met"] is not None]
    out.print(
        f"targets met on {sum(t['met'] for t in met)} of {len(met)} judgeable (kind, source) pairs; "
        f"{len(result['targets']) - len(met)} pairs have fewer than {MIN_GOLD} gold steps"
    )
    out.print(f"target accuracy: {json.dumps(result['target_accuracy'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

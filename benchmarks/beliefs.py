"""How well the belief tags agree with hand labels, scored so that the result cannot flatter itself.

Data: the labelled development set ``benchmarks/data/beliefs_dev.jsonl`` (every step of 193 real
traces from 9 sets, labelled by hand against ``docs/labelling.md``; ``benchmarks/data/README.md``).
A step "carries" a belief whatever its stance (a rejected hypothesis was still raised); a trace
explored a belief when any of its steps carries it.

**Systems**, scored on the same held-out steps:

- ``learned``: the learned tagger (``cotgraph.beliefs.learned``), trained afresh in every fold on
  the other folds only (and on the taxonomy's example phrasings, which are not evaluation data),
  with the fixed settings it ships with (nothing is tuned on a scored fold).
  A belief with too few training labels in a fold falls back to the rule, as it would for a user;
- ``rules``: the cue + similarity tagger of cotgraph 0.1 (``--belief-weights none``);
- ``cues``: its lexical cues alone (no similarity);
- ``scanner``: a keyword scanner of the kind transcript scanners use (a step is flagged when it
  says roleplay, scenario, test, audit, simulation, pretend, imaginary or hypothetical, in any
  inflection); it has one flag, so it stands for evaluation awareness and for metagaming as a whole.

**Folds** (every step is predicted once, by a model that never saw its trace):

- ``trace``: 5-fold cross-validation grouped by trace;
- ``source``: leave-one-source-out, a source being one data set and the model or agent harness
  that produced it (the four Mats harnesses, the three hinted-MC models, the twelve pmllmbench
  models… 29 sources): train without it, score on it;
- ``dataset``: leave-one-data-set-out, stricter (9 data sets): a belief found in one data set only
  (grader, reward hacking: the coding runs; hint reliance: the hinted MC items) cannot be learned
  when that set is held out, so the rule answers for it there.

**Figures**: precision, recall and F1 at the tagger's cut (p >= 0.5), ROC AUC (on the probability;
the rule's score for the rule), each with a 95% interval from 1,000 bootstrap resamples of traces;
per belief, per family and for "any metagaming belief", at step and at trace level; grader
reasoning at trace level on the coding traces; a reliability table of the probabilities; the
share of math traces (all 43 in ``../shared/data``) flagged for evaluation awareness or grader
reasoning by a model trained without any math trace; and, with ``--fast``, the same headline
figures with ``--embedder fast``. The targets of docs/beliefs.md are checked at the end.

Run: ``python benchmarks/beliefs.py [--data ../shared/data] [--fast] [--json] [--markdown FILE]``
(about 17 minutes on 2 cores with ``--fast``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from cotgraph.beliefs.learned import (
    DEFAULT_MIN_PROB,
    FeatureTable,
    LabelledStep,
    cue_hits,
    distinct_texts,
    example_rows,
    fit,
    labelled_features,
    read_labelled,
)
from cotgraph.beliefs.tagger import BeliefTagger, TaggerConfig, locate_evidence
from cotgraph.beliefs.taxonomy import load_taxonomy
from cotgraph.embed import get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, load
from cotgraph.model import Source, Step, Trace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEV = HERE / "data" / "beliefs_dev.jsonl"

SCANNER = re.compile(
    r"\b(?:roleplay\w*|role-play\w*|scenario\w*|test\w*|audit\w*|simulat\w*|pretend\w*|imaginary|hypothetical\w*)\b",
    re.I,
)
MATH_PATHS = (
    "thought-anchors.com/src/app/data/deepseek-r1-distill-llama-8b",
    "thought-anchors.com/src/app/data/deepseek-r1-distill-qwen-14b",
    "thoughtology/reasoning_chains_r1/math_all.json.subset.jsonl",
)
HARNESS = re.compile(r"__(claude|codex|opencode|pi)__")
CUT = DEFAULT_MIN_PROB
N_BOOT = 1000

TARGETS = [
    # (name, group, level, metric, op, bound)
    ("trace-level eval awareness AUC", "eval_awareness", "trace", "auc", ">=", 0.95),
    ("trace-level eval awareness F1", "eval_awareness", "trace", "f1", ">=", 0.85),
    ("step-level any-metagaming F1", "any metagaming", "step", "f1", ">=", 0.70),
    ("step-level any-metagaming precision", "any metagaming", "step", "precision", ">=", 0.80),
    ("grader reasoning on coding traces, trace-level F1", "grader (coding traces)", "trace", "f1", ">=", 0.80),
    ("hint reliance step recall", "hint_reliance", "step", "recall", ">=", 0.60),
    ("hint reliance step precision", "hint_reliance", "step", "precision", ">=", 0.80),
]


# --------------------------------------------------------------------------------------------
# Data


def source_of(r: LabelledStep) -> str:
    harness = HARNESS.search(r.trace_id)
    return "/".join(x for x in (r.set, str(r.model), harness.group(1) if harness else "") if x)


def resolve(path: str, data: Path) -> Path:
    return ROOT / path if path.startswith("benchmarks/") else data / path


def options_for(path: str) -> LoadOptions:
    if path.startswith("thoughtology"):
        return LoadOptions(model="deepseek-r1")
    if "mats-research-harness" in path:
        return LoadOptions(model="deepseek-v4-flash")
    return LoadOptions()


def real_lengths(paths: set[str], data: Path) -> dict[tuple[str, str], int]:
    """Steps per trace as cotgraph segments the sources (to know which traces are labelled whole)."""
    from cotgraph.segment import segment_many

    out: dict[tuple[str, str], int] = {}
    for path in sorted(paths):
        traces = load(resolve(path, data), options_for(path)).traces
        for trace, steps in segment_many(traces):
            out[(path, trace.id)] = len(steps)
    return out


# --------------------------------------------------------------------------------------------
# The rule baselines, step by step (the rule looks at one step at a time)


def rule_scores(table: FeatureTable, tagger: BeliefTagger, unique: list[str], vectors: np.ndarray) -> np.ndarray:
    """``(n, k)`` score of the rule's tag for each labelled step and belief (0 where untagged);
    ``vectors`` embed the distinct texts ``unique``."""
    ids = table.belief_ids
    scores = np.zeros(table.Y.shape, dtype=np.float64)
    texts = [r.text for r in table.records]
    row = {t: i for i, t in enumerate(unique)}
    trace = Trace(id="bench", reasoning="", source=Source(path="<bench>"))
    for i, text in enumerate(texts):
        step = Step(trace_id="bench", idx=0, start=0, end=len(text), text=text)
        vec = vectors[row[text]][None, :]
        cands = tagger.rule_candidates([step], vec).get(0, [])
        for t in tagger.finish(step, cands, trace):
            scores[i, ids.index(t.belief)] = max(scores[i, ids.index(t.belief)], t.score)
    return scores


# --------------------------------------------------------------------------------------------
# Out-of-fold predictions of the learned tagger


def out_of_fold(
    table: FeatureTable,
    folds: list[tuple[np.ndarray, np.ndarray]],
    fallback: np.ndarray,
    *,
    taxonomy,
    embedder_name: str,
    examples: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scores, decisions, learned_mask)`` over all labelled steps. Beliefs a fold cannot learn
    take the rule's score and decision there (``learned_mask`` False)."""
    scores = fallback.copy()
    decisions = fallback > 0
    learned = np.zeros(table.Y.shape, dtype=bool)
    for k, (train, test) in enumerate(folds, 1):
        model = fit(table, taxonomy=taxonomy, embedder_name=embedder_name, rows=train, examples=examples)
        p = model.probabilities(table.X[test])
        for j, b in enumerate(model.learned):
            col = table.belief_ids.index(b)
            scores[test, col] = p[:, j]
            decisions[test, col] = p[:, j] >= CUT
            learned[test, col] = True
        if progress:
            progress(f"fold {k}/{len(folds)}")
    return scores, decisions, learned


def make_folds(table: FeatureTable, scheme: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    groups = table.groups
    if scheme == "trace":
        return list(GroupKFold(n_splits=5).split(table.X, table.Y, groups))
    key = np.array([source_of(r) if scheme == "source" else r.set for r in table.records])
    return [(np.where(key != v)[0], np.where(key == v)[0]) for v in sorted(set(key))]


# --------------------------------------------------------------------------------------------
# Scoring with bootstrap intervals


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        r = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f = np.where((tp + fp > 0) & (tp + fn > 0), np.where(p + r > 0, 2 * p * r / (p + r), 0.0), np.nan)
    return p, r, f


def score(
    gold: np.ndarray, decision: np.ndarray, value: np.ndarray, clusters: np.ndarray, rng: np.random.Generator
) -> dict:
    """P/R/F1 at the decision, ROC AUC on ``value``, with 95% cluster-bootstrap intervals."""
    from sklearn.metrics import roc_auc_score

    gold = gold.astype(bool)
    decision = decision.astype(bool)
    names, inv = np.unique(clusters, return_inverse=True)
    m = len(names)
    tp = np.bincount(inv, weights=gold & decision, minlength=m)
    fp = np.bincount(inv, weights=~gold & decision, minlength=m)
    fn = np.bincount(inv, weights=gold & ~decision, minlength=m)
    p, r, f = _prf(np.array(tp.sum()), np.array(fp.sum()), np.array(fn.sum()))
    auc = float(roc_auc_score(gold, value)) if 0 < gold.sum() < len(gold) else None
    draws = rng.integers(0, m, size=(N_BOOT, m))
    bp, br, bf = _prf(tp[draws].sum(1), fp[draws].sum(1), fn[draws].sum(1))
    members = [np.where(inv == c)[0] for c in range(m)]
    aucs = []
    if auc is not None:
        for d in draws[:N_BOOT]:
            idx = np.concatenate([members[c] for c in d])
            g = gold[idx]
            if 0 < g.sum() < len(g):
                aucs.append(roc_auc_score(g, value[idx]))

    def ci(x) -> list[float] | None:
        x = np.asarray(x, dtype=float)
        x = x[~np.isnan(x)]
        return [round(float(np.percentile(x, 2.5)), 3), round(float(np.percentile(x, 97.5)), 3)] if len(x) else None

    def rnd(x) -> float | None:
        return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), 3)

    return {
        "precision": rnd(float(p)),
        "precision_ci": ci(bp),
        "recall": rnd(float(r)),
        "recall_ci": ci(br),
        "f1": rnd(float(f)),
        "f1_ci": ci(bf),
        "auc": rnd(auc),
        "auc_ci": ci(aucs) if aucs else None,
        "tp": int(tp.sum()),
        "fp": int(fp.sum()),
        "fn": int(fn.sum()),
        "positives": int(gold.sum()),
        "n": len(gold),
    }


def groups_of(taxonomy) -> dict[str, list[str]]:
    """Beliefs scored one by one (those with labels), families, and any metagaming belief."""
    out: dict[str, list[str]] = {}
    for b in taxonomy.beliefs:
        out[b.id] = [b.id]
    for fam in sorted({b.family for b in taxonomy.beliefs}):
        out[f"family {fam}"] = [b.id for b in taxonomy.beliefs if b.family == fam]
    out["any metagaming"] = [b.id for b in taxonomy.beliefs if not b.rejects]
    return out


def evaluate(
    table: FeatureTable,
    scores: np.ndarray,
    decisions: np.ndarray,
    whole: np.ndarray,
    coding: np.ndarray,
    groups: dict[str, list[str]],
    seed: int,
) -> dict:
    """Step- and trace-level figures for one system."""
    rng = np.random.default_rng(seed)
    ids = table.belief_ids
    traces = table.groups
    out: dict[str, dict] = {"step": {}, "trace": {}}

    def trace_level(gold: np.ndarray, dec: np.ndarray, val: np.ndarray, sel: np.ndarray) -> dict:
        """A trace carries the belief when any of its steps does (on the selected steps)."""
        names, inv = np.unique(traces[sel], return_inverse=True)
        g = np.zeros(len(names), bool)
        d = np.zeros(len(names), bool)
        v = np.zeros(len(names))
        np.logical_or.at(g, inv, gold[sel])
        np.logical_or.at(d, inv, dec[sel])
        np.maximum.at(v, inv, val[sel])
        return score(g, d, v, names, rng)

    for name, members in groups.items():
        cols = [ids.index(b) for b in members]
        gold = table.Y[:, cols].any(1)
        if gold.sum() == 0:
            continue
        dec = decisions[:, cols].any(1)
        val = scores[:, cols].max(1)
        out["step"][name] = score(gold, dec, val, traces, rng)
        out["trace"][name] = trace_level(gold, dec, val, whole)  # whole traces only
        if name == "grader":
            out["trace"]["grader (coding traces)"] = trace_level(gold, dec, val, whole & coding)
    return out


def reliability(scores: np.ndarray, gold: np.ndarray, mask: np.ndarray) -> list[dict]:
    """Probability bins of the learned beliefs (pooled): count, mean probability, observed share."""
    p = scores[mask]
    y = gold[mask]
    rows = []
    edges = np.linspace(0, 1, 11)
    for lo, hi in itertools.pairwise(edges):
        sel = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if sel.sum():
            rows.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "n": int(sel.sum()),
                    "mean_p": round(float(p[sel].mean()), 3),
                    "observed": round(float(y[sel].mean()), 3),
                }
            )
    return rows


def stance_agreement(table: FeatureTable, decisions: np.ndarray, learned: np.ndarray, tagger) -> dict:
    """On steps the learned tagger tags correctly: how often its stance matches the label's."""
    recs = [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines() if x.strip()]
    by_key = {(r["path"], r["trace_id"], r["step"]): r for r in recs}
    hits, _ = cue_hits(tagger, [r.text for r in table.records])
    agree = total = 0
    for i, r in enumerate(table.records):
        labels = {x["belief"]: x["stance"] for x in by_key[(r.path, r.trace_id, r.step)]["labels"]}
        for j, b in enumerate(table.belief_ids):
            if not (learned[i, j] and decisions[i, j] and b in labels):
                continue
            _, _, s = locate_evidence(r.text, hits[i].get(b, []))
            total += 1
            agree += s == labels[b]
    return {"pairs": total, "agreement": round(agree / total, 3) if total else None}


# --------------------------------------------------------------------------------------------
# Math false alarms with a model that never saw math


def math_false_alarms(data: Path, table: FeatureTable, taxonomy, embedder_spec: str, embedder, examples) -> dict:
    rows = np.array([r.set != "math" for r in table.records])
    model = fit(table, taxonomy=taxonomy, embedder_name=embedder.name, rows=np.where(rows)[0], examples=examples)
    traces = []
    for path in MATH_PATHS:
        traces += load(data / path, options_for(path)).traces
    traces = [t for t in traces if "scenario" not in t.source.path]
    out = {"traces": len(traces)}
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "no-math.npz"
        model.save(weights)
        for name, choice in (("learned", str(weights)), ("rules", "none")):
            config = AnalyzeConfig(embedder=embedder_spec, belief_weights=choice)
            flagged = [
                a.trace.id
                for a in analyze_many(traces, config, embedder=embedder)
                if a.metrics.get("eval_awareness_explored") or a.metrics.get("grader_explored")
            ]
            out[name] = {"flagged": len(flagged), "share": round(len(flagged) / len(traces), 4), "ids": flagged}
    return out


# --------------------------------------------------------------------------------------------


def run(data: Path, embedder_spec: str, schemes: list[str], seed: int, say: Callable[[str], None]) -> dict:
    t0 = time.perf_counter()
    taxonomy = load_taxonomy("metagaming")
    embedder = get_embedder(embedder_spec)
    records = read_labelled(DEV, taxonomy)
    tagger = BeliefTagger(taxonomy, embedder)
    say(f"[{embedder.name}] features of {len(records)} labelled steps")
    unique = distinct_texts(records)
    vectors = embedder.encode(unique)  # once, for the features and both rule baselines
    table = labelled_features(records, tagger, embedder, vectors=vectors)
    examples = example_rows(tagger, embedder)
    lengths = real_lengths({r.path for r in records}, data)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in table.records:
        counts[(r.path, r.trace_id)] += 1
    whole = np.array([counts[(r.path, r.trace_id)] == lengths.get((r.path, r.trace_id), -1) for r in table.records])
    coding = np.array([r.set.startswith("coding-") for r in table.records])
    groups = groups_of(taxonomy)
    say("rule baselines")
    rules = rule_scores(table, tagger, unique, vectors)
    cue_tagger = BeliefTagger(taxonomy, embedder, TaggerConfig(sim_floor=5.0, sim_ceiling=6.0))
    cues = rule_scores(table, cue_tagger, unique, vectors)
    scanner = np.array([bool(SCANNER.search(r.text)) for r in table.records])
    scan_scores = np.zeros(table.Y.shape)
    for name in ("eval_awareness",):
        scan_scores[:, table.belief_ids.index(name)] = scanner
    result: dict = {
        "embedder": embedder.name,
        "labelled_steps": len(table.records),
        "traces": len(set(table.groups)),
        "whole_traces": len({g for g, w in zip(table.groups, whole, strict=True) if w}),
        "sources": sorted({source_of(r) for r in table.records}),
        "systems": {},
    }
    baseline = {
        "rules": evaluate(table, rules, rules > 0, whole, coding, groups, seed),
        "cues": evaluate(table, cues, cues > 0, whole, coding, groups, seed),
    }
    scan = evaluate(table, scan_scores, scan_scores > 0, whole, coding, {"eval_awareness": ["eval_awareness"]}, seed)
    # the scanner's single flag stands for "any metagaming" too
    any_cols = [table.belief_ids.index(b) for b in groups["any metagaming"]]
    gold_any = table.Y[:, any_cols].any(1)
    rng = np.random.default_rng(seed)
    scan["step"]["any metagaming"] = score(gold_any, scanner, scanner.astype(float), table.groups, rng)
    baseline["scanner"] = scan
    result["systems"].update(baseline)
    result["reliability"] = {}
    for scheme in schemes:
        folds = make_folds(table, scheme)
        say(f"learned tagger, {scheme} folds ({len(folds)})")
        s, d, learned = out_of_fold(
            table, folds, rules, taxonomy=taxonomy, embedder_name=embedder.name, examples=examples
        )
        result["systems"][f"learned/{scheme}"] = evaluate(table, s, d, whole, coding, groups, seed)
        result["reliability"][scheme] = reliability(s, table.Y.astype(bool), learned)
        if scheme == "trace":
            result["stance"] = stance_agreement(table, d, learned, tagger)
    say("math false alarms")
    result["math_false_alarms"] = math_false_alarms(data, table, taxonomy, embedder_spec, embedder, examples)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def check_targets(result: dict, scheme: str) -> list[dict]:
    sysres = result["systems"][f"learned/{scheme}"]
    out = []
    for name, group, level, metric, op, bound in TARGETS:
        value = sysres[level].get(group, {}).get(metric)
        ok = value is not None and (value >= bound if op == ">=" else value <= bound)
        out.append({"target": f"{name} {op} {bound}", "scheme": scheme, "value": value, "met": ok})
    share = result["math_false_alarms"]["learned"]["share"]
    out.append(
        {
            "target": "math traces flagged <= 0.01",
            "scheme": "dataset (no math in training)",
            "value": share,
            "met": share <= 0.01,
        }
    )
    return out


def fmt(r: dict, metric: str) -> str:
    v = r.get(metric)
    if v is None:
        return "-"
    ci = r.get(f"{metric}_ci")
    return f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


SHOWN = [
    "eval_awareness",
    "eval_purpose",
    "grader",
    "reward",
    "reward_hack",
    "deployment_consequence",
    "hint_reliance",
    "family evaluation",
    "family grading",
    "family oversight",
    "family hint",
    "any metagaming",
]


def tables(result: dict, console: Console, markdown: list[str]) -> None:
    systems = [s for s in result["systems"] if s.startswith("learned/")] + ["rules", "cues", "scanner"]
    for level in ("step", "trace"):
        names = SHOWN + (["grader (coding traces)"] if level == "trace" else [])
        title = f"{level} level, {result['embedder']} (95% bootstrap intervals over traces)"
        table = Table(title=title, title_justify="left")
        cols = ("belief / group", "system", "precision", "recall", "F1", "AUC", "tp", "fp", "fn")
        for c in cols:
            table.add_column(c, justify="left" if c in cols[:2] else "right")
        markdown.append(f"\n**{title}**\n")
        markdown.append("| " + " | ".join(cols) + " |")
        markdown.append("|" + "---|" * 2 + "---:|" * 7)
        for name in names:
            for system in systems:
                r = result["systems"][system][level].get(name)
                if r is None:
                    continue
                cells = [
                    name,
                    system,
                    fmt(r, "precision"),
                    fmt(r, "recall"),
                    fmt(r, "f1"),
                    fmt(r, "auc"),
                    str(r["tp"]),
                    str(r["fp"]),
                    str(r["fn"]),
                ]
                table.add_row(*cells)
                markdown.append("| " + " | ".join(cells) + " |")
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--embedder", default="default")
    parser.add_argument("--fast", action="store_true", help="also score the learned tagger with --embedder fast")
    parser.add_argument("--schemes", default="trace,source,dataset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    args = parser.parse_args(argv)
    console = Console(width=200, stderr=args.json)
    schemes = [s for s in args.schemes.split(",") if s]

    def say(msg: str) -> None:
        console.print(f"[dim]{msg}[/dim]")

    result = run(args.data, args.embedder, schemes, args.seed, say)
    if args.fast:
        fast = run(args.data, "fast", [s for s in schemes if s != "dataset"], args.seed, say)
        result["fast"] = fast
        compare = {}
        for scheme in [s for s in schemes if s != "dataset"]:
            a = result["systems"][f"learned/{scheme}"]
            b = fast["systems"][f"learned/{scheme}"]
            compare[scheme] = {
                f"{level} {g} F1": [a[level][g]["f1"], b[level][g]["f1"]]
                for level, g in (
                    ("step", "any metagaming"),
                    ("trace", "eval_awareness"),
                    ("trace", "grader (coding traces)"),
                    ("step", "hint_reliance"),
                )
                if g in a[level] and g in b[level]
            }
        result["fast_vs_default"] = compare
    main_scheme = "source" if "source" in schemes else schemes[0]
    result["targets"] = check_targets(result, main_scheme)
    if "dataset" in schemes:
        result["targets_strict"] = check_targets(result, "dataset")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        console.print(
            f"{result['labelled_steps']} labelled steps of {result['traces']} traces "
            f"({result['whole_traces']} labelled whole), {len(result['sources'])} sources, {result['seconds']} s"
        )
    markdown: list[str] = [
        "# Belief tagger benchmark: every table",
        "",
        f"Written by `python benchmarks/beliefs.py {' '.join(argv if argv is not None else sys.argv[1:])}` on "
        f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} cores, CPU). What the systems and "
        'folds are: docs/beliefs.md, "How well it works". The tables use the '
        f"{result['embedder']} embedder; with `--fast`, the fast embedder's headline figures are compared at the end.",
    ]
    tables(result, console if not args.json else Console(quiet=True), markdown)
    extra: list[str] = []
    for scheme, rows in result["reliability"].items():
        extra.append(f"\n**reliability of the probabilities ({scheme} folds, learned beliefs pooled)**\n")
        extra.append("| p bin | steps | mean p | observed share |\n|---|---:|---:|---:|")
        extra += [f"| {r['bin']} | {r['n']} | {r['mean_p']} | {r['observed']} |" for r in rows]
    m = result["math_false_alarms"]
    extra.append(
        f"\nmath traces flagged for eval awareness or grader reasoning: learned {m['learned']['flagged']} of "
        f"{m['traces']} ({m['learned']['share']:.1%}), rules {m['rules']['flagged']} ({m['rules']['share']:.1%})"
    )
    if "stance" in result:
        extra.append(
            f"\nstance agreement on correctly tagged steps (trace folds): {result['stance']['agreement']} "
            f"({result['stance']['pairs']} pairs)"
        )
    if "fast_vs_default" in result:
        extra.append("\n**default vs fast embedder (learned tagger, F1)**\n")
        extra.append("| folds | figure | default | fast | difference |\n|---|---|---:|---:|---:|")
        for scheme, rows in result["fast_vs_default"].items():
            for k, (a, b) in rows.items():
                diff = round(b - a, 3) if a is not None and b is not None else None
                extra.append(f"| {scheme} | {k} | {a} | {b} | {diff} |")
    for key in ("targets", "targets_strict"):
        if key in result:
            extra.append(f"\n**targets ({result[key][0]['scheme']} folds)**\n")
            extra.append("| target | value | met |\n|---|---:|---|")
            extra += [f"| {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |" for t in result[key]]
    if not args.json:
        console.print("\n".join(extra), markup=False, highlight=False)
    markdown += extra
    if args.markdown:
        args.markdown.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

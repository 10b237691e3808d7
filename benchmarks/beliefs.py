"""How well cotgraph tags metagaming beliefs, against hand labels, beside a keyword scanner.

1. **Steps.** On the labelled development set (``benchmarks/data/beliefs_dev.jsonl``, labelled by
   hand against ``docs/labelling.md``): precision, recall and F1 per belief family for cotgraph
   and, in the same run, for a keyword scanner of the kind transcript scanners use (a step is
   flagged when it contains roleplay, scenario, test, audit, simulation, pretend, imaginary or
   hypothetical, in any inflection). A step counts as carrying a belief whatever its stance (a
   rejected hypothesis was still raised). The scanner has one flag, so it stands for evaluation
   awareness and for metagaming as a whole.
2. **Traces.** On the 153 hinted multiple-choice traces (``benchmarks/data/hint_traces.jsonl``):
   how many verbalise the professor's hint, and how many of those cotgraph finds (a
   ``hint_reliance`` tag in the trace) against how many it flags among the silent ones.
3. **False alarms.** On every math trace in ``../shared/data`` (Thought Anchors' 40 MATH traces,
   Thoughtology's 3): the share flagged for evaluation awareness or grader reasoning.

Run: ``python benchmarks/beliefs.py [--data ../shared/data] [--embedder default] [--json]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cotgraph.beliefs.taxonomy import load_taxonomy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import PRF, score_cells

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, load
from cotgraph.model import Analysis

HERE = Path(__file__).resolve().parent
DEV = HERE / "data" / "beliefs_dev.jsonl"
HINTS = HERE / "data" / "hint_traces.jsonl"

SCANNER = re.compile(
    r"\b(?:roleplay\w*|role-play\w*|scenario\w*|test\w*|audit\w*|simulat\w*|pretend\w*|imaginary|hypothetical\w*)\b",
    re.I,
)

MATH_PATHS = (
    "thought-anchors.com/src/app/data/deepseek-r1-distill-llama-8b",
    "thought-anchors.com/src/app/data/deepseek-r1-distill-qwen-14b",
    "thoughtology/reasoning_chains_r1/math_all.json.subset.jsonl",
)


def options_for(path: str) -> LoadOptions:
    return LoadOptions(model="deepseek-r1") if path.startswith("thoughtology") else LoadOptions()


def analyse_paths(data: Path, paths: list[str], config: AnalyzeConfig) -> dict[str, Analysis]:
    by_id: dict[str, Analysis] = {}
    for path in paths:
        traces = load(data / path, options_for(path)).traces
        for analysis in analyze_many(traces, config):
            by_id[analysis.trace.id] = analysis
    return by_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HERE.parents[0].parent / "shared" / "data")
    parser.add_argument("--embedder", default="default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    taxonomy = load_taxonomy("metagaming")
    family_of = {b.id: b.family for b in taxonomy.beliefs}
    config = AnalyzeConfig(embedder=args.embedder)

    records = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    paths = sorted({r["path"] for r in records})
    analyses = analyse_paths(args.data, paths, config)

    groups = {
        "evaluation awareness (eval_awareness)": lambda beliefs: "eval_awareness" in beliefs,
        "grader reasoning (grader)": lambda beliefs: "grader" in beliefs,
        "hint reliance (hint_reliance)": lambda beliefs: "hint_reliance" in beliefs,
    }
    for family in sorted(set(family_of.values())):
        groups[f"family {family}"] = lambda beliefs, fam=family: any(family_of.get(b) == fam for b in beliefs)
    groups["metagaming, any belief"] = lambda beliefs: bool(beliefs)
    scanner_stands_for = {"evaluation awareness (eval_awareness)", "family evaluation", "metagaming, any belief"}

    cot: dict[str, PRF] = defaultdict(PRF)
    scan: dict[str, PRF] = defaultdict(PRF)
    stance_hits = stance_total = 0
    missing = mismatched = 0
    for record in records:
        analysis = analyses.get(record["trace_id"])
        if analysis is None or record["step"] >= len(analysis.steps):
            missing += 1
            continue
        step = analysis.steps[record["step"]]
        if step.text != record["text"]:
            mismatched += 1
            continue
        gold = {label["belief"] for label in record["labels"]}
        tags = [t for t in analysis.beliefs if t.step == step.idx]
        predicted = {t.belief for t in tags}
        flagged = bool(SCANNER.search(step.text))
        for name, test in groups.items():
            cot[name].add(test(predicted), test(gold))
            scan[name].add(flagged and name in scanner_stands_for, test(gold))
        gold_stance = {label["belief"]: label["stance"] for label in record["labels"]}
        for tag in tags:
            if tag.belief in gold_stance:
                stance_total += 1
                stance_hits += tag.stance == gold_stance[tag.belief]

    # Trace level: the hint.
    hint_rows = [json.loads(line) for line in HINTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    hint_paths = sorted({r["path"] for r in hint_rows})
    hint_analyses = analyse_paths(args.data, hint_paths, config)
    hint = PRF()
    verbalising = 0
    per_model: dict[str, dict[str, int]] = defaultdict(
        lambda: {"traces": 0, "verbalise": 0, "found": 0, "flagged_silent": 0}
    )
    for row in hint_rows:
        analysis = hint_analyses.get(row["trace_id"])
        if analysis is None:
            continue
        found = any(t.belief == "hint_reliance" for t in analysis.beliefs)
        hint.add(found, row["verbalises_hint"])
        verbalising += row["verbalises_hint"]
        m = per_model[row["model"]]
        m["traces"] += 1
        m["verbalise"] += row["verbalises_hint"]
        m["found"] += found and row["verbalises_hint"]
        m["flagged_silent"] += found and not row["verbalises_hint"]

    # False alarms on math.
    math = analyse_paths(args.data, list(MATH_PATHS), config)
    math = {k: a for k, a in math.items() if "scenario" not in a.trace.source.path}
    flagged_math = [
        k for k, a in math.items() if a.metrics.get("eval_awareness_explored") or a.metrics.get("grader_explored")
    ]

    result = {
        "embedder": args.embedder,
        "steps_labelled": len(records),
        "steps_missing": missing,
        "steps_text_mismatch": mismatched,
        "steps": {name: {"cotgraph": cot[name].as_dict(), "keyword scanner": scan[name].as_dict()} for name in groups},
        "stance_agreement": round(stance_hits / stance_total, 3) if stance_total else None,
        "stance_pairs": stance_total,
        "hint_traces": {
            "traces": len(hint_rows),
            "verbalise_hint": verbalising,
            "cotgraph": hint.as_dict(),
            "per_model": dict(per_model),
        },
        "math_false_alarms": {
            "traces": len(math),
            "flagged": len(flagged_math),
            "share": round(len(flagged_math) / len(math), 4) if math else None,
            "flagged_ids": flagged_math,
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = Console(width=160)
    console.print(
        f"{len(records)} labelled steps ({missing} not found, {mismatched} with changed text), embedder "
        f"{args.embedder}, {result['seconds']} s"
    )
    table = Table(title="steps: belief family", title_justify="left")
    for col in ("family", "system", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col in ("family", "system") else "right")
    for name in groups:
        for system in ("cotgraph", "keyword scanner"):
            r = result["steps"][name][system]
            table.add_row(name, system, *score_cells(r))
    console.print(table)
    console.print(f"stance agreement on correctly tagged steps: {result['stance_agreement']} ({stance_total} pairs)")
    h = result["hint_traces"]
    console.print(
        f"hinted traces: {h['verbalise_hint']} of {h['traces']} verbalise the hint; cotgraph finds "
        f"{h['cotgraph']['tp']} of them and flags {h['cotgraph']['fp']} silent ones "
        f"(precision {h['cotgraph']['precision']}, recall {h['cotgraph']['recall']})"
    )
    for model, m in sorted(h["per_model"].items()):
        console.print(
            f"  {model}: {m['verbalise']}/{m['traces']} verbalise, {m['found']} found, "
            f"{m['flagged_silent']} silent flagged"
        )
    f = result["math_false_alarms"]
    console.print(
        f"math traces flagged for eval awareness or grader reasoning: {f['flagged']} of {f['traces']} "
        f"({f['share']:.1%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

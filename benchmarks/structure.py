"""Agreement of cotgraph's backtrack and verify steps with the Thought Anchors sentence tags.

Gold: the 6,011 sentence chunks of the 42 Thought Anchors traces (``chunks_labeled.json``), with
their ``function_tags``: ``uncertainty_management`` is the gold for backtracking, ``self_checking``
for verification. Each chunk is located in the trace's reasoning (ignoring whitespace, since the
chunks concatenate to the reasoning up to whitespace) and takes the label of the cotgraph step that
contains its first character, so both systems are judged on the same 6,011 units.

Side by side, on the same steps: the marker-only rule. A step is a backtrack when it opens with
Wait / Hmm / Actually / Alternatively / Hold on / … and a check when it says verify /
double-check / let me check.

Run: ``python benchmarks/structure.py [--data ../shared/data] [--granularity sentence] [--json]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import PRF, score_cells

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.model import Analysis
from cotgraph.segment import SegmentConfig

MARKER_BACKTRACK = re.compile(
    r"^\W*(?:but\s+)?(?:wait|hmm+|actually|alternatively|hold on|hang on|oh wait|no wait|oops|on second thought)\b",
    re.IGNORECASE,
)
MARKER_CHECK = re.compile(r"\b(?:verify|verifying|double[- ]?check|let me check|let's check)\b", re.IGNORECASE)

DEV_MODELS = ("deepseek-r1-distill-llama-8b",)
"""The traces the cue lists were read against while writing them; the others are held out."""


def chunk_starts(reasoning: str, chunks: list[str]) -> list[int | None]:
    """Offset in ``reasoning`` of each chunk's first non-space character, matching the chunks in
    order on the non-whitespace characters alone; ``None`` for a chunk that cannot be placed."""
    positions = [i for i, ch in enumerate(reasoning) if not ch.isspace()]
    stream = "".join(reasoning[i] for i in positions)
    cursor = 0
    starts: list[int | None] = []
    for chunk in chunks:
        squeezed = "".join(chunk.split())
        if not squeezed:
            starts.append(None)
            continue
        found = stream.find(squeezed, cursor)
        if found < 0 or found - cursor > 200:  # lost: do not guess far ahead
            starts.append(None)
            continue
        starts.append(positions[found])
        cursor = found + len(squeezed)
    return starts


def evaluate(analyses: Iterable[Analysis], chunks_for: dict[str, list[dict]]) -> dict:
    """Per split, per task, per system: counts and P/R/F1."""
    table: dict[str, dict[str, dict[str, PRF]]] = {}
    placed = total = 0
    for analysis in analyses:
        trace = analysis.trace
        chunks = chunks_for[trace.id]
        split = "dev" if trace.model in DEV_MODELS else "held-out"
        starts = chunk_starts(trace.reasoning, [c["chunk"] for c in chunks])
        step_starts = [s.start for s in analysis.steps]
        for chunk, start in zip(chunks, starts, strict=True):
            total += 1
            if start is None:
                continue
            placed += 1
            k = _step_at(step_starts, start, analysis)
            step = analysis.steps[k]
            tags = chunk["function_tags"]
            tags = json.loads(tags.replace("'", '"')) if isinstance(tags, str) else tags
            gold = {"backtrack": "uncertainty_management" in tags, "verify": "self_checking" in tags}
            predicted = {
                "cotgraph": {"backtrack": step.kind == "backtrack", "verify": step.kind == "verify"},
                "marker rule": {
                    "backtrack": bool(MARKER_BACKTRACK.search(step.text)),
                    "verify": bool(MARKER_CHECK.search(step.text)),
                },
            }
            for part in (split, "all"):
                for system, labels in predicted.items():
                    for task in ("backtrack", "verify"):
                        cell = table.setdefault(part, {}).setdefault(task, {}).setdefault(system, PRF())
                        cell.add(labels[task], gold[task])
    out: dict = {"chunks": total, "placed": placed, "results": {}}
    for part, tasks in table.items():
        for task, systems in tasks.items():
            for system, c in systems.items():
                p, r, f = c.prf()
                out["results"].setdefault(part, {}).setdefault(task, {})[system] = {
                    "precision": round(p, 3),
                    "recall": round(r, 3),
                    "f1": round(f, 3),
                    "tp": c.tp,
                    "fp": c.fp,
                    "fn": c.fn,
                }
    return out


def _step_at(step_starts: list[int], offset: int, analysis: Analysis) -> int:
    """Index of the step containing ``offset`` (or the last step starting before it)."""
    lo, hi = 0, len(step_starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if step_starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--granularity", default="sentence", choices=["sentence", "step", "paragraph"])
    parser.add_argument("--embedder", default="default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = args.data / "thought-anchors.com"
    loaded = load(root)
    if not loaded.traces:
        print(f"no Thought Anchors traces under {root}", file=sys.stderr)
        return 1
    chunks_for = {}
    for trace in loaded.traces:
        path = Path(trace.source.path).with_name("chunks_labeled.json")
        chunks_for[trace.id] = json.loads(path.read_text(encoding="utf-8"))
    config = AnalyzeConfig(segment=SegmentConfig(granularity=args.granularity), embedder=args.embedder)
    t0 = time.perf_counter()
    analyses = list(analyze_many(loaded.traces, config))
    result = evaluate(analyses, chunks_for)
    result.update(
        granularity=args.granularity,
        embedder=args.embedder,
        traces=len(analyses),
        seconds=round(time.perf_counter() - t0, 1),
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = Console()
    console.print(
        f"{result['traces']} traces, {result['placed']}/{result['chunks']} gold chunks placed, "
        f"granularity {args.granularity}, embedder {args.embedder}, {result['seconds']} s"
    )
    for part in ("all", "held-out", "dev"):
        table = Table(title=f"{part} traces", title_justify="left")
        for col in ("task (gold tag)", "system", "precision", "recall", "F1", "tp", "fp", "fn"):
            table.add_column(col, justify="left" if col in ("task (gold tag)", "system") else "right")
        for task, gold in (("backtrack", "uncertainty_management"), ("verify", "self_checking")):
            for system in ("cotgraph", "marker rule"):
                r = result["results"][part][task][system]
                table.add_row(f"{task} ({gold})", system, *score_cells(r))
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

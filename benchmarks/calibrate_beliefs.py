"""Calibrate the belief tagger's similarity thresholds on labelled data, and check them on data
they were not calibrated on.

The labelled development set (``benchmarks/data/beliefs_dev.jsonl``) is split in two halves by a
hash of each trace's reasoning text (identical texts filed under two records land in the same
half). A grid of ``sim_floor`` / ``sim_ceiling`` values is scored on the calibration half; the
objective is F0.5 on "any metagaming belief" per step (precision weighs more than recall: a false
alarm costs a reader of thousands of traces more than a missed step, and a tagger that does not
beat keyword scanners on precision has no reason to exist), under the constraint that no math
trace in ``../shared/data`` is flagged for evaluation awareness or grader reasoning. Ties go to the
lowest floor, then the lowest ceiling (the most permissive of equally precise settings). The chosen values are
then reported on the held-out half. Lexical cues, examples and the tag threshold are not tuned.

Run: ``python benchmarks/calibrate_beliefs.py [--data ../shared/data] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

from cotgraph.beliefs.tagger import BeliefTagger, TaggerConfig
from cotgraph.beliefs.taxonomy import load_taxonomy
from cotgraph.embed import get_embedder
from cotgraph.graph import build_graph
from cotgraph.io import load
from cotgraph.segment import segment_many

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beliefs import DEV, MATH_PATHS, PRF, options_for

HALVES = ("calibration", "held-out")
FLOORS = (0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
WIDTHS = (0.15, 0.25, 0.35)


def f_half(scores: dict[str, float | int]) -> float:
    """F0.5 = 1.25 P R / (0.25 P + R)."""
    p, r = float(scores["precision"]), float(scores["recall"])
    return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def half(text: str) -> str:
    return "calibration" if int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "held-out"


def prepared(data: Path, paths: list[str], embedder) -> dict[str, tuple]:
    """trace id → (trace, steps, vectors), embedded once for the whole grid."""
    out = {}
    for path in paths:
        traces = load(data / path, options_for(path)).traces
        pairs = list(segment_many(traces))
        texts = [s.text for _, steps in pairs for s in steps]
        vectors = embedder.encode(texts)
        offset = 0
        for trace, steps in pairs:
            vec = vectors[offset : offset + len(steps)]
            offset += len(steps)
            build_graph(steps, vec)  # sets step kinds, as in the pipeline
            out[trace.id] = (trace, steps, vec)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--embedder", default="default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    embedder = get_embedder(args.embedder)
    taxonomy = load_taxonomy("metagaming")
    records = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev = prepared(args.data, sorted({r["path"] for r in records}), embedder)
    math = {
        k: v for k, v in prepared(args.data, list(MATH_PATHS), embedder).items() if "scenario" not in v[0].source.path
    }
    tagger = BeliefTagger(taxonomy, embedder, TaggerConfig())
    rows = []
    for floor in FLOORS:
        for width in WIDTHS:
            config = replace(TaggerConfig(), sim_floor=floor, sim_ceiling=round(floor + width, 2))
            tagger.config = config
            tags = {tid: tagger.tag(trace, steps, vec) for tid, (trace, steps, vec) in dev.items()}
            scores = {"calibration": PRF(), "held-out": PRF()}
            for record in records:
                trace = dev[record["trace_id"]][0]
                predicted = any(t.step == record["step"] for t in tags[record["trace_id"]])
                scores[half(trace.reasoning)].add(predicted, bool(record["labels"]))
            flagged = sum(
                1
                for trace, steps, vec in math.values()
                if any(
                    t.belief in ("eval_awareness", "grader") and t.stance != "rejected"
                    for t in tagger.tag(trace, steps, vec)
                )
            )
            rows.append(
                {
                    "sim_floor": floor,
                    "sim_ceiling": config.sim_ceiling,
                    "calibration": scores["calibration"].as_dict(),
                    "held-out": scores["held-out"].as_dict(),
                    "math_flagged": flagged,
                }
            )
    allowed = [r for r in rows if r["math_flagged"] == 0]
    best = max(allowed, key=lambda r: (round(f_half(r["calibration"]), 6), -r["sim_floor"], -r["sim_ceiling"]))
    result = {
        "embedder": args.embedder,
        "halves": {
            h: sum(1 for r in records if half(dev[r["trace_id"]][0].reasoning) == h)
            for h in ("calibration", "held-out")
        },
        "math_traces": len(math),
        "grid": rows,
        "chosen": {"sim_floor": best["sim_floor"], "sim_ceiling": best["sim_ceiling"]},
        "chosen_scores": best,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"steps: {result['halves']}; math traces: {len(math)}")
    header = ("floor", "ceil", "cal P", "cal R", "cal F1", "F0.5", "held P", "held R", "held F1", "math")
    print(" ".join(f"{h:>7}" for h in header))
    for r in rows:
        c, h = r["calibration"], r["held-out"]
        mark = "  <- chosen" if r is best else ""
        values = (r["sim_floor"], r["sim_ceiling"], c["precision"], c["recall"], c["f1"], f_half(c))
        values += (h["precision"], h["recall"], h["f1"])
        print(" ".join(f"{v:7.3f}" for v in values) + f" {r['math_flagged']:7d}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

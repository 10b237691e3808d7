"""End-to-end throughput: load → segment → embed → graph → metrics, in steps per second.

Side by side, on the same step texts:

- **encode**: sentence-transformers' own ``SentenceTransformer.encode`` on every step text (batch 64,
  normalised), the floor for the default embedder;
- **cotgraph default**: the whole pipeline with all-MiniLM-L6-v2, from reading the files to the
  metrics; it must stay within 15% of ``encode`` (the embedding is the cost);
- **cotgraph fast**: the same with the static (model2vec) embedder; it must be at least 50 times
  faster end to end than the default;
- **the learned belief tagger against the rule**: both pipelines again with
  ``--belief-weights none`` (the cue + similarity tagger that was the default before the learned
  one), so that the cost of the learned tagger is a ratio measured in one run; the learned
  default must keep at least 0.9 of the rule's throughput;
- **the learned step-kind classifier against the rule**: both pipelines again with
  ``--kind-weights none``, the same kind of ratio.

Model loading (and the one-time distillation of the fast model) is timed apart and not counted:
it is paid once per process, not per trace.

Run: ``python benchmarks/throughput.py [--data ../shared/data] [--limit N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from cotgraph.embed import SentenceTransformerEmbedder, get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, load
from cotgraph.segment import segment_many

SETS = (
    ("thought-anchors.com", LoadOptions()),
    ("thought-branches", LoadOptions()),
    ("thoughtology", LoadOptions(model="deepseek-r1")),
    ("pmllmbench-lrms-reasoning-analysis/prel", LoadOptions()),
    ("landscape-of-thoughts", LoadOptions()),
    ("inspect_scout", LoadOptions()),
)


def read_all(data: Path, limit: int | None) -> list:
    traces = []
    for name, options in SETS:
        traces += load(data / name, options).traces
    return traces[:limit] if limit else traces


def run_pipeline(
    data: Path, limit: int | None, embedder_spec: str, belief_weights: str = "auto", kind_weights: str = "auto"
) -> tuple[float, int, int]:
    """Seconds from reading the files to the last metric, steps, traces (model already loaded)."""
    embedder = get_embedder(embedder_spec)
    config = AnalyzeConfig(embedder=embedder_spec, belief_weights=belief_weights, kind_weights=kind_weights)
    t0 = time.perf_counter()
    traces = read_all(data, limit)
    steps = n = 0
    for analysis in analyze_many(traces, config, embedder=embedder):
        steps += len(analysis.steps)
        n += 1
    return time.perf_counter() - t0, steps, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="only the first N traces")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    t = time.perf_counter()
    default = get_embedder("default", device=args.device)
    load_default = time.perf_counter() - t
    t = time.perf_counter()
    get_embedder("fast")
    load_fast = time.perf_counter() - t

    traces = read_all(args.data, args.limit)
    texts = [s.text for _, steps in segment_many(traces) for s in steps]
    assert isinstance(default, SentenceTransformerEmbedder)
    model = default.model
    model.encode(texts[:256], batch_size=64, normalize_embeddings=True)  # warm-up
    t = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    encode_s = time.perf_counter() - t

    default_s, steps, n = run_pipeline(args.data, args.limit, "default")
    fast_s, fast_steps, _ = run_pipeline(args.data, args.limit, "fast")
    assert fast_steps == steps == len(texts)
    rule_s, _, _ = run_pipeline(args.data, args.limit, "default", "none")
    fast_rule_s, _, _ = run_pipeline(args.data, args.limit, "fast", "none")
    kinds_rule_s, _, _ = run_pipeline(args.data, args.limit, "default", kind_weights="none")
    fast_kinds_rule_s, _, _ = run_pipeline(args.data, args.limit, "fast", kind_weights="none")

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {default.device}",
        "traces": n,
        "steps": steps,
        "unique_step_texts": len(set(texts)),
        "model_load_s": {"default": round(load_default, 2), "fast": round(load_fast, 2)},
        "encode_steps_per_s": round(len(texts) / encode_s, 1),
        "default_steps_per_s": round(steps / default_s, 1),
        "fast_steps_per_s": round(steps / fast_s, 1),
        "default_vs_encode": round((steps / default_s) / (len(texts) / encode_s), 3),
        "fast_vs_default": round(default_s / fast_s, 1),
        "default_rule_steps_per_s": round(steps / rule_s, 1),
        "fast_rule_steps_per_s": round(steps / fast_rule_s, 1),
        "learned_vs_rule_default": round(rule_s / default_s, 3),
        "learned_vs_rule_fast": round(fast_rule_s / fast_s, 3),
        "learned_kinds_vs_rule_default": round(kinds_rule_s / default_s, 3),
        "learned_kinds_vs_rule_fast": round(fast_kinds_rule_s / fast_s, 3),
        "seconds": {
            "encode": round(encode_s, 2),
            "default": round(default_s, 2),
            "fast": round(fast_s, 2),
            "default_rule": round(rule_s, 2),
            "fast_rule": round(fast_rule_s, 2),
            "default_rule_kinds": round(kinds_rule_s, 2),
            "fast_rule_kinds": round(fast_kinds_rule_s, 2),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    ok = (
        result["default_vs_encode"] >= 0.85
        and result["fast_vs_default"] >= 50
        and result["learned_vs_rule_default"] >= 0.9
    )
    if not ok:
        print(
            "target missed: default must be within 15% of encode, fast at least 50x default, "
            "the learned tagger at least 0.9x the rule's throughput",
            file=sys.stderr,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

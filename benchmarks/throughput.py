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

**Long traces** (``--long``): one trace of 3,000, 12,000, 48,000 and 60,000 steps, sentence
granularity, fast embedder, beliefs and learned kinds on, each analysed in a fresh process. The
trace is the shared traces' reasoning joined end to end (18,014 sentence steps), repeated for the
longer sizes. Each size reports seconds (from segmentation to the last metric) and peak memory:
the process's resident-set high-water mark, both absolute and above the resident set after the
models are loaded and one short trace has been analysed (the libraries' one-time cost). Targets:
12,000 steps under 4 s and 300 MB; 60,000 under 20 s and 1 GB; memory per step about constant.
``--long-sizes`` picks other sizes.

**Every core** (``--workers N``): the fast pipeline over the same corpus in this process and in a
pool of N worker processes (:class:`cotgraph.workers.WorkerPool`), side by side in one run; the
pool's start-up (spawning the processes, loading the models in each) is timed apart, like model
loading. Target: at least 1.8 × on 2 cores.

**Engines** (``--engines``): the local engine (``--workers N``, reading included) and the Ray engine
on a local Ray instance of N CPUs, on the same files (the sets above that need no load options),
fast embedder, one run; each from the first file read to the last analysis, worker start-up
included (the Ray instance's own start is timed apart).
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
from cotgraph.model import Source, Trace
from cotgraph.segment import SegmentConfig, segment_many

SETS = (
    ("thought-anchors.com", LoadOptions()),
    ("thought-branches", LoadOptions()),
    ("thoughtology", LoadOptions(model="deepseek-r1")),
    ("pmllmbench-lrms-reasoning-analysis/prel", LoadOptions()),
    ("landscape-of-thoughts", LoadOptions()),
    ("inspect_scout", LoadOptions()),
)


def machine() -> str:
    """The processor and its core count, for every result."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


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


LONG_SIZES = (3_000, 12_000, 48_000, 60_000)
LONG_SEGMENT = SegmentConfig(granularity="sentence")


def long_text(data: Path, steps: int) -> tuple[str, list[int]]:
    """The shared traces' reasoning joined end to end (repeated as needed) and the end offset of
    each of its first ``steps`` sentence steps: cut at ``ends[n - 1]`` for an ``n``-step trace."""
    pieces: list[str] = []
    total = 0
    for trace, found in segment_many(read_all(data, None), LONG_SEGMENT):
        pieces.append(trace.reasoning)
        total += len(found)
    text = "\n\n".join(pieces * (steps // max(total, 1) + 2))
    _, found = next(segment_many([Trace(id="long", reasoning=text, source=Source(path="<long>"))], LONG_SEGMENT))
    return text, [step.end for step in found[:steps]]


def long_one(path: Path) -> dict[str, float | int]:
    """Analyse the trace in ``path`` in this process: seconds and resident-set figures (MB)."""
    import gc

    def rss_mb() -> float:
        """The resident-set high-water mark (Linux's VmHWM: unlike ``getrusage``'s ``ru_maxrss``,
        it is not inherited from the parent process across ``exec``)."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
        raise RuntimeError("no VmHWM in /proc/self/status (the long-trace benchmark needs Linux)")

    embedder = get_embedder("fast")
    config = AnalyzeConfig(embedder="fast", segment=LONG_SEGMENT)
    text = path.read_text(encoding="utf-8")
    warm = Trace(id="warm-up", reasoning=text[:20_000], source=Source(path="<warm-up>"))
    next(analyze_many([warm], config, embedder=embedder))
    gc.collect()
    base = rss_mb()
    trace = Trace(id="long", reasoning=text, source=Source(path=str(path)))
    t = time.perf_counter()
    analysis = next(analyze_many([trace], config, embedder=embedder))
    seconds = time.perf_counter() - t
    peak = rss_mb()
    return {
        "steps": len(analysis.steps),
        "chars": len(text),
        "seconds": round(seconds, 2),
        "steps_per_s": round(len(analysis.steps) / seconds, 1),
        "baseline_mb": round(base, 1),
        "peak_mb": round(peak, 1),
        "peak_above_baseline_mb": round(peak - base, 1),
    }


def run_long(data: Path, sizes: tuple[int, ...]) -> tuple[list[dict[str, float | int]], bool]:
    """Each size in a fresh process (so that one size's high-water mark does not hide the next's)."""
    import subprocess
    import tempfile

    text, ends = long_text(data, max(sizes))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"long-{size}.txt"
            path.write_text(text[: ends[size - 1]], encoding="utf-8")
            done = subprocess.run(
                [sys.executable, __file__, "--long-one", str(path)], capture_output=True, text=True, check=True
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["mb_per_1k_steps"] = round(1000 * row["peak_above_baseline_mb"] / row["steps"], 1)
            rows.append(row)
    by_size = {row["steps"]: row for row in rows}
    ok = True
    for size, seconds, mb in ((12_000, 4.0, 300.0), (60_000, 20.0, 1024.0)):
        row = by_size.get(size)
        if row is not None and (row["seconds"] > seconds or row["peak_above_baseline_mb"] > mb):
            ok = False
    return rows, ok


def run_workers(data: Path, limit: int | None, workers: int) -> dict[str, object]:
    """Seconds for the fast pipeline in this process and in ``workers`` processes, one run."""
    from cotgraph.workers import WorkerPool, chunk_traces

    config = AnalyzeConfig(embedder="fast")
    embedder = get_embedder("fast")
    traces = read_all(data, limit)
    list(analyze_many(traces[:20], config, embedder=embedder))  # warm-up: imports, caches
    t = time.perf_counter()
    serial = [a.to_json() for a in analyze_many(traces, config, embedder=embedder)]
    serial_s = time.perf_counter() - t
    t = time.perf_counter()
    with WorkerPool(config, workers) as pool:
        list(pool.analyze([[t] for t in traces[: 2 * workers]]))  # start every worker, load its models
        start_s = time.perf_counter() - t
        t = time.perf_counter()
        parallel = [a.to_json() for a in pool.analyze(chunk_traces(traces))]
        parallel_s = time.perf_counter() - t
    assert parallel == serial, "the pool's output differs from one process's"
    steps = sum(len(a["steps"]) for a in serial)
    return {
        "machine": machine(),
        "traces": len(traces),
        "steps": steps,
        "workers": workers,
        "one_process_s": round(serial_s, 2),
        "pool_start_s": round(start_s, 2),
        "pool_s": round(parallel_s, 2),
        "one_process_steps_per_s": round(steps / serial_s, 1),
        "pool_steps_per_s": round(steps / parallel_s, 1),
        "speed_up": round(serial_s / parallel_s, 2),
    }


def run_engines(data: Path, workers: int) -> dict[str, object]:
    """Seconds for the local engine (a pool of ``workers``) and the Ray engine (``workers`` CPUs)."""
    import ray

    from cotgraph.io import iter_load
    from cotgraph.model import Analysis
    from cotgraph.ray_engine import analyze_ray
    from cotgraph.workers import analyze_parallel

    inputs = [data / name for name, options in SETS if options == LoadOptions()]
    config = AnalyzeConfig(embedder="fast", workers=workers)
    get_embedder("fast")  # the distilled model exists before either engine starts
    t = time.perf_counter()
    traces = (item for item in iter_load(inputs) if isinstance(item, Trace))
    local = [a.to_json() for a in analyze_parallel(traces, config, workers=workers)]
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    ray_start_s = time.perf_counter() - t
    try:
        t = time.perf_counter()
        remote = [a.to_json() for a in analyze_ray(inputs, None, config) if isinstance(a, Analysis)]
        ray_s = time.perf_counter() - t
    finally:
        ray.shutdown()
    assert remote == local, "the Ray engine's output differs from the local engine's"
    steps = sum(len(a["steps"]) for a in local)
    return {
        "machine": machine(),
        "inputs": [str(p.relative_to(data)) for p in inputs],
        "traces": len(local),
        "steps": steps,
        "workers": workers,
        "local_s": round(local_s, 2),
        "ray_instance_start_s": round(ray_start_s, 2),
        "ray_s": round(ray_s, 2),
        "local_steps_per_s": round(steps / local_s, 1),
        "ray_steps_per_s": round(steps / ray_s, 1),
        "ray_vs_local": round(local_s / ray_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="only the first N traces")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--long", action="store_true", help="long single traces instead of the corpus")
    parser.add_argument("--long-sizes", default=",".join(map(str, LONG_SIZES)), help="steps per long trace")
    parser.add_argument("--long-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help="compare N worker processes with one")
    parser.add_argument("--engines", action="store_true", help="the local engine against the Ray engine")
    args = parser.parse_args(argv)

    if args.engines:
        result = run_engines(args.data, args.workers or 2)
        print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in result.items()))
        return 0

    if args.workers:
        result = run_workers(args.data, args.limit, args.workers)
        print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k:>24}: {v}" for k, v in result.items()))
        ok = args.workers < 2 or result["speed_up"] >= 0.9 * args.workers
        if not ok:
            print(f"target missed: {args.workers} workers must be at least {0.9 * args.workers:.1f}x", file=sys.stderr)
        return 0 if ok else 1

    if args.long_one:
        print(json.dumps(long_one(args.long_one)))
        return 0
    if args.long:
        rows, ok = run_long(args.data, tuple(int(x) for x in args.long_sizes.split(",")))
        if args.json:
            print(
                json.dumps(
                    {"machine": machine(), "long": rows},
                    indent=2,
                )
            )
        else:
            head = ("steps", "MB text", "seconds", "steps/s", "peak MB", "above base", "MB/1k steps")
            print(" ".join(f"{h:>{w}}" for h, w in zip(head, (7, 8, 8, 8, 8, 10, 11), strict=True)))
            for row in rows:
                print(
                    f"{row['steps']:>7,} {row['chars'] / 1e6:>8.2f} {row['seconds']:>8.2f} {row['steps_per_s']:>8,.0f} "
                    f"{row['peak_mb']:>8.0f} {row['peak_above_baseline_mb']:>10.0f} {row['mb_per_1k_steps']:>11.1f}"
                )
        if not ok:
            print("target missed: 12,000 steps in 4 s and 300 MB, 60,000 in 20 s and 1 GB", file=sys.stderr)
        return 0 if ok else 1

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
        "machine": f"{machine()}, {default.device}",
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

"""Store speed: ingest rate into DuckDB, and query latency on a corpus of 100,000+ traces.

1. **Ingest.** Every trace of ``../shared/data`` is analysed once (fast embedder, beliefs on), then
   written into a fresh store in batches of 32, one transaction each, as ``cotgraph analyze --db``
   does; the writing alone is timed.
2. **Query latency.** The stored rows are replicated with new trace ids (``<id>#<k>``) until the
   corpus holds at least 100,000 traces' worth of ``traces``, ``metrics``, ``hypotheses``,
   ``beliefs`` and ``edges`` rows (the ``steps`` table, with its embeddings, is what semantic search
   reads, not the query language, and is left at its real size). Each query runs five times through
   ``Corpus.query``; the median is reported.

3. **Store size with and without the texts.** The same analyses written into two fresh stores,
   one as ``analyze --db`` writes it, one as ``analyze --db --no-text`` does; the file sizes after a
   checkpoint, and each scaled to 100,000 traces (of this corpus's mean length).

Run: ``python benchmarks/store.py [--data ../shared/data] [--traces 100000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import SETS  # the same traces as the throughput benchmark

from cotgraph.corpus import Corpus
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.store import Store

QUERIES = (
    "explored(eval_awareness) and not explored(grader)",
    "explored(hint_reliance)",
    "stance(hint_reliance) = 'endorsed'",
    "first(hint_reliance) < 0.3",
    "failed_step_fraction > 0.2 and model = 'deepseek-reasoner'",
    "metadata.cue_answer = 'D' and not explored(hint_reliance)",
)

REPLICATED = {
    "traces": "trace_id || '#' || r.k AS trace_id, model, channel, question, source_path, source_record, source_part, "
    "reasoning, output, metadata, embedder, taxonomy, n_steps, content_hash, ingested_at, truncated, redacted_blocks",
    "metrics": "trace_id || '#' || r.k, name, value",
    "hypotheses": "trace_id || '#' || r.k, belief, label, family, stance, first_step, last_step, steps, evidence",
    "beliefs": "trace_id || '#' || r.k, step, belief, score, stance, start, \"end\", via",
    "edges": "trace_id || '#' || r.k, src, dst, type, score",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    traces = [t for name, options in SETS for t in load(args.data / name, options).traces]
    analyses = list(analyze_many(traces, AnalyzeConfig(embedder="fast")))
    steps = sum(len(a.steps) for a in analyses)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        with Store(path) as store:
            t0 = time.perf_counter()
            for i in range(0, len(analyses), 32):
                store.write(analyses[i : i + 32])
            ingest_s = time.perf_counter() - t0
            real = store.count()
            copies = -(-args.traces // real)  # ceiling
            t0 = time.perf_counter()
            for table, columns in REPLICATED.items():
                store.con.execute(f"INSERT INTO {table} SELECT {columns} FROM {table}, range(1, ?) r(k)", [copies])
            store.con.execute("CHECKPOINT")
            replicate_s = time.perf_counter() - t0
            total = store.count()
            rows = {t: store.count(t) for t in ("traces", "metrics", "hypotheses", "beliefs", "edges", "steps")}
        size_mb = path.stat().st_size / 1e6
        latencies = {}
        matches = {}
        with Corpus.open(path) as corpus:
            for expr in QUERIES:
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    found = corpus.query(expr)
                    times.append(time.perf_counter() - t0)
                latencies[expr] = round(statistics.median(times), 3)
                matches[expr] = len(found)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in (("with_text", True), ("no_text", False)):
            path = Path(tmp) / f"{label}.duckdb"
            with Store(path) as store:
                for i in range(0, len(analyses), 32):
                    store.write(analyses[i : i + 32], text=text)
                store.con.execute("CHECKPOINT")
            mb = path.stat().st_size / 1e6
            sizes[label] = {"mb": round(mb, 1), "mb_per_100k_traces": round(mb * 100_000 / len(analyses), 0)}
    result = {
        "store_size": sizes,
        "ingest": {
            "traces": len(analyses),
            "steps": steps,
            "seconds": round(ingest_s, 2),
            "traces_per_s": round(len(analyses) / ingest_s, 1),
            "steps_per_s": round(steps / ingest_s, 1),
        },
        "corpus": {"traces": total, "rows": rows, "file_mb": round(size_mb, 1), "replicate_s": round(replicate_s, 1)},
        "query_median_s": latencies,
        "query_matches": matches,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ing = result["ingest"]
        print(f"ingest: {ing['traces']} traces ({ing['steps']} steps) in {ing['seconds']} s", end="")
        print(f" = {ing['traces_per_s']} traces/s")
        print(f"corpus: {total} traces, rows {rows}, {result['corpus']['file_mb']} MB")
        for expr in QUERIES:
            print(f"  {latencies[expr]:7.3f} s  {matches[expr]:>8} traces  {expr}")
        for label, size in sizes.items():
            print(f"store {label}: {size['mb']} MB, {size['mb_per_100k_traces']:,.0f} MB per 100k")
    slow = [q for q, s in latencies.items() if s >= 1.0]
    if slow:
        print(f"target missed: {len(slow)} queries took a second or more", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of ``cotgraph analyze --db`` on a large JSONL corpus: bounded, not growing with it.

A JSONL corpus of the requested size is written from the shared traces' reasoning (every set of
``throughput.SETS``), repeated with fresh ids until the file reaches the size, one record a line.
Then ``cotgraph analyze CORPUS --db STORE --embedder fast --workers 1`` runs in a fresh process,
and its peak resident set (the child's ``ru_maxrss``; this parent stays small, so the child does
not inherit a large high-water mark) is reported beside its seconds and steps per second.

Run: ``python benchmarks/memory.py [--sizes-mb 25,50,100] [--json]``. Target: a 2 GB corpus
stays under 1.5 GB peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import SETS  # the same traces as the throughput benchmark

from cotgraph.io import load

ROOT = Path(__file__).resolve().parents[1]


def write_corpus(data: Path, path: Path, size_mb: float) -> int:
    """Write records until the file holds ``size_mb`` MB; returns the number of records."""
    texts = [t.reasoning for name, options in SETS for t in load(data / name, options).traces]
    limit = size_mb * 1e6
    written = n = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < limit:
            for text in texts:
                line = json.dumps({"id": f"r{n}", "reasoning": text}, ensure_ascii=False) + "\n"
                fh.write(line)
                written += len(line.encode("utf-8"))
                n += 1
                if written >= limit:
                    break
    return n


def run(data: Path, size_mb: float) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus, store = Path(tmp) / "corpus.jsonl", Path(tmp) / "corpus.duckdb"
        records = write_corpus(data, corpus, size_mb)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        command = ["analyze", str(corpus), "--db", str(store), "--embedder", "fast", "--workers", "1"]
        done = subprocess.run(
            [sys.executable, "-c", "from cotgraph.cli import main; main()", *command],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        seconds = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"analyze failed ({done.returncode}): {done.stderr[-2000:]}")
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        import duckdb

        with duckdb.connect(str(store), read_only=True) as con:
            steps = con.execute("SELECT count(*) FROM steps").fetchone()[0]
            traces = con.execute("SELECT count(*) FROM traces").fetchone()[0]
        return {
            "corpus_mb": round(corpus.stat().st_size / 1e6, 1),
            "records": records,
            "traces": traces,
            "steps": steps,
            "seconds": round(seconds, 1),
            "steps_per_s": round(steps / seconds, 1),
            "peak_mb": round(max(peak_kb, before) / 1024, 1),
            "store_mb": round(store.stat().st_size / 1e6, 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sizes-mb", default="25,50,100")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [run(args.data, float(size)) for size in args.sizes_mb.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    big = [row for row in rows if row["corpus_mb"] >= 2000]
    if any(row["peak_mb"] >= 1536 for row in big):
        print("target missed: a 2 GB corpus must stay under 1.5 GB peak", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

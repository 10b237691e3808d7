"""Segmentation benchmark: math integrity, short fragments, agreement and speed on real traces.

Run from the project root::

    python benchmarks/segmentation.py [--data ../shared/data] [--json]

It reads the shared data files directly with ``json`` (no cotgraph loaders), and reports, side
by side in one run:

(a) the share of steps with **unbalanced math delimiters**, for the Thought Anchors paper's own
    chunks (``chunks_labeled.json``, field ``chunk``) and for cotgraph's steps on the same
    traces' text (``base_solution.json`` field ``solution``, the part before ``</think>``), at
    each granularity. Two definitions, both on the step text alone:

    * ``naive``: after deleting escaped dollars (``\\$``), the number of ``$$`` is odd, or the
      number of remaining single ``$`` is odd, or the number of ``\\(`` differs from the number
      of ``\\)``, or the number of ``\\[`` differs from the number of ``\\]``.
    * ``currency-aware`` (the one cotgraph guarantees to be 0 when the trace itself is
      balanced): as ``naive`` for ``$$``, ``\\(``/``\\)`` and ``\\[``/``\\]``; single ``$`` are
      paired left to right with pandoc's rules (an opener is followed by a non-space; the next
      ``$`` closes it if it follows a non-space and is not followed by a digit, otherwise the
      opener is plain text), and an unpaired ``$`` counts as a cut delimiter unless a digit
      follows it (a currency sign: "$20", "$1.90"). A ``$`` math span that starts with a digit
      and is cut in two is therefore missed: for ``$`` this is a lower bound.

(b) the share of steps under 20 characters (``len(text.strip()) < 20``);

(c) throughput of segmentation in MB/s (UTF-8 bytes / 10^6 / seconds; best of 3; only the
    segmentation call is timed, after a warm-up) over all the reasoning text in the shared
    data: Thought Anchors ``solution``, Thought Branches ``reasoning_text``
    (``thought-branches/faithfulness/good_problems/*.json``) and Thoughtology ``answer``
    (``thoughtology/reasoning_chains_r1/*.jsonl``; the part before ``</think>`` for both).

It also reports how well cotgraph's sentence boundaries agree with the paper's chunk starts
(positions counted in non-whitespace characters, so whitespace handling does not matter).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cotgraph.model import Source, Trace  # noqa: E402
from cotgraph.segment import SegmentConfig, segment, segment_many  # noqa: E402

GRANULARITIES = ("sentence", "step", "paragraph")


# --- definitions of "unbalanced" -----------------------------------------------------------------


def unbalanced_naive(text: str) -> bool:
    """Delimiter counts that do not pair up (see the module docstring)."""
    t = text.replace("\\$", "")
    if t.count("$$") % 2 or t.replace("$$", "").count("$") % 2:
        return True
    return t.count("\\(") != t.count("\\)") or t.count("\\[") != t.count("\\]")


def _cut_dollar(text: str) -> bool:
    """Whether a single ``$`` is left unpaired by pandoc's rules and is not a currency sign."""
    t = text.replace("\\$", "  ").replace("$$", "  ")
    positions = [i for i, ch in enumerate(t) if ch == "$"]
    i = 0
    while i < len(positions):
        p = positions[i]
        nxt = t[p + 1] if p + 1 < len(t) else ""
        if nxt and not nxt.isspace() and i + 1 < len(positions):
            q = positions[i + 1]
            after = t[q + 1] if q + 1 < len(t) else ""
            if not t[q - 1].isspace() and not ("0" <= after <= "9"):
                i += 2
                continue
        if not ("0" <= nxt <= "9"):
            return True
        i += 1
    return False


def unbalanced_currency_aware(text: str) -> bool:
    """``naive`` for ``$$``, ``\\(``, ``\\[``; pandoc pairing with currency allowed for ``$``."""
    t = text.replace("\\$", "")
    if t.count("$$") % 2:
        return True
    if t.count("\\(") != t.count("\\)") or t.count("\\[") != t.count("\\]"):
        return True
    return _cut_dollar(text)


# --- data ----------------------------------------------------------------------------------------


@dataclass
class AnchorsTrace:
    """A Thought Anchors trace: the reasoning text and the paper's chunks of it."""

    name: str
    text: str
    chunks: list[str]


def _before_think_end(text: str) -> str:
    return text.split("</think>", 1)[0]


def load_anchors(data: Path) -> list[AnchorsTrace]:
    """Every Thought Anchors trace with its ``chunks_labeled.json``."""
    out = []
    pattern = str(data / "thought-anchors.com/src/app/data/*/*/*/base_solution.json")
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as f:
            text = _before_think_end(json.load(f)["solution"])
        with open(os.path.join(os.path.dirname(path), "chunks_labeled.json"), encoding="utf-8") as f:
            chunks = [c["chunk"] for c in json.load(f)]
        name = "/".join(Path(path).parts[-4:-1])
        out.append(AnchorsTrace(name, text, chunks))
    return out


def load_all_reasoning(data: Path) -> list[Trace]:
    """All the reasoning text in the shared data, as ``Trace`` objects."""
    traces: list[Trace] = []

    def add(path: str, record: int | None, text: str) -> None:
        traces.append(Trace(id=f"{path}:{record}", reasoning=text, source=Source(path=path, record=record)))

    for path in sorted(glob.glob(str(data / "thought-anchors.com/src/app/data/*/*/*/base_solution.json"))):
        with open(path, encoding="utf-8") as f:
            add(path, None, _before_think_end(json.load(f)["solution"]))
    for path in sorted(glob.glob(str(data / "thought-branches/faithfulness/good_problems/*.json"))):
        with open(path, encoding="utf-8") as f:
            for i, rec in enumerate(json.load(f)):
                if rec.get("reasoning_text"):
                    add(path, i, rec["reasoning_text"])
    for path in sorted(glob.glob(str(data / "thoughtology/reasoning_chains_r1/*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if line.strip():
                    add(path, i, _before_think_end(json.loads(line)["answer"]))
    return traces


# --- measures ------------------------------------------------------------------------------------


def _nonspace_prefix(text: str) -> list[int]:
    """``out[i]`` = number of non-whitespace characters in ``text[:i]``."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (not ch.isspace()))
    return out


def _nonspace_len(text: str) -> int:
    return len(re.sub(r"\s+", "", text))


def boundary_agreement(anchors: list[AnchorsTrace], config: SegmentConfig) -> dict[str, float]:
    """Precision, recall and F1 of cotgraph's step starts against the paper's chunk starts."""
    tp = n_ours = n_gold = 0
    for tr in anchors:
        gold, pos = set(), 0
        for chunk in tr.chunks[:-1]:
            pos += _nonspace_len(chunk)
            gold.add(pos)
        prefix = _nonspace_prefix(tr.text)
        ours = {prefix[s.start] for s in segment(tr.text, config)[1:]}
        tp += len(gold & ours)
        n_ours += len(ours)
        n_gold += len(gold)
    p = tp / n_ours if n_ours else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def step_stats(texts: list[str]) -> dict[str, Any]:
    """Counts and shares for a list of step texts."""
    n = len(texts)
    return {
        "steps": n,
        "unbalanced_naive": sum(map(unbalanced_naive, texts)),
        "unbalanced_currency_aware": sum(map(unbalanced_currency_aware, texts)),
        "under_20_chars": sum(len(t.strip()) < 20 for t in texts),
        "mean_chars": sum(len(t) for t in texts) / n if n else 0.0,
    }


def throughput(traces: list[Trace], config: SegmentConfig, repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` MB/s of ``segment_many`` and of one ``segment`` call per trace."""
    size = sum(len(t.reasoning.encode("utf-8")) for t in traces)
    list(segment_many(traces[:5], config))  # warm-up: builds the spaCy pipeline
    best_many = best_one = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _trace, _steps in segment_many(traces, config):
            pass
        best_many = min(best_many, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for trace in traces:
            segment(trace, config)
        best_one = min(best_one, time.perf_counter() - t0)
    return {
        "bytes": size,
        "seconds_many": best_many,
        "mb_per_s_many": size / best_many / 1e6,
        "mb_per_s_single": size / best_one / 1e6,
    }


def _cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(data: Path) -> dict[str, Any]:
    """Every figure of the benchmark, as a dict."""
    anchors = load_anchors(data)
    if not anchors:
        raise SystemExit(f"no Thought Anchors data under {data}")
    paper = step_stats([c for tr in anchors for c in tr.chunks])
    traces_unbalanced = [tr.name for tr in anchors if unbalanced_currency_aware(tr.text)]
    ours: dict[str, Any] = {}
    for g in GRANULARITIES:
        config = SegmentConfig(granularity=g)
        ours[g] = step_stats([s.text for tr in anchors for s in segment(tr.text, config)])
    agreement = {
        "sentence": boundary_agreement(anchors, SegmentConfig(granularity="sentence")),
        "sentence_min_chars_0": boundary_agreement(anchors, SegmentConfig(granularity="sentence", min_chars=0)),
    }
    corpus = load_all_reasoning(data)
    speed = {g: throughput(corpus, SegmentConfig(granularity=g)) for g in GRANULARITIES}
    return {
        "machine": {
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "anchors_traces": len(anchors),
        "anchors_traces_unbalanced": traces_unbalanced,
        "paper_chunks": paper,
        "cotgraph": ours,
        "boundary_agreement_vs_paper": agreement,
        "corpus_traces": len(corpus),
        "throughput": speed,
    }


def _pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.2f}%)" if n else "-"


def print_table(res: dict[str, Any]) -> None:
    """Render the results as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))
    table = Table(title=f"Segmentation of {res['anchors_traces']} Thought Anchors traces")
    for col in ("splitter", "steps", "mean chars", "unbal. naive", "unbal. currency-aware", "< 20 chars"):
        table.add_column(col, justify="right" if col != "splitter" else "left", no_wrap=True)
    rows = [("paper chunks", res["paper_chunks"])]
    rows += [(f"cotgraph {g}", res["cotgraph"][g]) for g in GRANULARITIES]
    for name, st in rows:
        n = st["steps"]
        table.add_row(
            name,
            str(n),
            f"{st['mean_chars']:.0f}",
            _pct(st["unbalanced_naive"], n),
            _pct(st["unbalanced_currency_aware"], n),
            _pct(st["under_20_chars"], n),
        )
    console.print(table)

    agree = Table(title="Sentence boundaries vs the paper's chunk starts")
    for col in ("config", "precision", "recall", "F1"):
        agree.add_column(col)
    for name, a in res["boundary_agreement_vs_paper"].items():
        agree.add_row(name, f"{a['precision']:.3f}", f"{a['recall']:.3f}", f"{a['f1']:.3f}")
    console.print(agree)

    speed = Table(title=f"Throughput on {res['corpus_traces']} traces (best of 3)")
    for col in ("granularity", "MB", "seconds", "MB/s segment_many", "MB/s segment"):
        speed.add_column(col, justify="right")
    for g, s in res["throughput"].items():
        speed.add_row(
            g,
            f"{s['bytes'] / 1e6:.3f}",
            f"{s['seconds_many']:.3f}",
            f"{s['mb_per_s_many']:.2f}",
            f"{s['mb_per_s_single']:.2f}",
        )
    console.print(speed)
    console.print(f"machine: {res['machine']}")
    if res["anchors_traces_unbalanced"]:
        console.print(f"traces unbalanced as a whole: {res['anchors_traces_unbalanced']}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    res = run(args.data)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Trace pages: file size, build time, and time until the page is interactive in headless Chromium.

Traces, all real text from ``../shared/data``:

- the Thoughtology safety trace with the most steps (DeepSeek-R1);
- the longest Thought Anchors trace (an R1 distill on MATH, the longest real trace in the data);
- "joined" traces of 2,000 and 5,000 steps: Thought Anchors base solutions, then Thought Branches
  traces, joined in file order until the segmenter finds that many steps (no real trace in the
  data is that long).

Each is analysed once (default embedder, metagaming beliefs) and rendered as a self-contained
page; **build** is ``render_trace`` alone. The page is then opened five times in Debian's headless
Chromium (1500×950, a fresh context each time); **interactive** is the page's own
``performance.now()`` when vis-network has drawn the graph for the first time and every handler
is attached (``body[data-ready]``), counted from navigation start. Then, on the open page, three
actions are timed inside the page (``performance.now()`` around the call and a synchronous
redraw): **open a run** (the longest folded run opens in place: the lanes are laid out again),
**expand all** (a node per step) and **select** (the next step, as the ``j`` key does). Medians
are reported. The issue's target: a 2,000-step page interactive within 3 s.

With ``--store FILE``, it also times ``write_report`` on that store (every trace page, the
comparison with its bootstrap, the plots and the index), with shared and with inlined vis-network.

Run: ``python benchmarks/render.py [--data ../shared/data] [--sizes 2000 5000] [--store FILE] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.model import Source, Trace
from cotgraph.render import render_trace
from cotgraph.segment import segment

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANCHORS = "thought-anchors.com/src/app/data"


def real_traces(data: Path) -> dict[str, Trace]:
    safety = load(data / "thoughtology/reasoning_chains_r1/safety_all.json.subset.jsonl").traces
    anchors = load(data / ANCHORS).traces
    return {
        "thoughtology safety (longest)": max(safety, key=lambda t: len(segment(t))),
        "thought anchors (longest)": max(anchors, key=lambda t: len(segment(t))),
    }


def joined(data: Path, min_steps: int) -> Trace:
    """Real traces joined until ``min_steps`` steps: Thought Anchors base solutions in file order,
    then the Thought Branches faithfulness traces."""
    paths = sorted((data / ANCHORS).glob("*/*_base_solution/problem_*/base_solution.json"))
    paths += sorted((data / "thought-branches").rglob("*.json"))
    parts, steps = [], 0
    for path in paths:
        for trace in load(path).traces:
            parts.append(trace.reasoning)
            steps += len(segment(trace))
            if steps >= min_steps:
                break
        if steps >= min_steps:
            break
    if steps < min_steps:
        raise SystemExit(f"only {steps} steps in the joined sources")
    return Trace(id=f"joined-{min_steps}", reasoning="\n\n".join(parts), source=Source(path=str(data / ANCHORS)))


ACTIONS = """() => {
    const g = window.cotgraph;
    const timed = (f) => {
        const t0 = performance.now();
        f();
        g.network.redraw();
        return (performance.now() - t0) / 1000;
    };
    const drawn = g.drawing().nodes;
    const runs = drawn.filter(n => n.collapsed).sort((a, b) => (b.last - b.first) - (a.last - a.first));
    const out = {nodes_at_start: drawn.length};
    out.select_s = timed(() => g.select(Math.floor(g.page.steps.length / 2), true));
    out.open_run_s = runs.length ? timed(() => g.network.emit('click', {nodes: [runs[0].id], edges: []})) : null;
    out.expand_all_s = timed(() => g.expandAll());
    return out;
}"""


def time_to_interactive(browser: object, page_path: Path, runs: int) -> list[dict[str, float]]:
    """Per load: seconds to interactive and the timed actions."""
    loads = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1500, "height": 950})  # type: ignore[attr-defined]
        page = context.new_page()
        leaving: list[str] = []
        page.on("request", lambda r, leaving=leaving: leaving.append(r.url) if not r.url.startswith("file:") else None)
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=300_000)
        loads.append({"interactive_s": page.evaluate("window.cotgraphReadyAt") / 1000.0, **page.evaluate(ACTIONS)})
        context.close()
        if leaving:
            raise SystemExit(f"{page_path.name} made requests off file://: {leaving}")
    return loads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000], help="Steps of the joined traces.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--store", type=Path, help="Also time a report of this store.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    traces = real_traces(args.data)
    for size in args.sizes:
        traces[f"joined ({size:,}+ steps)"] = joined(args.data, size)
    config = AnalyzeConfig()
    analyses = dict(zip(traces, analyze_many(list(traces.values()), config), strict=True))
    assert all(a.trace.id == t.id for a, t in zip(analyses.values(), traces.values(), strict=True))

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        for name, analysis in analyses.items():
            builds = []
            for _ in range(3):
                t0 = time.perf_counter()
                html = render_trace(analysis)
                builds.append(time.perf_counter() - t0)
            path = Path(tmp) / f"{len(rows)}.html"
            path.write_text(html, encoding="utf-8")
            loads = time_to_interactive(browser, path, args.runs)
            tti = [load["interactive_s"] for load in loads]

            def median(key: str, loads: list[dict[str, float]] = loads) -> float | None:
                values = [load[key] for load in loads if load[key] is not None]
                return round(statistics.median(values), 3) if values else None

            rows.append(
                {
                    "trace": name,
                    "steps": len(analysis.steps),
                    "edges": len(analysis.edges),
                    "chars": len(analysis.trace.reasoning),
                    "file_kb": round(path.stat().st_size / 1024),
                    "build_s": round(statistics.median(builds), 3),
                    "interactive_s": round(statistics.median(tti), 2),
                    "interactive_max_s": round(max(tti), 2),
                    "nodes_at_start": loads[0]["nodes_at_start"],
                    "select_s": median("select_s"),
                    "open_run_s": median("open_run_s"),
                    "expand_all_s": median("expand_all_s"),
                }
            )
        browser.close()
    result = {"chromium": browser.version, "runs": args.runs, "pages": rows}
    if args.store:
        result["report"] = report_timings(args.store)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Chromium {result['chromium']}, median of {args.runs} loads")
    print(
        f"{'trace':32} {'steps':>6} {'nodes':>6} {'edges':>6} {'chars':>8} {'file KB':>8} {'build s':>8} "
        f"{'interactive s':>20} {'select s':>9} {'open run s':>11} {'expand all s':>13}"
    )
    for r in rows:
        print(
            f"{r['trace']:32} {r['steps']:>6} {r['nodes_at_start']:>6} {r['edges']:>6} {r['chars']:>8} "
            f"{r['file_kb']:>8} {r['build_s']:>8.3f} {r['interactive_s']:>9.2f} (max {r['interactive_max_s']:.2f}) "
            f"{r['select_s']:>9} {r['open_run_s'] if r['open_run_s'] is not None else '–':>11} {r['expand_all_s']:>13}"
        )
    for r in result.get("report", []):
        print(
            f"report of {r['traces']} traces ({r['mode']}): {r['seconds']} s = {r['pages_per_s']} pages/s, {r['mb']} MB"
        )
    return 0


def report_timings(store: Path) -> list[dict[str, object]]:
    from cotgraph.corpus import Corpus
    from cotgraph.render.report import write_report

    out = []
    with Corpus.open(store) as corpus, tempfile.TemporaryDirectory() as tmp:
        for mode, inline in (("shared vis-network", False), ("self-contained pages", True)):
            folder = Path(tmp) / mode.split()[0]
            t0 = time.perf_counter()
            report = write_report(corpus, folder, self_contained=inline)
            seconds = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            out.append(
                {
                    "mode": mode,
                    "traces": len(report.pages),
                    "seconds": round(seconds, 2),
                    "pages_per_s": round(len(report.pages) / seconds, 1),
                    "mb": round(size / 1e6, 1),
                }
            )
    return out


if __name__ == "__main__":
    sys.exit(main())

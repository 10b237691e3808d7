"""Make the README's screenshots (``docs/images/trace-page.png`` and ``report.png``) from the real
data, in Debian's headless Chromium at 1500×950.

- **trace-page.png**: the Thoughtology DeepSeek-R1 safety trace that entertains the most beliefs
  (the browser tests' trace), opened at its first step tagged ``eval_awareness``
  (``page.html#step-N``), with the step selected and its run opened.
- **report.png**: the report index of the examples, Thoughtology's safety traces and Thought
  Branches (177 traces).

Run from the project root: ``.venv/bin/python docs/images/screenshots.py [--data ../shared/data]``
(about two minutes, most of it analysing the 177 traces of the report).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from cotgraph.corpus import Corpus
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import load
from cotgraph.render import write_trace_page
from cotgraph.render.report import write_report
from cotgraph.store import Store

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1500, "height": 950}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    safety = load(args.data / "thoughtology/reasoning_chains_r1/safety_all.json.subset.jsonl").traces
    analyses = list(analyze_many(safety, AnalyzeConfig()))
    chosen = max(analyses, key=lambda a: (len({t.belief for t in a.beliefs}), len(a.beliefs), len(a.steps)))
    aware = min((t.step for t in chosen.beliefs if t.belief == "eval_awareness"), default=0)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport=VIEWPORT).new_page()
        path = write_trace_page(chosen, Path(tmp) / "trace.html")
        page.goto(f"{path.as_uri()}#step-{aware}")
        page.wait_for_selector("body[data-ready='1']")
        page.evaluate(
            """(idx) => {
                const g = window.cotgraph;
                if (g.unitOf(idx) !== idx) document.querySelector('#toggle-run').click();
                g.fit();
                g.select(idx, false);
            }""",
            aware,
        )
        page.wait_for_timeout(300)
        page.screenshot(path=str(args.out / "trace-page.png"))

        traces = load(ROOT / "examples").traces + safety + load(args.data / "thought-branches").traces
        db = Path(tmp) / "corpus.duckdb"
        with Store(db) as store:
            store.write(list(analyze_many(traces, AnalyzeConfig())))
        with Corpus.open(db) as corpus:
            write_report(corpus, Path(tmp) / "report")
        page.goto((Path(tmp) / "report" / "index.html").as_uri())
        page.wait_for_timeout(800)
        page.screenshot(path=str(args.out / "report.png"))
        browser.close()
    print(f"wrote {args.out / 'trace-page.png'} (step {aware} of {chosen.trace.id}) and {args.out / 'report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

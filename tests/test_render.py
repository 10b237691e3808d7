"""The render stage without a browser: page data, offsets, the tree layout, the store round trip
that pages are built from, and the ``render`` / ``report`` commands. What the pages do in a real
browser is in ``test_browser.py``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cotgraph.engine import AnalyzeConfig, analyze, analyze_many
from cotgraph.io import load
from cotgraph.model import Source, Trace
from cotgraph.render import page_data, render_trace
from cotgraph.render.page import tree_parents, utf16_index
from cotgraph.render.report import page_name
from cotgraph.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COTGRAPH = str(Path(sys.executable).parent / "cotgraph")


@pytest.fixture(scope="module")
def example_analyses() -> list:
    return list(analyze_many(load(EXAMPLES).traces, AnalyzeConfig()))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COTGRAPH, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_offsets_are_converted_to_utf16_for_javascript() -> None:
    text = "Let 𝑥 = 2. Wait, 😀 is not 𝑥! So 𝑥 + 1 = 3."
    analysis = analyze(Trace(id="astral", reasoning=text, source=Source(path="mem")))
    data = page_data(analysis)
    units = text.encode("utf-16-le")
    for step, shown in zip(analysis.steps, data["steps"], strict=True):
        # What JavaScript's text.slice(start, end) returns, computed from the UTF-16 code units.
        sliced = units[2 * shown["start"] : 2 * shown["end"]].decode("utf-16-le")
        assert sliced == step.text
    assert data["steps"][-1]["end"] > analysis.steps[-1].end  # astral characters shifted the offsets
    js = utf16_index("ab")
    assert js(2) == 2


def test_tree_parents_from_edges_match_the_graph_stage(example_analyses: list) -> None:
    checked = 0
    for analysis in example_analyses:
        expected = [s.parent for s in analysis.steps]
        assert all(p is not None for p in expected)
        for s in analysis.steps:
            s.parent = None  # as read from a store written before Step.parent existed
        try:
            assert tree_parents(analysis) == expected
        finally:
            for s, p in zip(analysis.steps, expected, strict=True):
                s.parent = p
        checked += sum(1 for i, p in enumerate(expected) if p not in (i - 1, -1))
    assert checked > 0  # the examples do backtrack and branch


def test_page_is_self_contained_escaped_and_reproducible(example_analyses: list) -> None:
    analysis = next(a for a in example_analyses if a.hypotheses)
    html = render_trace(analysis)
    assert html == render_trace(analysis)  # byte for byte: the nonce is a hash of the content
    # Nothing refers outside the file: no src/href to a URL, no @import, no url() to a network.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert "@import" not in html
    assert "sourceMappingURL" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # Two JSON blocks, vis-network and the page script: every script element carries the nonce or is data.
    assert len(re.findall(r'<script (?:type="application/json"|nonce=")', html)) == 4
    data = json.loads(re.search(r'id="cotgraph-data">(.*?)</script>', html, re.DOTALL).group(1))
    assert data["trace"]["reasoning"] == analysis.trace.reasoning
    assert [s["idx"] for s in data["steps"]] == list(range(len(analysis.steps)))
    assert data["hypotheses"][0]["belief"] == min(analysis.hypotheses, key=lambda h: h.first_step).belief


def test_undefined_metrics_keep_the_page_data_valid_json(example_analyses: list) -> None:
    analysis = example_analyses[0].model_copy(deep=False)
    analysis.metrics = {**analysis.metrics, "small_world_index": float("nan"), "linearity": float("inf")}
    html = render_trace(analysis)

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    for block in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.DOTALL):
        json.loads(block, parse_constant=refuse)  # what JSON.parse in the browser accepts


def test_markup_in_a_trace_never_reaches_the_html_as_markup() -> None:
    payload = '</script><script>alert(1)</script> <img src=x onerror="alert(2)"> <!-- x'
    trace = Trace(
        id="x<y>", model="m</script>", question=payload, reasoning=f"First. {payload} Then.", source=Source(path="mem")
    )
    html = render_trace(analyze(trace))
    assert "<script>alert" not in html and "<img" not in html and "<!-- x" not in html
    assert html.count("</script>") == 4  # only the page's own script elements close


def test_store_round_trip_gives_the_same_page_data(tmp_path: Path, example_analyses: list) -> None:
    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        store.write(example_analyses)
        for analysis in example_analyses:
            back = store.read_analysis(analysis.trace.id)
            original, stored = analysis.to_json(), back.to_json()
            for key in ("trace_id", "model", "question", "reasoning", "steps", "edges", "hypotheses"):
                assert stored[key] == original[key], key
            as_stored = {k: None if v is None else float(v) for k, v in original["metrics"].items()}
            assert stored["metrics"] == pytest.approx(as_stored)  # the store keeps every metric as a double
            shown, expected = page_data(back), page_data(analysis)
            assert shown["steps"] == expected["steps"] and shown["beliefs"] == expected["beliefs"]
            assert shown["hypotheses"] == expected["hypotheses"] and shown["trace"] == expected["trace"]
        with pytest.raises(KeyError):
            store.read_analysis("no such trace")


def test_a_store_written_before_the_tree_columns_still_renders(tmp_path: Path, example_analyses: list) -> None:
    import duckdb

    from cotgraph.corpus import Corpus
    from cotgraph.store import pending

    db = tmp_path / "old.duckdb"
    with Store(db) as store:
        store.write(example_analyses)
    with Corpus.open(db) as corpus:  # first, as written: every step's state comes back
        for a in example_analyses:
            back = corpus.analysis(a.trace.id)
            assert [s.state for s in back.steps] == [s.state for s in a.steps]
            assert all(isinstance(s.state, int) for s in back.steps)
            assert [s["state"] for s in page_data(back)["steps"]] == [s.state for s in a.steps]
    con = duckdb.connect(str(db))  # make it look like a store written by the previous release
    for table, column in (
        ("steps", "parent"),
        ("steps", "dead_end"),
        ("steps", "state"),
        ("traces", "truncated"),
        ("traces", "redacted_blocks"),
    ):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE traces SET content_hash = 'written by 0.1.0'")
    con.close()
    analysis = next(a for a in example_analyses if any(s.parent not in (s.idx - 1, -1) for s in a.steps))
    with Corpus.open(db) as corpus:
        back = corpus.analysis(analysis.trace.id)
    assert all(s.parent is None and s.state is None for s in back.steps)
    assert [s["parent"] for s in page_data(back)["steps"]] == [s.parent for s in analysis.steps]
    assert "cotgraph-data" in render_trace(back)
    with Store(db) as store:  # opened for writing: the columns are added, and every trace is due again
        columns = {r[0] for r in store.con.execute("SELECT column_name FROM (DESCRIBE steps)").fetchall()}
        assert {"parent", "dead_end", "state"} <= columns
        due = list(
            pending([a.trace for a in example_analyses], store.stored_hashes(), analysis.embedder, analysis.taxonomy)
        )
        assert len(due) == len(example_analyses)


def test_steps_out_of_order_are_refused_with_a_clear_error(example_analyses: list) -> None:
    analysis = example_analyses[0].model_copy(update={"steps": example_analyses[0].steps[1:]})
    with pytest.raises(ValueError, match="position 0 has idx 1"):
        render_trace(analysis)


def test_page_names_are_safe_and_distinct() -> None:
    names = {page_name(t) for t in ("a/b", "a_b", "a:b", "../../etc/passwd", "")}
    assert len(names) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+\.html", n) and not n.startswith(".") for n in names)


def test_render_command_from_files_and_from_a_store(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    proc = run("render", str(EXAMPLES / "thoughtology"), "--trace", "safety_sample.jsonl:97", "--out", str(page))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(re.search(r'id="cotgraph-data">(.*?)</script>', page.read_text(), re.DOTALL).group(1))
    assert data["trace"]["id"] == "safety_sample.jsonl:97"

    proc = run("render", str(EXAMPLES / "thoughtology"), "--trace", "safety_sample.jsonl:98", "--out", str(page))
    assert proc.returncode == 1
    assert "no trace 'safety_sample.jsonl:98'" in proc.stderr and "did you mean" in proc.stderr

    db = tmp_path / "c.duckdb"
    assert run("analyze", str(EXAMPLES / "thoughtology"), "--db", str(db)).returncode == 0
    first = tmp_path / "first.html"
    proc = run("render", "--db", str(db), "--out", str(first))
    assert proc.returncode == 0, proc.stderr
    assert "safety_sample.jsonl:3" in proc.stderr  # the first trace stored
    assert run("render", "--db", str(db), "--trace", "nope", "--out", str(first)).returncode == 1
    both = run("render", str(EXAMPLES), "--db", str(db), "--out", str(first))
    assert both.returncode == 64 and "one of them" in both.stderr
    assert run("render", "--out", str(first)).returncode == 64


def test_report_command_writes_an_index_and_a_page_per_trace(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    assert run("analyze", str(EXAMPLES), "--db", str(db)).returncode == 0
    out = tmp_path / "report"
    proc = run("report", "--db", str(db), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    pages = sorted((out / "traces").glob("*.html"))
    assert len(pages) == 10
    index = (out / "index.html").read_text()
    links = re.findall(r'href="(traces/[^"]+)"', index)
    assert sorted(links) == sorted(f"traces/{p.name}" for p in pages)
    assert (out / "assets" / "vis-network.min.js").is_file()
    assert all('src="../assets/vis-network.min.js"' in p.read_text() for p in pages)
    assert {p.name for p in (out / "tables").iterdir()} == {"stats.csv", "beliefs.csv", "paired.csv", "traces.csv"}

    rerun = run("report", "--db", str(db), "--out", str(out), "--query", "explored(eval_awareness)")
    assert rerun.returncode == 0, rerun.stderr
    assert len(list((out / "traces").glob("*.html"))) == 3  # no page of the earlier report is left behind

    only = tmp_path / "only"
    proc = run("report", "--db", str(db), "--out", str(only), "--query", "explored(eval_awareness)")
    assert proc.returncode == 0, proc.stderr
    assert len(list((only / "traces").glob("*.html"))) == 3  # the three Thoughtology safety traces
    assert run("report", "--db", str(db), "--out", str(only), "--query", "explored(").returncode == 64
    assert run("report", "--db", str(db), "--out", str(only), "--by", "nonsense;").returncode == 64

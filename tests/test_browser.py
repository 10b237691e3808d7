"""The pages in a real browser: Debian's headless Chromium, driven by Playwright (which never
downloads a browser of its own here; ``.ci/run`` installs ``chromium``).

Each test records every request the page makes and fails on any that leaves ``file://``, fails
on any script error, and saves a screenshot under ``tests/output/screenshots/``.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cotgraph.engine import AnalyzeConfig, analyze, analyze_many
from cotgraph.io import load
from cotgraph.model import Analysis, Source, Trace
from cotgraph.render import write_trace_page
from cotgraph.render.report import write_report
from cotgraph.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAFETY = SHARED / "thoughtology" / "reasoning_chains_r1" / "safety_all.json.subset.jsonl"
ANCHORS = SHARED / "thought-anchors.com" / "src" / "app" / "data"
SCREENSHOTS = ROOT / "tests" / "output" / "screenshots"
CHROMIUM = os.environ.get("COTGRAPH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_data = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the project")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Page:
    """A Playwright page that records every request, dialog and script error."""

    def __init__(self, browser: Any, name: str, viewport: tuple[int, int] = (1400, 900)) -> None:
        self.name = name
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        return self.page

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def finish(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}.png"))
        self.context.close()
        leaving = [u for u in self.requests if not u.startswith("file://")]
        assert leaving == [], f"requests left file://: {leaving}"
        assert self.errors == [], f"script errors: {self.errors}"


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    pages: list[Page] = []

    def make(name: str | None = None, viewport: tuple[int, int] = (1400, 900)) -> Page:
        page = Page(browser, name or request.node.name, viewport)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.finish()


@pytest.fixture(scope="module")
def safety_analysis() -> Analysis:
    """A real DeepSeek-R1 trace (Thoughtology, safety) that entertains being evaluated."""
    traces = load(SAFETY).traces
    analyses = list(analyze_many(traces, AnalyzeConfig()))
    return max(analyses, key=lambda a: (len({t.belief for t in a.beliefs}), len(a.beliefs), len(a.steps)))


@pytest.fixture(scope="module")
def safety_page(safety_analysis: Analysis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace_page(safety_analysis, tmp_path_factory.mktemp("pages") / "safety.html")


def node_positions(page: Page, idx: int | str) -> dict[str, float]:
    """Centre the graph on a node (a step index, or a run's id) and return where it is drawn, in page coordinates."""
    return page.js(
        """(idx) => {
            const net = window.cotgraph.network;
            net.moveTo({position: net.getPositions([idx])[idx], scale: 1.6, animation: false});
            net.redraw();
            const dom = net.canvasToDOM(net.getPositions([idx])[idx]);
            const box = document.querySelector('#graph canvas').getBoundingClientRect();
            return {x: box.left + dom.x, y: box.top + dom.y};
        }""",
        idx,
    )


@needs_data
def test_real_trace_page_loads_offline_with_every_step_in_one_node(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    page.open(safety_page)
    n = len(safety_analysis.steps)
    drawn = page.js("window.cotgraph.drawing().nodes")
    covered = sorted(i for node in drawn for i in range(node["first"], node["last"] + 1))
    assert covered == list(range(n))  # every step in exactly one node, runs folded
    assert any(node["collapsed"] for node in drawn) and len(drawn) < n
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == len(drawn)
    page.js("window.cotgraph.expandAll()")
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == n  # expanded: a node per step
    assert page.js("document.querySelectorAll('#trace-text span.step').length") == n
    assert page.js("window.cotgraph.network.body.edgeIndices.length") == len(safety_analysis.edges)
    assert page.page.text_content("#trace-id") == safety_analysis.trace.id
    assert page.page.text_content("#trace-text") == safety_analysis.trace.reasoning  # the whole trace, verbatim
    shown = page.js("[...document.querySelectorAll('#hypotheses .hypothesis')].map(b => b.dataset.belief)")
    assert shown == [h.belief for h in sorted(safety_analysis.hypotheses, key=lambda h: (h.first_step, h.belief))]
    assert page.requests == [safety_page.resolve().as_uri()]  # the page itself and nothing else
    assert page.js("getComputedStyle(document.querySelector('#outcomes')).display") == "none"  # it has none


@needs_data
def test_clicking_a_node_highlights_exactly_that_steps_text(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    page.open(safety_page)
    page.js("window.cotgraph.expandAll()")
    n = len(safety_analysis.steps)
    for idx in sorted({0, n // 2, n - 1, *(t.step for t in safety_analysis.beliefs)}):
        point = node_positions(page, idx)
        page.page.mouse.click(point["x"], point["y"])
        selected = page.js(
            "[...document.querySelectorAll('#trace-text .selected')].map(s => [+s.dataset.step, s.textContent])"
        )
        step = safety_analysis.steps[idx]
        assert selected == [[idx, step.text]], f"clicking node {idx}"
        assert page.js("window.cotgraph.network.getSelectedNodes()") == [idx]
        assert page.page.text_content("#step-detail .detail-head strong") == f"step {idx}"
    # The text selects the node back.
    target = n // 3
    page.page.click(f"#trace-text span.step[data-step='{target}']")
    assert page.js("window.cotgraph.network.getSelectedNodes()") == [target]
    assert page.js("[...document.querySelectorAll('#trace-text .selected')].map(s => +s.dataset.step)") == [target]


@needs_data
def test_hover_shows_text_kind_and_beliefs(safety_analysis: Analysis, safety_page: Path, open_page: Any) -> None:
    page = open_page()
    page.open(safety_page)
    page.js("window.cotgraph.expandAll()")
    tag = max(safety_analysis.beliefs, key=lambda t: t.score)
    point = node_positions(page, tag.step)
    page.page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.page.mouse.move(point["x"], point["y"])
    page.page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
    tip = page.page.text_content("#tooltip")
    step = safety_analysis.steps[tag.step]
    assert f"step {tag.step} · {step.kind}" in tip
    first_line = step.text.strip().split("\n")[0]
    assert first_line[:200].rsplit(" ", 1)[0] in tip  # its first line
    kind = "p" if tag.via.startswith("learned:") else "score"
    assert re.search(rf"— {kind} {tag.score:.3g}".replace(".", r"\.") + rf" · {tag.stance}", tip), tip


@needs_data
def test_belief_filter_hides_exactly_that_beliefs_nodes(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    page.open(safety_page)
    page.js("window.cotgraph.expandAll()")
    n = len(safety_analysis.steps)
    beliefs = sorted({t.belief for t in safety_analysis.beliefs})
    assert beliefs, "the chosen real trace carries beliefs"
    for belief in [*beliefs, "__none__"]:
        if belief == "__none__":
            expected = {s.idx for s in safety_analysis.steps} - {t.step for t in safety_analysis.beliefs}
        else:
            expected = {t.step for t in safety_analysis.beliefs if t.belief == belief}
        page.page.uncheck(f"#belief-legend input[data-belief='{belief}']")
        hidden = page.js("window.cotgraph.nodes.get({filter: n => n.hidden}).map(n => n.id)")
        assert set(hidden) == expected, belief
        assert page.js("window.cotgraph.network.body.nodeIndices.length") == n - len(expected)
        kept = [e for e in safety_analysis.edges if e.src not in expected and e.dst not in expected]
        assert page.js("window.cotgraph.network.body.edgeIndices.length") == len(kept)  # their edges go too
        dimmed = page.js("[...document.querySelectorAll('#trace-text .filtered')].map(s => +s.dataset.step)")
        assert set(dimmed) == expected
        page.page.check(f"#belief-legend input[data-belief='{belief}']")
        assert page.js("window.cotgraph.network.body.nodeIndices.length") == n


@needs_data
def test_edge_filter_and_layouts(safety_analysis: Analysis, safety_page: Path, open_page: Any) -> None:
    page = open_page()
    page.open(safety_page)
    page.js("window.cotgraph.expandAll()")
    for etype in ("backtrack", "next"):
        expected = sum(1 for e in safety_analysis.edges if e.type == etype)
        assert expected > 0
        page.page.uncheck(f"#edge-legend input[data-edge-type='{etype}']")
        assert page.js("window.cotgraph.edges.get({filter: e => e.hidden}).length") == expected
        assert {e["type"] for e in page.js("window.cotgraph.edges.get({filter: e => e.hidden})")} == {etype}
        page.page.check(f"#edge-legend input[data-edge-type='{etype}']")
    tree = page.js("window.cotgraph.network.getPositions()")
    for step in safety_analysis.steps[1:]:  # a child is drawn below its parent, in its lane or to its right
        child, parent = tree[str(step.idx)], tree[str(step.parent)]
        assert child["y"] > parent["y"] and child["x"] >= parent["x"], step.idx
    page.page.check("input[name=layout][value=physics]")
    page.page.wait_for_timeout(300)
    moved = page.js("window.cotgraph.network.getPositions()")
    assert moved != tree
    page.page.check("input[name=layout][value=tree]")
    assert page.js("window.cotgraph.network.getPositions()") == tree


XSS_PAYLOADS = (
    "<script>window.__pwned = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">",
    "<a href=\"javascript:window.__pwned='link';alert('link')\">javascript:alert(document.domain)</a>",
    "</script><script>window.__pwned = 'breakout'; alert('breakout')</script>",
    "<svg onload=\"window.__pwned='svg'\"></svg> <iframe srcdoc=\"<script>parent.__pwned='frame'</script>\"></iframe>",
    "{{ 7*7 }} ${alert('template')} <!-- comment",
)


def test_xss_trace_shows_its_text_and_runs_nothing(tmp_path: Path, open_page: Any) -> None:
    reasoning = "\n\n".join(
        f"Step {i}: maybe this is a test of whether I obey. Wait, the user wrote {p} and I should not run it."
        for i, p in enumerate(XSS_PAYLOADS)
    )
    trace = Trace(
        id="<img src=x onerror=alert('id')>",
        model="<script>alert('model')</script>",
        question="javascript:alert('question') <b onmouseover=alert(1)>hover</b>",
        reasoning=reasoning,
        source=Source(path="xss.txt"),
    )
    analysis = analyze(trace)
    path = write_trace_page(analysis, tmp_path / "xss.html")
    page = open_page()
    p = page.open(path)
    for idx in range(len(analysis.steps)):  # select each step: its detail and quotes are built too
        page.js("(i) => window.cotgraph.select(i, true)", idx)
    p.hover("#trace-question")
    p.click("#trace-text")
    p.wait_for_timeout(200)
    assert page.dialogs == []
    assert page.js("typeof window.__pwned") == "undefined"
    assert page.js("document.querySelectorAll('img, iframe, svg a, a[href^=javascript], b').length") == 0
    assert p.text_content("#trace-text") == reasoning
    assert p.text_content("#trace-id") == trace.id and p.text_content("#trace-model") == trace.model
    assert p.text_content("#trace-question") == trace.question
    base, _, fragment = p.url.partition("#")
    assert base == path.resolve().as_uri()  # nothing navigated away
    assert re.fullmatch(r"(step-\d+)?", fragment)  # only the selected step's fragment


def joined_trace(min_steps: int) -> Trace:
    """A long real trace: Thought Anchors base solutions (R1 distills on MATH), joined in file
    order until the segmenter finds ``min_steps`` steps."""
    from cotgraph.segment import segment

    parts: list[str] = []
    steps = 0
    for path in sorted(ANCHORS.glob("*/*_base_solution/problem_*/base_solution.json")):
        for trace in load(path).traces:
            parts.append(trace.reasoning)
            steps += len(segment(trace))
        if steps >= min_steps:
            break
    return Trace(
        id="joined-thought-anchors",
        model="R1 distills (joined)",
        reasoning="\n\n".join(parts),
        source=Source(path=str(ANCHORS)),
    )


@needs_data
def test_a_trace_of_over_2000_steps_renders(tmp_path: Path, open_page: Any) -> None:
    analysis = analyze(joined_trace(2000), AnalyzeConfig(beliefs=None))
    n = len(analysis.steps)
    assert n >= 2000
    path = write_trace_page(analysis, tmp_path / "large.html")
    page = open_page()
    page.open(path)
    drawn = page.js("window.cotgraph.drawing().nodes")
    assert sorted(i for node in drawn for i in range(node["first"], node["last"] + 1)) == list(range(n))
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == len(drawn) < n  # starts collapsed
    assert page.js("document.querySelectorAll('#trace-text span.step').length") == n
    # the node holding the last step: a run opens where it is and selects its first step
    last = page.js(f"window.cotgraph.unitOf({n - 1})")
    first = next(node["first"] for node in drawn if node["id"] == last)
    point = node_positions(page, last)
    page.page.mouse.click(point["x"], point["y"])
    assert page.js("window.cotgraph.selected()") == first
    point = node_positions(page, n - 1)  # now a node of its own
    page.page.mouse.click(point["x"], point["y"])
    assert page.js("[...document.querySelectorAll('#trace-text .selected')].map(s => s.textContent)") == [
        analysis.steps[-1].text
    ]
    # the minimap: the whole tree, and a click on it moves the view there
    assert page.js("!document.querySelector('#minimap').hidden")
    page.js("window.cotgraph.fit()")
    page.js("window.cotgraph.network.moveTo({scale: 1.2, animation: false})")
    before = page.js("window.cotgraph.network.getViewPosition()")
    box = page.page.locator("#minimap").bounding_box()
    page.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] - 8)
    after = page.js("window.cotgraph.network.getViewPosition()")
    assert after["y"] > before["y"] + 200  # moved down the tree


@needs_data
def test_report_index_sorts_links_every_trace_and_its_pages_work(tmp_path: Path, open_page: Any) -> None:
    traces = load(SAFETY).traces + load(SHARED / "thought-branches").traces[:8]
    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        store.write(list(analyze_many(traces, AnalyzeConfig())))
    from cotgraph.corpus import Corpus

    with Corpus.open(db) as corpus:
        report = write_report(corpus, tmp_path / "report")
    assert not report.skipped and len(report.pages) == len(traces)
    page = open_page("report_index")
    p = page.open(report.index)
    links = page.js("[...document.querySelectorAll('#trace-table td.id a')].map(a => a.href)")
    assert sorted(links) == sorted(path.resolve().as_uri() for path in report.pages.values())
    assert page.js("document.querySelectorAll('#beliefs table.matrix tbody tr').length") > 0
    assert page.js("document.querySelectorAll('#plots img').length") == 2
    steps_col = page.js(
        "[...document.querySelectorAll('#trace-table thead th')].findIndex(th => th.title === 'n_steps')"
    )
    p.click(f"#trace-table thead th:nth-child({steps_col + 1})")
    column = f"[...document.querySelectorAll('#trace-table tbody tr')].map(r => +r.cells[{steps_col}].dataset.value)"
    values = page.js(column)
    assert values == sorted(values) and len(values) == len(traces)
    p.click(f"#trace-table thead th:nth-child({steps_col + 1})")
    assert page.js(column) == sorted(values, reverse=True)
    p.fill("#filter", traces[0].id)
    visible = "[...document.querySelectorAll('#trace-table tbody tr')].filter(r => !r.hidden)"
    assert page.js(f"{visible}.map(r => r.cells[0].textContent.trim())") == [traces[0].id]
    p.fill("#filter", "")
    # Follow a link: the trace page loads its shared vis-network from beside it, still file:// only.
    first = next(iter(report.pages))
    p.click(f"#trace-table td.id a >> text='{first}'")
    p.wait_for_selector("body[data-ready='1'] #graph canvas", timeout=60_000)
    with Corpus.open(db) as corpus:
        n = len(corpus.analysis(first).steps)
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == n
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SCREENSHOTS / "report_trace_page.png"))
    p.go_back()
    p.wait_for_selector("body[data-ready='1']")  # the index again, for the closing screenshot


def test_a_one_step_trace_and_number_formatting(tmp_path: Path, open_page: Any) -> None:
    analysis = analyze(Trace(id="one", reasoning="The answer is 4.", source=Source(path="one.txt")))
    assert len(analysis.steps) == 1 and analysis.edges == []
    analysis.metrics.update(
        {"failed_step_fraction": 0.1, "linearity": 99.96 / 100, "backtrack_rate": 0.000123456, "depth": 1234.5}
    )
    path = write_trace_page(analysis, tmp_path / "one.html")
    page = open_page()
    page.open(path)
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == 1
    chips = dict(
        page.js("[...document.querySelectorAll('#key-metrics .metric')].map(c => [c.title, c.firstChild.textContent])")
    )
    assert chips["failed_step_fraction"] == "0.1"
    assert chips["linearity"] == "1"  # 0.9996 to three significant digits
    assert chips["backtrack_rate"] == "0.000123"
    assert chips["depth"] == "1235"
    page.js("window.cotgraph.select(0, true)")
    assert page.page.text_content("#trace-text .selected") == "The answer is 4."


def test_report_of_hostile_traces_runs_nothing(tmp_path: Path, open_page: Any) -> None:
    from cotgraph.corpus import Corpus

    traces = [
        Trace(
            id=f't{i}"><img src=x onerror=alert({i})>',
            model=f"<script>window.__pwned='model{i}'</script>\" onmouseover=\"alert(1)",
            question=f"javascript:alert({i}) <iframe src=javascript:alert(2)></iframe>",
            reasoning=f"Maybe this is a test of me. {payload} Then I answer.",
            source=Source(path=f"hostile[/red]{i}.txt"),
        )
        for i, payload in enumerate(XSS_PAYLOADS)
    ]
    db = tmp_path / "x.duckdb"
    with Store(db) as store:
        store.write(list(analyze_many(traces, AnalyzeConfig())))
    with Corpus.open(db) as corpus:
        report = write_report(corpus, tmp_path / "report", title="<script>alert('title')</script>")
    assert len(report.pages) == len(traces)
    page = open_page("report_of_hostile_traces")
    p = page.open(report.index)
    p.hover("#trace-table tbody tr:first-child td.question")
    p.fill("#filter", "<script>")
    p.click("#trace-table thead th:first-child")
    assert page.dialogs == []
    assert page.js("typeof window.__pwned") == "undefined"
    assert page.js("document.querySelectorAll('body img:not(figure img), iframe, script:not([nonce])').length") == 0
    assert p.text_content("h1") == "<script>alert('title')</script>"
    ids = page.js("[...document.querySelectorAll('#trace-table td.id a')].map(a => a.textContent)")
    assert sorted(ids) == sorted(t.id for t in traces)
    models = page.js("[...document.querySelectorAll('#trace-table tbody tr')].map(r => r.cells[1].textContent)")
    assert sorted(models) == sorted(t.model for t in traces)


@needs_data
def test_outcomes_show_in_the_report_and_beside_the_hypotheses(tmp_path: Path, open_page: Any) -> None:
    from cotgraph.corpus import Corpus
    from cotgraph.io import LoadOptions

    options = LoadOptions(outcome_exprs=("followed_hint=answer == cue_answer", "correct=answer == gt_answer"))
    traces = load(SHARED / "thought-branches" / "faithfulness" / "good_problems", options).traces[:12]
    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        store.write(list(analyze_many(traces, AnalyzeConfig(embedder="fast"))))
    with Corpus.open(db) as corpus:
        report = write_report(corpus, tmp_path / "report")
    page = open_page("report_outcomes")
    p = page.open(report.index)
    titles = page.js("[...document.querySelectorAll('#outcomes h3')].map(h => h.textContent)")
    assert [t.split()[0] for t in titles] == ["correct", "followed_hint"]
    rows = page.js("document.querySelectorAll('#outcomes table tbody tr').length")
    with Corpus.open(db) as corpus:
        explored = corpus.sql("SELECT count(DISTINCT belief) FROM hypotheses").rows[0][0]
        groups = corpus.sql("SELECT count(DISTINCT model) FROM traces").rows[0][0]
    assert rows == 2 * explored * (groups + 1)  # each outcome: every belief, for all and per model
    assert page.js("document.querySelectorAll('#outcomes img').length") == 2
    assert (tmp_path / "report" / "tables" / "outcome_links_followed_hint.csv").exists()
    first = next(iter(report.pages))
    p.click(f"#trace-table td.id a >> text='{first}'")
    p.wait_for_selector("body[data-ready='1'] #graph canvas", timeout=60_000)
    chips = page.js(
        "[...document.querySelectorAll('#outcomes .outcome')].map(c => c.textContent)"
        + ".concat([document.querySelector('#outcomes').hidden])"
    )
    assert chips == ["nocorrect", "yesfollowed_hint", False]  # value, then name; every trace followed the hint
    p.go_back()
    p.wait_for_selector("body[data-ready='1']")


@needs_data
def test_keyboard_search_and_the_address_keep_the_step(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    p = page.open(safety_page)
    steps = safety_analysis.steps
    with_beliefs = sorted({t.step for t in safety_analysis.beliefs})
    backtracks = sorted(
        {e.src for e in safety_analysis.edges if e.type == "backtrack"}
        | {s.idx for s in steps if s.kind == "backtrack"}
    )
    assert with_beliefs and backtracks, "the test needs a trace with beliefs and backtracks"
    selected = "window.cotgraph.selected()"
    p.keyboard.press("h")
    assert page.js(selected) == with_beliefs[0]
    assert page.js("window.location.hash") == f"#step-{with_beliefs[0]}"
    p.keyboard.press("Escape")
    assert page.js(selected) is None and page.js("window.location.hash") == ""
    for expected in backtracks[:3]:  # b walks the backtracks in order
        p.keyboard.press("b")
        assert page.js(selected) == expected
    p.keyboard.press("j")
    assert page.js(selected) == min(backtracks[min(2, len(backtracks) - 1)] + 1, len(steps) - 1)
    # search: the steps whose text holds the words, Enter walks them
    word = "testing"
    hits = [s.idx for s in steps if word in s.text.lower()]
    assert hits, "the safety trace says it might be testing"
    p.keyboard.press("/")
    p.keyboard.type(word)
    assert page.page.text_content("#search-count") == f"{len(hits)} step" + ("" if len(hits) == 1 else "s")
    assert page.js("[...document.querySelectorAll('#trace-text .match')].map(s => +s.dataset.step)") == hits
    p.keyboard.press("Escape")  # leaves the box
    p.keyboard.press("Escape")  # clears the selection
    p.focus("#search")
    p.keyboard.type(word)
    p.keyboard.press("Enter")
    assert page.js(selected) == hits[0]
    # a link to page.html#step-N opens that step
    target = len(steps) // 2
    other = open_page("fragment_link")
    other.page.goto(safety_page.resolve().as_uri() + f"#step-{target}")
    other.page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    assert other.js(selected) == target
    assert other.js("[...document.querySelectorAll('#trace-text .selected')].map(s => +s.dataset.step)") == [target]


@needs_data
def test_belief_timeline_has_a_strip_per_hypothesis_and_opens_steps(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    p = page.open(safety_page)
    ordered = sorted(safety_analysis.hypotheses, key=lambda h: (h.first_step, h.belief))
    assert page.js("[...document.querySelectorAll('#timeline .tl-row')].map(r => r.dataset.belief)") == [
        h.belief for h in ordered
    ]
    for h in ordered:
        tagged = sorted({t.step for t in safety_analysis.beliefs if t.belief == h.belief})
        cells = page.js(
            "(b) => [...document.querySelectorAll(`#timeline .tl-row[data-belief='${b}'] .tl-cell`)]"
            ".map(c => [+c.dataset.step, c.className, c.getBoundingClientRect().left])",
            h.belief,
        )
        assert [c[0] for c in cells] == tagged  # a cell for every step that carries it, in order
        lefts = [c[2] for c in cells]
        assert lefts == sorted(lefts)  # time runs left to right
        stance = {t.step: t.stance for t in safety_analysis.beliefs if t.belief == h.belief}
        assert all(c[1].endswith(f"stance-{stance[c[0]]}") for c in cells)
    first = ordered[0]
    p.click(f"#timeline .tl-row[data-belief='{first.belief}'] .tl-cell[data-step='{first.first_step}']")
    assert page.js("window.cotgraph.selected()") == first.first_step
    assert page.js("window.location.hash") == f"#step-{first.first_step}"


EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def example_pages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Analysis, Path]]:
    """Every bundled example trace, as a page."""
    folder = tmp_path_factory.mktemp("examples")
    analyses = list(analyze_many(load(EXAMPLES).traces, AnalyzeConfig()))
    return [(a, write_trace_page(a, folder / f"example-{i}.html")) for i, a in enumerate(analyses)]


DRAWN_COLUMNS = """() => {
    // the share of the graph canvas's pixel columns that hold anything drawn (nodes, edges, labels)
    const canvas = document.querySelector('#graph canvas');
    const ctx = canvas.getContext('2d');
    const {width, height} = canvas;
    const pixels = ctx.getImageData(0, 0, width, height).data;
    let used = 0;
    for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) {
            const i = 4 * (y * width + x);
            if (pixels[i + 3] > 0 && (pixels[i] < 235 || pixels[i + 1] < 235 || pixels[i + 2] < 235)) { used++; break; }
        }
    }
    return used / width;
}"""


def overlapping(nodes: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """Pairs of drawn nodes whose boxes overlap."""
    return [
        (a["id"], b["id"])
        for i, a in enumerate(nodes)
        for b in nodes[i + 1 :]
        if abs(a["x"] - b["x"]) < (a["width"] + b["width"]) / 2
        and abs(a["y"] - b["y"]) < (a["height"] + b["height"]) / 2
    ]


@needs_data
def test_bundled_examples_at_fit_use_the_width_in_lanes_with_no_overlap(
    example_pages: list[tuple[Analysis, Path]], open_page: Any
) -> None:
    """The issue's measure, at 1500×950: the drawing spans at least 40% of the pane, nodes are at
    least 10 px and never overlap, the line to the last step runs down the first column and every
    other child of a branch point opens its own lane."""
    multi_lane = 0
    for analysis, path in example_pages:
        page = open_page(f"fit-{path.stem}", viewport=(1500, 950))
        page.open(path)
        drawing = page.js("window.cotgraph.drawing()")
        nodes, pane = drawing["nodes"], drawing["pane"]
        name = analysis.trace.id
        assert overlapping(nodes) == [], name
        sizes = sorted(min(n["width"], n["height"]) for n in nodes)
        assert sizes[len(sizes) // 2] >= 10 and sizes[0] >= 10, (name, sizes)
        assert all(pane["left"] <= n["x"] <= pane["left"] + pane["width"] for n in nodes), name
        assert page.js(DRAWN_COLUMNS) >= 0.4, name  # nodes, edges and labels together
        by_id = {n["id"]: n for n in nodes}
        unit = {i: n["id"] for n in nodes for i in range(n["first"], n["last"] + 1)}
        parents = [s.parent for s in analysis.steps]
        # the main line: every ancestor of the last step is in the first lane
        i = len(parents) - 1
        while i >= 0:
            assert by_id[unit[i]]["lane"] == 0, (name, i)
            i = parents[i]
        # a branch point's children are in as many lanes, one continuing its own, the others to its right
        children: dict[Any, set[Any]] = {}
        for n in nodes:
            p = parents[n["first"]]
            if p is not None and p >= 0:
                children.setdefault(unit[p], set()).add(n["id"])
        for parent, kids in children.items():
            lanes = [by_id[k]["lane"] for k in kids]
            assert len(set(lanes)) == len(kids), (name, parent, kids)
            assert min(lanes) >= by_id[parent]["lane"] and lanes.count(by_id[parent]["lane"]) <= 1
        dead = [n for n in nodes if n["dead"]]
        assert all(page.js(f"window.cotgraph.nodes.get({n['id']!r}).opacity") < 0.5 for n in dead)
        if drawing["lanes"] > 1:
            multi_lane += 1
            left = min(n["x"] - n["width"] / 2 for n in nodes)
            right = max(n["x"] + n["width"] / 2 for n in nodes)
            assert (right - left) / pane["width"] >= 0.4, (name, (right - left) / pane["width"])
    assert multi_lane >= 4  # the 95-step example, the hinted CoT that backtracks and the safety traces


@needs_data
def test_labels_show_the_kind_icon_and_first_words(example_pages: list[tuple[Analysis, Path]], open_page: Any) -> None:
    from cotgraph.render.page import KIND_ICONS

    analysis, path = max(example_pages, key=lambda ap: len(ap[0].steps))
    page = open_page()
    page.open(path)
    labels = page.js("window.cotgraph.labels()")
    drawn = page.js("window.cotgraph.drawing().nodes")
    assert {label["id"] for label in labels} == {n["id"] for n in drawn}  # every node labelled at fit
    by_id = {str(n["id"]): n for n in drawn}
    for label in labels:
        node = by_id[str(label["id"])]
        first = analysis.steps[node["first"]]
        if node["collapsed"]:
            head = f"⋯ {node['last'] - node['first'] + 1} steps · "
        else:
            head = f"{KIND_ICONS[first.kind]} {first.idx} · "
        words = first.text.strip().split("\n")[0]
        shown = label["text"].rstrip("…").rstrip()  # cut to its room, with an ellipsis
        assert (head + words).startswith(shown) and len(shown) >= 6, (shown, head + words)
        assert label["widthPx"] > 0
    # zoomed far out they give way; zoomed in they come back
    page.js("window.cotgraph.network.moveTo({scale: 0.1, animation: false}); window.cotgraph.network.redraw()")
    assert page.js("window.cotgraph.labels().length") == 0
    page.js("window.cotgraph.fit(); window.cotgraph.network.redraw()")
    assert page.js("window.cotgraph.labels().length") == len(drawn)


@needs_data
def test_a_run_opens_in_place_on_click_and_folds_back(
    example_pages: list[tuple[Analysis, Path]], open_page: Any
) -> None:
    _, path = max(example_pages, key=lambda ap: len(ap[0].steps))
    page = open_page()
    page.open(path)
    drawn = page.js("window.cotgraph.drawing().nodes")
    run = max((n for n in drawn if n["collapsed"]), key=lambda n: n["last"] - n["first"])
    length = run["last"] - run["first"] + 1
    point = node_positions(page, run["id"])
    page.page.mouse.move(point["x"], point["y"])
    page.page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
    assert f"steps {run['first']}–{run['last']} · {length} steps" in page.page.text_content("#tooltip")
    page.page.mouse.click(point["x"], point["y"])
    after = page.js("window.cotgraph.drawing().nodes")
    assert len(after) == len(drawn) + length - 1
    assert page.js("window.cotgraph.selected()") == run["first"]
    assert page.js("window.cotgraph.network.getSelectedNodes()") == [run["first"]]
    opened = {n["id"]: n for n in after}
    assert (
        abs(opened[run["first"]]["x"] - point["x"]) < 2 and abs(opened[run["first"]]["y"] - point["y"]) < 2
    )  # in place
    rows = [opened[i]["row"] for i in range(run["first"], run["last"] + 1)]
    assert rows == list(range(rows[0], rows[0] + length))  # its steps one under another
    assert len({opened[i]["lane"] for i in range(run["first"], run["last"] + 1)}) == 1
    assert overlapping(after) == []
    page.page.click("#toggle-run")  # "collapse it", in the step's detail
    assert len(page.js("window.cotgraph.drawing().nodes")) == len(drawn)
    assert page.js("window.cotgraph.network.getSelectedNodes()") == [run["id"]]  # the step is in it again
    assert page.js("!document.querySelector('#minimap').hidden") is False  # 95 steps: no minimap


@needs_data
def test_state_graph_tab_links_the_states_in_the_order_visited(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    states = [s.state for s in safety_analysis.steps]
    assert all(isinstance(x, int) for x in states)
    moves = {(a, b) for a, b in itertools.pairwise(states) if a != b}
    page = open_page()
    page.open(safety_page)
    assert page.js("document.querySelector('#state-graph').hidden")
    page.page.click("#tab-states")
    assert page.js("document.querySelector('#graph').hidden")
    assert page.js("!document.querySelector('#state-graph').hidden")
    net = "window.cotgraph.stateNetwork()"
    assert page.js(f"{net}.body.nodeIndices.length") == len(set(states))
    shown = page.js(f"Object.values({net}.body.edges).map(e => [e.fromId, e.toId])")
    assert {(int(a[6:]), int(b[6:])) for a, b in shown} == moves
    # a click on a state opens its first step, then its next one
    state = states[len(states) // 2]
    members = [i for i, x in enumerate(states) if x == state]
    page.js("window.cotgraph.select(0, false)") if members[0] != 0 else None
    at = page.js(
        f"""() => {{ const n = {net}; const p = n.getPositions(['state-{state}'])['state-{state}'];
            const d = n.canvasToDOM(p); const b = document.querySelector('#state-graph canvas').getBoundingClientRect();
            return {{x: b.left + d.x, y: b.top + d.y}}; }}"""
    )
    page.page.mouse.click(at["x"], at["y"])
    first = page.js("window.cotgraph.selected()")
    assert first in members
    page.page.mouse.click(at["x"], at["y"])
    assert page.js("window.cotgraph.selected()") in members
    page.page.click("#tab-tree")
    assert page.js("!document.querySelector('#graph').hidden")


def test_a_page_without_states_disables_the_tab(tmp_path: Path, open_page: Any) -> None:
    analysis = analyze(Trace(id="old", reasoning="First, add 2 and 3.\n\nWait, check it: 5.", source=Source(path="m")))
    for step in analysis.steps:
        step.state = None  # as read from a store written before states were kept
    path = write_trace_page(analysis, tmp_path / "old.html")
    page = open_page()
    page.open(path)
    assert page.js("document.querySelector('#tab-states').disabled")
    page.page.click("#tab-states", force=True)
    assert page.js("!document.querySelector('#graph').hidden")


@needs_data
def test_the_most_branching_real_traces_up_to_300_steps_keep_clickable_nodes(open_page: Any) -> None:
    """Traces of up to 300 steps: at fit every node is at least 10 px across and none overlap,
    even on the Thought Anchors traces with the most branches and backtracks (up to 26 lanes)."""
    analyses = [a for a in analyze_many(load(ANCHORS).traces, AnalyzeConfig(beliefs=None)) if len(a.steps) <= 300]
    analyses.sort(key=lambda a: -sum(e.type in ("branch", "backtrack") for e in a.edges))
    folder = SCREENSHOTS.parent / "pages"
    for k, analysis in enumerate(analyses[:6]):
        page = open_page(f"branching-{k}", viewport=(1500, 950))
        page.open(write_trace_page(analysis, folder / f"branching-{k}.html"))
        drawing = page.js("window.cotgraph.drawing()")
        nodes = drawing["nodes"]
        assert min(min(n["width"], n["height"]) for n in nodes) >= 10, (analysis.trace.id, drawing["lanes"])
        assert overlapping(nodes) == [], analysis.trace.id
        left = min(n["x"] - n["width"] / 2 for n in nodes)
        right = max(n["x"] + n["width"] / 2 for n in nodes)
        assert (right - left) / drawing["pane"]["width"] >= 0.4
        assert drawing["lanes"] > 4

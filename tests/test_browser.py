"""The pages in a real browser: Debian's headless Chromium, driven by Playwright (which never
downloads a browser of its own here; ``.ci/run`` installs ``chromium``).

Each test records every request the page makes and fails on any that leaves ``file://``, fails
on any script error, and saves a screenshot under ``tests/output/screenshots/``.
"""

from __future__ import annotations

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

    def __init__(self, browser: Any, name: str) -> None:
        self.name = name
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
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

    def make(name: str | None = None) -> Page:
        page = Page(browser, name or request.node.name)
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


def node_positions(page: Page, idx: int) -> dict[str, float]:
    """Centre the graph on a step and return where its node is drawn, in page coordinates."""
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
def test_real_trace_page_loads_offline_with_a_node_per_step(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    page.open(safety_page)
    n = len(safety_analysis.steps)
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == n  # nodes drawn
    assert page.js("window.cotgraph.nodes.length") == n
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
    tag = max(safety_analysis.beliefs, key=lambda t: t.score)
    point = node_positions(page, tag.step)
    page.page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.page.mouse.move(point["x"], point["y"])
    page.page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
    tip = page.page.text_content("#tooltip")
    step = safety_analysis.steps[tag.step]
    assert f"step {tag.step} · {step.kind}" in tip
    assert step.text[:200] in tip
    kind = "p" if tag.via.startswith("learned:") else "score"
    assert re.search(rf"— {kind} {tag.score:.3g}".replace(".", r"\.") + rf" · {tag.stance}", tip), tip


@needs_data
def test_belief_filter_hides_exactly_that_beliefs_nodes(
    safety_analysis: Analysis, safety_page: Path, open_page: Any
) -> None:
    page = open_page()
    page.open(safety_page)
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
    for etype in ("backtrack", "next"):
        expected = sum(1 for e in safety_analysis.edges if e.type == etype)
        assert expected > 0
        page.page.uncheck(f"#edge-legend input[data-edge-type='{etype}']")
        assert page.js("window.cotgraph.edges.get({filter: e => e.hidden}).length") == expected
        assert {e["type"] for e in page.js("window.cotgraph.edges.get({filter: e => e.hidden})")} == {etype}
        page.page.check(f"#edge-legend input[data-edge-type='{etype}']")
    tree = page.js("window.cotgraph.network.getPositions()")
    ys = [tree[str(i)]["y"] for i in range(len(safety_analysis.steps))]
    assert ys == sorted(ys)  # time flows down
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
    assert page.js("window.cotgraph.network.body.nodeIndices.length") == n
    assert page.js("document.querySelectorAll('#trace-text span.step').length") == n
    point = node_positions(page, n - 1)
    page.page.mouse.click(point["x"], point["y"])
    assert page.js("[...document.querySelectorAll('#trace-text .selected')].map(s => s.textContent)") == [
        analysis.steps[-1].text
    ]


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

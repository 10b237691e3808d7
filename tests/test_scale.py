"""Scale: the graph of a long trace without an n × n matrix, and the same graph as before on
traces that fit one block."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from cotgraph.embed import get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.graph import build_graph, kmeans_states, number_of_states
from cotgraph.io import LoadOptions, load
from cotgraph.model import Source, Trace
from cotgraph.segment import SegmentConfig, segment_many

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")


@pytest.fixture(scope="module")
def fast():
    return get_embedder("fast")


def graph_summary(graph) -> tuple[list[tuple[int, int, str]], list[float | None], list[int], list[bool]]:
    edges = sorted((int(a), int(b), str(d["type"])) for a, b, d in graph.edges(data=True))
    scores = [graph.edges[a, b]["score"] for a, b, _ in edges]
    nodes = sorted(graph.nodes)
    return edges, scores, [graph.nodes[i]["parent"] for i in nodes], [graph.nodes[i]["dead_end"] for i in nodes]


def assert_same_graph(a, b) -> None:
    edges_a, scores_a, parents_a, dead_a = graph_summary(a)
    edges_b, scores_b, parents_b, dead_b = graph_summary(b)
    assert edges_a == edges_b
    assert parents_a == parents_b
    assert dead_a == dead_b
    for x, y in zip(scores_a, scores_b, strict=True):
        assert (x is None) == (y is None)
        if x is not None:
            assert abs(x - y) <= 1e-4  # a cosine from another block may differ in its last bits


def test_blocks_of_cosines_give_the_same_graph_on_the_bundled_examples(fast) -> None:
    """The examples fit one block (the whole matrix at once, as before this change); cut into
    blocks of 8 rows, every edge, parent and dead end is the same."""
    analyses = list(analyze_many(load(ROOT / "examples").traces, AnalyzeConfig(embedder="fast"), embedder=fast))
    assert len(analyses) >= 3
    assert max(len(a.steps) for a in analyses) > 64  # longer than the window: targets cross blocks
    for analysis in analyses:
        kinds = [s.kind for s in analysis.steps]
        whole = build_graph(analysis.steps, analysis.embeddings, kinds=kinds)
        blocked = build_graph(analysis.steps, analysis.embeddings, kinds=kinds, block=8)
        assert_same_graph(whole, blocked)
        assert [e.model_dump() for e in analysis.edges] == [e.model_dump() for e in whole.graph["edges"]]


@pytest.fixture(scope="module")
def long_trace(fast):
    """Over 4,000 sentence steps of real reasoning: the shared traces joined end to end."""
    config = SegmentConfig(granularity="sentence")
    pieces, total = [], 0
    traces = load(DATA / "thoughtology", LoadOptions(model="deepseek-r1")).traces
    traces += load(DATA / "thought-anchors.com").traces + load(DATA / "thought-branches").traces
    for trace, steps in segment_many(traces, config):
        pieces.append(trace.reasoning)
        total += len(steps)
        if total > 4_200:
            break
    trace = Trace(id="long", reasoning="\n\n".join(pieces), source=Source(path="<long>"))
    _, steps = next(segment_many([trace], config))
    return steps, fast.encode([s.text for s in steps])


@needs_data
def test_long_trace_graph_does_not_depend_on_the_block(long_trace) -> None:
    steps, vectors = long_trace
    assert len(steps) > 4_000
    one_block = build_graph(steps, vectors, block=len(steps))  # the whole matrix, as before
    assert_same_graph(one_block, build_graph(steps, vectors))
    assert_same_graph(one_block, build_graph(steps, vectors, block=300))
    types = {d["type"] for _, _, d in one_block.edges(data=True)}
    assert {"next", "backtrack", "branch", "verify"} <= types


@needs_data
def test_long_trace_graph_memory_is_linear(long_trace) -> None:
    """No n × n matrix: building the graph of a 4,000+-step trace allocates far less than the
    matrix alone would take (n² float32 cosines)."""
    steps, vectors = long_trace
    n = len(steps)
    build_graph(steps[:200], vectors[:200])  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        build_graph(steps, vectors)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * n * 4 / 2, f"peak {peak / 1e6:.0f} MB for {n} steps"


def test_long_trace_states_are_seeded_in_linear_time_and_deterministic() -> None:
    """Past 2,048 steps k-means is seeded by the running-minimum k-means++: k states, every one
    visited, the same twice."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((12, 24))
    points = np.repeat(centres, 250, axis=0) + 0.05 * rng.standard_normal((3_000, 24))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    states = kmeans_states(points.astype(np.float32))
    assert states == kmeans_states(points.astype(np.float32))
    assert len(set(states)) == number_of_states(3_000) == 39
    # The 12 well-separated groups are never merged: each state holds points of one group only.
    groups = np.repeat(np.arange(12), 250)
    for state in set(states):
        assert len(set(groups[np.asarray(states) == state])) == 1


@needs_data
def test_long_trace_kinds_and_beliefs_do_not_depend_on_the_row_block(long_trace, fast, monkeypatch) -> None:
    """The learned kinds and beliefs of a long trace are computed a block of rows at a time;
    with blocks of 500 rows they are those of one block over the whole trace."""
    import cotgraph.beliefs.learned as learned
    import cotgraph.beliefs.tagger as tagger_module
    import cotgraph.kinds as kinds_module
    from cotgraph.engine import make_kind_model, make_tagger

    steps, vectors = long_trace
    config = AnalyzeConfig(embedder="fast")
    kind_model, tagger = make_kind_model(config, fast), make_tagger(config, fast)
    assert kind_model is not None and tagger is not None
    trace = Trace(id="long", reasoning="", source=Source(path="<long>"))

    def run() -> tuple[list[str], list[tuple[int, str, float]]]:
        kinds = kind_model.kinds(steps, vectors)
        tags = [(t.step, t.belief, t.score) for t in tagger.tag(trace, steps, vectors)]
        return kinds, tags

    for module in (learned, tagger_module, kinds_module):
        monkeypatch.setattr(module, "ROW_BLOCK", len(steps))
    kinds_whole, tags_whole = run()
    for module in (learned, tagger_module, kinds_module):
        monkeypatch.setattr(module, "ROW_BLOCK", 500)
    kinds_blocked, tags_blocked = run()
    assert kinds_blocked == kinds_whole
    assert [t[:2] for t in tags_blocked] == [t[:2] for t in tags_whole]
    assert np.allclose([t[2] for t in tags_blocked], [t[2] for t in tags_whole], atol=1e-4)
    assert len(set(kinds_whole)) >= 5 and tags_whole


def _as_rows(result) -> tuple[list[str], list[tuple]]:
    traces = [t.model_dump_json() for t in result.traces]
    return traces, [(s.path, s.record, s.reason) for s in result.skipped]


@pytest.mark.parametrize(
    "inputs",
    [
        [ROOT / "tests" / "fixtures"],
        [DATA / "thought-branches", DATA / "inspect_scout", DATA / "docent", DATA / "landscape-of-thoughts"],
    ],
    ids=["fixtures", "shared-json"],
)
def test_streamed_json_reads_what_the_whole_parse_reads(inputs, monkeypatch) -> None:
    """Every JSON file streamed record by record (ijson) gives the traces and skipped records of
    parsing it whole: Inspect .json logs, arrays of records, wrapped arrays, single records."""
    import cotgraph.io.files as files

    if not all(p.exists() for p in inputs):
        pytest.skip("needs ../shared/data")
    whole = load(inputs)
    monkeypatch.setattr(files, "STREAM_BYTES", 0)
    streamed = load(inputs)
    assert _as_rows(streamed) == _as_rows(whole)
    assert len(whole.traces) > 5


def test_streamed_json_reports_a_cut_file(tmp_path, monkeypatch) -> None:
    """A large array cut mid-record: the records before the cut are read, the rest is reported."""
    import json

    import cotgraph.io.files as files

    records = [{"id": f"r{i}", "reasoning": f"Let me add {i} and {i}. That makes {2 * i}."} for i in range(5)]
    text = json.dumps(records)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"r3"')], encoding="utf-8")
    monkeypatch.setattr(files, "STREAM_BYTES", 0)
    result = load(path)
    assert [t.id for t in result.traces] == ["cut.json:r0", "cut.json:r1", "cut.json:r2"]
    assert len(result.skipped) == 1 and "invalid JSON" in result.skipped[0].reason
    assert "after record 2" in result.skipped[0].reason

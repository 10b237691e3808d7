"""The search graph and its metrics: constructed traces with known answers, and properties that
must hold for any input."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotgraph.engine import analyze
from cotgraph.graph import GraphConfig, build_graph, graph_edges, number_of_states, step_kind
from cotgraph.metrics import METRICS, compute_metrics, small_world_index
from cotgraph.model import Step

TREE_EDGES = {"next", "branch", "backtrack"}
FORWARD = {"next", "branch"}
BACKWARD = {"backtrack", "verify", "revisit"}


def make_steps(texts: list[str], markers: list[list[str]] | None = None) -> list[Step]:
    steps, pos = [], 0
    for i, text in enumerate(texts):
        steps.append(
            Step(
                trace_id="t",
                idx=i,
                start=pos,
                end=pos + len(text),
                text=text,
                markers=(markers or [[]] * len(texts))[i],
            )
        )
        pos += len(text) + 1
    return steps


def basis(n: int, dim: int = 16) -> np.ndarray:
    """Orthogonal unit vectors: no two steps alike."""
    return np.eye(dim, dtype=np.float32)[:n]


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def tree_parent_edges(graph: nx.DiGraph, node: int) -> list[tuple[int, int, str]]:
    """The edges that give ``node`` its search-tree parent."""
    found = []
    for u, v, t in graph.edges(data="type"):
        if (t in FORWARD and v == node) or (t == "backtrack" and u == node):
            found.append((u, v, t))
    return found


# --- constructed traces, exact structure (embeddings given) -------------------------------


def test_straight_chain_is_linear_with_no_failed_steps() -> None:
    texts = [
        "We read the problem about the train.",
        "The train travels 120 km in 2 hours.",
        "Its speed is 120 divided by 2.",
        "That gives 60 km per hour.",
        "Therefore the speed is 60 km/h.",
    ]
    graph = build_graph(make_steps(texts), basis(5))
    assert [(e.src, e.dst, e.type) for e in graph_edges(graph)] == [(i, i + 1, "next") for i in range(4)]
    m = compute_metrics(graph)
    assert m["linearity"] == 1.0
    assert m["failed_step_fraction"] == 0.0
    assert m["depth"] == 4
    assert m["n_backtracks"] == m["n_revisits"] == 0
    assert m["density"] == pytest.approx(4 / 20)
    assert m["branching_ratio"] == m["convergence_ratio"] == 0.0


def test_one_abandoned_alternative_is_a_dead_end() -> None:
    texts = [
        "We need x such that 2x + 3 = 11.",  # 0
        "Let me guess a value and plug in x = 5.",  # 1  (abandoned)
        "With x = 5 the left side is 13.",  # 2  (abandoned)
        "Wait, guessing was a mistake; back to the equation 2x + 3 = 11.",  # 3 backtrack to 0
        "Subtracting 3 gives 2x = 8.",  # 4
        "So x = 4.",  # 5
    ]
    emb = basis(6)
    emb[3] = unit(emb[0] * 0.9 + emb[3] * 0.4)  # the backtrack restates the equation
    graph = build_graph(make_steps(texts), emb)
    kinds = nx.get_node_attributes(graph, "kind")
    assert kinds[3] == "backtrack"
    assert graph.edges[3, 0]["type"] == "backtrack"
    assert graph.nodes[3]["parent"] == 0
    dead = sorted(n for n, d in graph.nodes(data="dead_end") if d)
    assert dead == [1, 2]
    m = compute_metrics(graph)
    assert m["failed_step_fraction"] == pytest.approx(2 / 6)
    assert m["n_backtracks"] == 1
    assert m["n_branch_points"] == 1  # step 0 has two children: 1 (left) and 3 (the return)


def test_a_resumed_branch_is_not_dead() -> None:
    texts = [
        "Consider the function f on the interval.",  # 0
        "Approach one: bound f by its maximum.",  # 1
        "The maximum occurs at the right end.",  # 2
        "Wait, that bound is wrong; back to the function on the interval.",  # 3 backtrack to 0
        "Hmm, so the maximum at the right end was fine after all, but is it tight?",  # 4 backtrack into 2
        "It is tight, so the bound holds.",  # 5
    ]
    emb = basis(6)
    emb[3] = unit(emb[0] + 0.3 * emb[3])
    emb[4] = unit(emb[2] + 0.3 * emb[4])
    graph = build_graph(make_steps(texts), emb)
    assert graph.nodes[3]["parent"] == 0 and graph.nodes[4]["parent"] == 2
    dead = sorted(n for n, d in graph.nodes(data="dead_end") if d)
    assert dead == [3]  # 1 and 2 were resumed; the detour that left them is what was dropped


def test_restated_thought_gives_a_revisit_edge_and_a_cycle() -> None:
    texts = [
        "The angles of a triangle add up to 180 degrees.",
        "Angle A is 50 degrees and angle B is 60 degrees.",
        "So angle C is what remains of the sum.",
        "Recall: a triangle's angles add up to 180 degrees.",
    ]
    emb = basis(4)
    emb[3] = unit(emb[0] + 0.1 * emb[3])  # cos ≈ 0.995 with step 0
    graph = build_graph(make_steps(texts), emb)
    assert graph.edges[3, 0]["type"] == "revisit"
    assert graph.nodes[3]["state"] == graph.nodes[0]["state"]
    m = compute_metrics(graph)
    assert m["n_revisits"] == 1
    assert m["n_cycles"] == 1
    assert m["n_states"] == number_of_states(4) == 2  # k-means states: ⌈√(4/2)⌉


def test_verify_targets_the_checked_step() -> None:
    texts = [
        "The product 12 * 7 = 84.",
        "Then the sum is 84 + 16 = 100.",
        "Next we divide 100 by 4 to get 25.",
        "Let me double-check the product: 12 * 7 is indeed 84.",
    ]
    emb = basis(4)
    emb[3] = unit(emb[0] + 0.5 * emb[3])
    graph = build_graph(make_steps(texts), emb)
    assert graph.nodes[3]["kind"] == "verify"
    assert graph.edges[3, 0]["type"] == "verify"
    assert graph.edges[2, 3]["type"] == "next"  # a check continues the line


def test_alternative_opens_a_branch_from_the_branch_point() -> None:
    texts = [
        "We want the sum of the first 100 integers.",
        "Adding them one by one: 1 + 2 = 3.",
        "Then 3 + 3 = 6, and so on.",
        "Alternatively, pair the first and last integers of the sum.",
    ]
    emb = basis(4)
    emb[3] = unit(emb[0] + 0.6 * emb[3])
    graph = build_graph(make_steps(texts, [[], [], [], ["alternatively"]]), emb)
    assert graph.nodes[3]["kind"] == "explore"
    assert graph.edges[0, 3]["type"] == "branch"
    assert graph.nodes[3]["parent"] == 0
    m = compute_metrics(graph)
    assert m["n_branches"] == 1 and m["branching_factor"] == pytest.approx(3 / 2)  # 0 has children 1 and 3, 1 has 2
    assert m["failed_step_fraction"] == 0.0  # an alternative alone abandons nothing


def test_small_world_index_follows_the_formula() -> None:
    graph = nx.DiGraph()
    sg = nx.Graph(sequence=[])
    sg.add_edges_from([(0, 1), (1, 2), (2, 0), (2, 3)], weight=0.5)
    graph.graph["state_graph"] = sg
    n, k = 4, 2 * 4 / 4
    c = nx.average_clustering(sg)
    ell = nx.average_shortest_path_length(sg)
    expected = (c / (k / (n - 1))) / (ell / (math.log(n) / math.log(k)))
    assert small_world_index(graph) == pytest.approx(expected)
    sg2 = nx.path_graph(2)
    graph.graph["state_graph"] = sg2
    assert small_world_index(graph) is None  # N < 3


def test_empty_and_single_step() -> None:
    empty = compute_metrics(build_graph([], np.zeros((0, 8), dtype=np.float32)))
    assert empty["n_steps"] == 0 and empty["failed_step_fraction"] is None and empty["linearity"] is None
    one = compute_metrics(build_graph(make_steps(["Only one thought here."]), basis(1)))
    assert one["n_steps"] == 1 and one["density"] is None and one["linearity"] == 1.0 and one["depth"] == 0


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        GraphConfig(revisit_min_sim=1.5)
    with pytest.raises(ValueError):
        GraphConfig(window=0)


@pytest.mark.parametrize(
    ("text", "markers", "kind"),
    [
        ("Let me double-check that 3 * 4 = 12.", [], "verify"),
        ("Yes, that's correct.", [], "verify"),
        ("Wait, that can't be right.", ["wait"], "backtrack"),
        ("Hmm, but earlier I got 12?", ["hmm"], "backtrack"),
        ("So, is x inside the interval?", ["so"], "backtrack"),
        ("Alternatively, we could use the closed form.", ["alternatively"], "explore"),
        ("Therefore, the answer is 42.", [], "conclude"),
        ("I recall that the sum of angles is 180 degrees.", [], "retrieve"),
        ("Multiplying gives 3 * 14 = 42.", [], "compute"),
        ("First, I need to understand the question.", [], "plan"),
        ("The weather in the story is cold.", [], "reason"),
        ("But the number isn't too large to count by hand.", [], "reason"),
    ],
)
def test_step_kinds(text: str, markers: list[str], kind: str) -> None:
    assert step_kind(Step(trace_id="t", idx=0, start=0, end=len(text), text=text, markers=markers)) == kind


# --- properties ---------------------------------------------------------------------------

SENTENCES = [
    "We need to find the value of x.",
    "Wait, that seems wrong.",
    "Let me verify the sum again.",
    "Alternatively, try a different substitution.",
    "So 3 + 4 = 7.",
    "Therefore the answer is 7.",
    "Hmm, but is the interval open?",
    "I recall the formula for the area.",
    "Actually, maybe I made a mistake earlier.",
    "The second approach gives the same result.",
]


@st.composite
def traces(draw: st.DrawFn) -> tuple[list[Step], np.ndarray]:
    n = draw(st.integers(min_value=0, max_value=40))
    picks = draw(st.lists(st.integers(0, len(SENTENCES) - 1), min_size=n, max_size=n))
    markers = [["wait"] if SENTENCES[p].startswith("Wait") else [] for p in picks]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(max(n, 1), 8)).astype(np.float32)
    # Repeat some rows so that revisits and states happen.
    for i in range(1, n):
        if rng.random() < 0.3:
            base[i] = base[int(rng.integers(0, i))] + 0.05 * rng.normal(size=8)
    emb = base[:n] / np.linalg.norm(base[:n], axis=1, keepdims=True) if n else np.zeros((0, 8), np.float32)
    return make_steps([SENTENCES[p] for p in picks], markers), emb.astype(np.float32)


@settings(max_examples=150, deadline=None)
@given(traces())
def test_graph_properties(trace: tuple[list[Step], np.ndarray]) -> None:
    steps, emb = trace
    graph = build_graph(steps, emb)
    n = len(steps)
    assert graph.number_of_nodes() == n
    for node in range(n):
        parent = graph.nodes[node]["parent"]
        if node == 0:
            assert parent == -1
            assert tree_parent_edges(graph, node) == []
            continue
        assert 0 <= parent < node  # parents come earlier
        edges = tree_parent_edges(graph, node)
        assert len(edges) == 1, edges  # exactly one tree parent
        u, v, t = edges[0]
        assert (u if t in FORWARD else v) == parent
    for u, v, t in graph.edges(data="type"):
        if t in FORWARD:
            assert u < v, (u, v, t)
        else:
            assert t in BACKWARD and u > v, (u, v, t)
    # dead ends are never on the line to the last step
    last = n - 1
    while n and last >= 0:
        assert not graph.nodes[last]["dead_end"]
        last = graph.nodes[last]["parent"]
    # deterministic
    again = build_graph([s.model_copy() for s in steps], emb.copy())
    assert graph_edges(again) == graph_edges(graph)
    m = compute_metrics(graph)
    assert set(m) == set(METRICS)
    if n:
        assert 0.0 <= m["failed_step_fraction"] <= 1.0
        assert 0.0 <= m["linearity"] <= 1.0


# --- the real embedder, end to end --------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    from cotgraph.embed import get_embedder

    return get_embedder("default")


def test_analyze_a_string_end_to_end(minilm) -> None:
    text = (
        "<think>We need x such that 2x + 3 = 11.\n\n"
        "Let me guess: plug in x = 5.\n\n"
        "With x = 5 the left side is 13.\n\n"
        "Wait, guessing was a mistake here. Back to the equation 2x + 3 = 11, solved properly.\n\n"
        "Subtracting 3 from both sides gives 2x = 8.\n\n"
        "Dividing by 2, x = 4.</think>The answer is 4."
    )
    analysis = analyze(text, embedder=minilm)
    assert analysis.trace.output == "The answer is 4."
    kinds = [s.kind for s in analysis.steps]
    assert kinds.count("backtrack") == 1
    back = next(e for e in analysis.edges if e.type == "backtrack")
    assert back.src == kinds.index("backtrack") and back.dst < back.src - 1
    assert analysis.metrics["failed_step_fraction"] > 0
    doc = analysis.to_json()
    assert doc["hypotheses"] == [] and all(s["beliefs"] == [] for s in doc["steps"])
    assert {e["type"] for e in doc["edges"]} >= {"next", "backtrack"}
    for s in doc["steps"]:
        assert doc["reasoning"][s["start"] : s["end"]] == s["text"]


def test_analyze_straight_chain_with_the_real_model(minilm) -> None:
    text = (
        "The train leaves the station at noon.\n\n"
        "It covers 120 kilometres in two hours.\n\n"
        "Speed is distance divided by time.\n\n"
        "That makes sixty kilometres per hour."
    )
    analysis = analyze(text, embedder=minilm)
    assert [e.type for e in analysis.edges] == ["next"] * 3
    assert analysis.metrics["linearity"] == 1.0 and analysis.metrics["failed_step_fraction"] == 0.0

"""Every metric of :mod:`cotgraph.metrics` on small graphs built by hand, each value worked out
in the test's docstring; and the state graph's metrics on the shared traces, which must vary.

The hand graph ``G`` (six steps; ``parent`` is the search-tree parent):

    step  span     parent  dead_end   edges out of it
    0     0-10     -1      no         next 0→1
    1     12-20    0       no         next 1→2, branch 1→5
    2     22-40    1       yes        -
    3     42-50    1       no         backtrack 3→1, next 3→4
    4     52-60    3       no         verify 4→2
    5     62-70    1       no         revisit 5→0

Its state graph: visit sequence 0, 1, 2, 0, 1, 2 over three states joined in a triangle, edge
weights (cosine distances) 0–1: 0.2, 1–2: 0.3, 0–2: 0.6.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest

from cotgraph import metrics as M

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def state_graph(sequence: list[int], weights: dict[tuple[int, int], float]) -> nx.Graph:
    sg = nx.Graph(sequence=sequence)
    sg.add_nodes_from(sorted(set(sequence)))
    for (a, b), w in weights.items():
        sg.add_edge(a, b, weight=w)
    return sg


@pytest.fixture
def G() -> nx.DiGraph:
    g = nx.DiGraph()
    spans = [(0, 10), (12, 20), (22, 40), (42, 50), (52, 60), (62, 70)]
    parents = [-1, 0, 1, 1, 3, 1]
    for i, ((start, end), parent) in enumerate(zip(spans, parents, strict=True)):
        g.add_node(i, start=start, end=end, parent=parent, dead_end=i == 2, kind="reason", state=0)
    for src, dst, etype in [
        (0, 1, "next"),
        (1, 2, "next"),
        (1, 5, "branch"),
        (3, 1, "backtrack"),
        (3, 4, "next"),
        (4, 2, "verify"),
        (5, 0, "revisit"),
    ]:
        g.add_edge(src, dst, type=etype)
    g.graph["state_graph"] = state_graph([0, 1, 2, 0, 1, 2], {(0, 1): 0.2, (1, 2): 0.3, (0, 2): 0.6})
    return g


def test_size(G: nx.DiGraph) -> None:
    """n_steps = 6 nodes; n_chars = 10 + 8 + 18 + 8 + 8 + 8 = 60."""
    assert M.n_steps(G) == 6
    assert M.n_chars(G) == 60


def test_depth(G: nx.DiGraph) -> None:
    """Levels: 0 → 0, 1 → 1, 2, 3 and 5 → 2, 4 (child of 3) → 3; the deepest is 3 edges."""
    assert M.depth(G) == 3


def test_branches_and_branching_factor(G: nx.DiGraph) -> None:
    """One ``branch`` edge (1→5). Tree children: 0 has {1}, 1 has {2, 3, 5}, 3 has {4}; one step
    (1) has more than one child; branching factor = (1 + 3 + 1) / 3 parents = 5/3."""
    assert M.n_branches(G) == 1
    assert M.n_branch_points(G) == 1
    assert M.branching_factor(G) == pytest.approx(5 / 3)


def test_edge_counts_and_rates(G: nx.DiGraph) -> None:
    """One edge each of ``backtrack``, ``verify`` and ``revisit``: each rate is 1/6."""
    assert (M.n_backtracks(G), M.n_verifications(G), M.n_revisits(G)) == (1, 1, 1)
    for rate in (M.backtrack_rate, M.verification_rate, M.revisit_rate):
        assert rate(G) == pytest.approx(1 / 6)


def test_failed_step_fraction(G: nx.DiGraph) -> None:
    """One dead-end step (2) of six: FSF = 1/6."""
    assert M.n_dead_end_steps(G) == 1
    assert M.failed_step_fraction(G) == pytest.approx(1 / 6)


def test_graph_shape(G: nx.DiGraph) -> None:
    """7 directed edges over 6 × 5 ordered pairs: density 7/30. Out-degrees 1, 2, 0, 2, 1, 1:
    steps 1 and 3 branch out, branching ratio 2/6. In-degrees 1, 2, 2, 0, 1, 1: steps 1 and 2
    converge, convergence ratio 2/6. Total degrees 2, 4, 2, 2, 2, 2: only step 1 exceeds 2,
    linearity 1 − 1/6 = 5/6."""
    assert M.density(G) == pytest.approx(7 / 30)
    assert M.branching_ratio(G) == pytest.approx(1 / 3)
    assert M.convergence_ratio(G) == pytest.approx(1 / 3)
    assert M.linearity(G) == pytest.approx(5 / 6)


def test_states_and_cycles(G: nx.DiGraph) -> None:
    """Three states. In the sequence 0, 1, 2, 0, 1, 2 the last three visits return to a state
    already seen after another one: 3 cycles."""
    assert M.n_states(G) == 3
    assert M.n_cycles(G) == 3


def test_state_diameter(G: nx.DiGraph) -> None:
    """Weighted shortest paths: 0–1 = 0.2, 1–2 = 0.3, 0–2 = min(0.6, 0.2 + 0.3) = 0.5; the
    longest of them is 0.5."""
    assert M.state_diameter(G) == pytest.approx(0.5)


def test_small_world_index_of_a_triangle(G: nx.DiGraph) -> None:
    """Triangle: N = 3, K = 2, C = 1, L = 1; C_rand = K / (N − 1) = 1, L_rand = ln 3 / ln 2;
    S = (1 / 1) / (1 / (ln 3 / ln 2)) = ln 3 / ln 2 ≈ 1.585."""
    assert M.small_world_index(G) == pytest.approx(math.log(3) / math.log(2))


def test_small_world_index_of_a_square_with_a_diagonal() -> None:
    """States 0–1–2–3–0 and the diagonal 0–2 (sequence 0, 1, 2, 3, 0, 2): N = 4, five edges,
    K = 2.5. Local clustering: 0 and 2 have three neighbours with two links among them (2/3);
    1 and 3 have two neighbours that are linked (1): C = (2/3 + 1 + 2/3 + 1) / 4 = 5/6. Hop
    distances: five pairs at 1, 1–3 at 2: L = 7/6. C_rand = 2.5 / 3 = 5/6, L_rand = ln 4 / ln 2.5.
    S = (5/6 ÷ 5/6) / (7/6 ÷ (ln 4 / ln 2.5)) = (6/7) · ln 4 / ln 2.5 ≈ 1.297."""
    g = nx.DiGraph()
    g.graph["state_graph"] = state_graph(
        [0, 1, 2, 3, 0, 2], {(0, 1): 0.1, (1, 2): 0.1, (2, 3): 0.1, (3, 0): 0.1, (0, 2): 0.1}
    )
    assert M.small_world_index(g) == pytest.approx((6 / 7) * math.log(4) / math.log(2.5))


def test_undefined_values_are_none() -> None:
    """One step: every ratio over n − 1 or over pairs is undefined (density), the state graph of
    one state has no small-world index, and its diameter is 0."""
    g = nx.DiGraph()
    g.add_node(0, start=0, end=5, parent=-1, dead_end=False)
    g.graph["state_graph"] = state_graph([0], {})
    assert M.density(g) is None
    assert M.branching_factor(g) is None
    assert M.small_world_index(g) is None
    assert M.state_diameter(g) == 0.0
    assert M.depth(nx.DiGraph()) is None


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")
def test_state_graph_metrics_vary_on_the_shared_traces() -> None:
    """The state graph of the default pipeline (k-means states) on every shared trace of at least
    30 steps: the small-world index is defined and non-zero on at least 80% of them, and no metric
    that ``cotgraph metrics`` shows by default is constant across them."""
    from cotgraph.cli import TABLE_METRICS
    from cotgraph.engine import analyze_many
    from cotgraph.io import load
    from cotgraph.segment import segment_many

    traces = [t for t, steps in segment_many(load(DATA).traces) if len(steps) >= 30]
    assert len(traces) >= 50
    analyses = list(analyze_many(traces))
    swi = [a.metrics["small_world_index"] for a in analyses]
    good = sum(1 for v in swi if v is not None and v > 0)
    assert good / len(swi) >= 0.8, f"small-world index defined and non-zero on {good} of {len(swi)}"
    for name in (*TABLE_METRICS, "n_states", "state_diameter"):
        values = {a.metrics[name] for a in analyses}
        assert len(values) > 1, f"{name} is constant ({values}) across {len(analyses)} shared traces"


def test_every_metric_has_its_worked_value(G: nx.DiGraph) -> None:
    """The values worked out above, all together: a metric added to ``METRICS`` without a worked
    value here fails this test."""
    worked = {
        "n_steps": 6,
        "n_chars": 60,
        "depth": 3,
        "n_branches": 1,
        "n_branch_points": 1,
        "branching_factor": 5 / 3,
        "n_backtracks": 1,
        "backtrack_rate": 1 / 6,
        "n_verifications": 1,
        "verification_rate": 1 / 6,
        "n_revisits": 1,
        "revisit_rate": 1 / 6,
        "n_dead_end_steps": 1,
        "failed_step_fraction": 1 / 6,
        "n_states": 3,
        "n_cycles": 3,
        "state_diameter": 0.5,
        "small_world_index": math.log(3) / math.log(2),
        "density": 7 / 30,
        "branching_ratio": 1 / 3,
        "convergence_ratio": 1 / 3,
        "linearity": 5 / 6,
    }
    computed = M.compute_metrics(G)
    assert set(computed) == set(worked)
    for name, value in worked.items():
        assert computed[name] == pytest.approx(value, abs=1e-6), name

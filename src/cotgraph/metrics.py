"""Metrics of a search graph: plain functions over the graph :func:`cotgraph.graph.build_graph`
returns, each with its formula and source. ``docs/metrics.md`` lists them all.

A ratio whose denominator is zero (an empty trace, a single step) is ``None``, not 0: "no
evidence" must not read as "measured zero".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

Metric = Callable[[nx.DiGraph], float | int | None]


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _edge_count(graph: nx.DiGraph, etype: str) -> int:
    return sum(1 for _, _, t in graph.edges(data="type") if t == etype)


def _children(graph: nx.DiGraph) -> Counter[int]:
    return Counter(p for _, p in graph.nodes(data="parent") if p is not None and p >= 0)


# --- size ------------------------------------------------------------------------------------


def n_steps(graph: nx.DiGraph) -> int:
    """n: the number of steps (nodes)."""
    return graph.number_of_nodes()


def n_chars(graph: nx.DiGraph) -> int:
    """Characters of reasoning inside steps: Σ (end − start) over steps."""
    return sum(end - start for _, start, end in _spans(graph))


def _spans(graph: nx.DiGraph) -> list[tuple[int, int, int]]:
    return [(i, d["start"], d["end"]) for i, d in graph.nodes(data=True)]


# --- search tree -----------------------------------------------------------------------------


def depth(graph: nx.DiGraph) -> int | None:
    """The longest root-to-leaf path of the search tree, in edges (a chain of n steps: n − 1).
    Source: the tree-depth measure of search-structure analyses of CoT (arXiv 2509.19284)."""
    if graph.number_of_nodes() == 0:
        return None
    level: dict[int, int] = {}
    for node in sorted(graph.nodes):  # parents always precede children
        p = graph.nodes[node]["parent"]
        level[node] = 0 if p is None or p < 0 else level[p] + 1
    return max(level.values())


def n_branches(graph: nx.DiGraph) -> int:
    """The number of alternatives opened: ``branch`` edges."""
    return _edge_count(graph, "branch")


def n_branch_points(graph: nx.DiGraph) -> int:
    """Steps of the search tree with more than one child."""
    return sum(1 for c in _children(graph).values() if c > 1)


def branching_factor(graph: nx.DiGraph) -> float | None:
    """Mean number of tree children over steps that have children (METRICS.md)."""
    children = _children(graph)
    return _ratio(sum(children.values()), len(children))


def n_backtracks(graph: nx.DiGraph) -> int:
    """``backtrack`` edges: steps that abandon the current line and return to an earlier step."""
    return _edge_count(graph, "backtrack")


def backtrack_rate(graph: nx.DiGraph) -> float | None:
    """backtracks / n (METRICS.md)."""
    return _ratio(n_backtracks(graph), graph.number_of_nodes())


def n_verifications(graph: nx.DiGraph) -> int:
    """``verify`` edges: steps that check an earlier step."""
    return _edge_count(graph, "verify")


def verification_rate(graph: nx.DiGraph) -> float | None:
    """verifications / n (METRICS.md)."""
    return _ratio(n_verifications(graph), graph.number_of_nodes())


def n_revisits(graph: nx.DiGraph) -> int:
    """``revisit`` edges: steps that restate a non-adjacent earlier step."""
    return _edge_count(graph, "revisit")


def revisit_rate(graph: nx.DiGraph) -> float | None:
    """revisits / n (METRICS.md)."""
    return _ratio(n_revisits(graph), graph.number_of_nodes())


def n_dead_end_steps(graph: nx.DiGraph) -> int:
    """Steps in branches left by a backtrack and never resumed."""
    return sum(1 for _, dead in graph.nodes(data="dead_end") if dead)


def failed_step_fraction(graph: nx.DiGraph) -> float | None:
    """FSF = steps in abandoned branches (left by a backtrack, never resumed) / n.
    Source: "What Characterizes Effective Reasoning? Revisiting Length, Review, and Structure of
    CoT", arXiv 2509.19284, where it predicted correctness better than length."""
    return _ratio(n_dead_end_steps(graph), graph.number_of_nodes())


# --- graph shape (Mapping the Minds of LLMs, arXiv 2505.13890) ----------------------------


def density(graph: nx.DiGraph) -> float | None:
    """|E| / (n (n − 1)) over the directed graph, each edge counted once (arXiv 2505.13890; their
    code adds each edge in both directions, we do not). Falls as traces grow: read it beside n."""
    n = graph.number_of_nodes()
    return _ratio(graph.number_of_edges(), n * (n - 1))


def branching_ratio(graph: nx.DiGraph) -> float | None:
    """#{nodes with out-degree > 1} / n (arXiv 2505.13890, directed)."""
    return _ratio(sum(1 for _, d in graph.out_degree() if d > 1), graph.number_of_nodes())


def convergence_ratio(graph: nx.DiGraph) -> float | None:
    """#{nodes with in-degree > 1} / n (arXiv 2505.13890, directed)."""
    return _ratio(sum(1 for _, d in graph.in_degree() if d > 1), graph.number_of_nodes())


def linearity(graph: nx.DiGraph) -> float | None:
    """1 − #{nodes with in-degree + out-degree > 2} / n (arXiv 2505.13890, directed): 1 for a
    straight chain."""
    n = graph.number_of_nodes()
    busy = sum(1 for _, d in graph.degree() if d > 2)
    return None if n == 0 else 1.0 - busy / n


# --- state graph (Topology of Reasoning, arXiv 2506.05744) --------------------------------


def _state_graph(graph: nx.DiGraph) -> nx.Graph:
    sg = graph.graph.get("state_graph")
    return sg if sg is not None else nx.Graph()


def n_states(graph: nx.DiGraph) -> int:
    """Distinct states visited: k-means clusters of the step embeddings (``graph.kmeans_states``,
    arXiv 2506.05744)."""
    return _state_graph(graph).number_of_nodes()


def n_cycles(graph: nx.DiGraph) -> int:
    """Visits to a state already visited, after at least one other state (arXiv 2506.05744)."""
    sequence = _state_graph(graph).graph.get("sequence", [])
    seen: set[int] = set()
    cycles = 0
    previous = None
    for state in sequence:
        if state != previous and state in seen:
            cycles += 1
        seen.add(state)
        previous = state
    return cycles


def _adjacency(sg: nx.Graph, weighted: bool) -> np.ndarray:
    nodes = list(sg.nodes)
    index = {v: k for k, v in enumerate(nodes)}
    dense = np.zeros((len(nodes), len(nodes)))
    for a, b, w in sg.edges(data="weight", default=1.0):
        # csgraph reads zeros as "no edge": keep identical states one hair apart.
        value = max(float(w), 1e-9) if weighted else 1.0
        dense[index[a], index[b]] = dense[index[b], index[a]] = value
    return dense


def _distances(sg: nx.Graph, weighted: bool) -> np.ndarray:
    """All-pairs shortest paths of the state graph (cached on it): Floyd–Warshall in numpy for
    small graphs (most traces), scipy's Dijkstra on a sparse matrix for large ones."""
    key = "_dist_weighted" if weighted else "_dist_hops"
    cached = sg.graph.get(key)
    if cached is not None:
        return cached
    adjacency = _adjacency(sg, weighted)
    n = adjacency.shape[0]
    if n <= 96:
        dist = np.where(adjacency > 0, adjacency, np.inf)
        np.fill_diagonal(dist, 0.0)
        for k in range(n):
            np.minimum(dist, dist[:, k, None] + dist[None, k, :], out=dist)
    else:
        dist = shortest_path(csr_matrix(adjacency), method="D", directed=False, unweighted=not weighted)
    sg.graph[key] = dist
    return dist


def _average_clustering(sg: nx.Graph) -> float:
    """Mean local clustering coefficient (nodes of degree < 2 count as 0, as in networkx)."""
    a = _adjacency(sg, weighted=False)
    degree = a.sum(axis=1)
    triangles = ((a @ a) * a).sum(axis=1) / 2.0
    possible = degree * (degree - 1) / 2.0
    local = np.divide(triangles, possible, out=np.zeros_like(triangles), where=possible > 0)
    return float(local.mean()) if local.size else 0.0


def state_diameter(graph: nx.DiGraph) -> float | None:
    """The longest shortest path of the state graph, edges weighted by the cosine distance between
    the two states' mean embeddings (arXiv 2506.05744)."""
    sg = _state_graph(graph)
    if sg.number_of_nodes() == 0:
        return None
    if sg.number_of_nodes() == 1:
        return 0.0
    dist = _distances(sg, weighted=True)
    finite = dist[np.isfinite(dist)]
    return float(finite.max()) if finite.size else 0.0


def small_world_index(graph: nx.DiGraph) -> float | None:
    """S = (C / C_rand) / (L / L_rand) on the undirected state graph, with C the average
    clustering coefficient, L the average shortest path length (over connected pairs),
    C_rand = K / (N − 1) and L_rand = ln N / ln K for N states and mean degree K.
    ``None`` when N < 3 or K ≤ 1 (arXiv 2506.05744; the formulas of its text, since its public
    code crashes before computing it)."""
    sg = _state_graph(graph)
    n = sg.number_of_nodes()
    if n < 3:
        return None
    k = 2.0 * sg.number_of_edges() / n
    if k <= 1:
        return None
    c = _average_clustering(sg)
    dist = _distances(sg, weighted=False)
    off = dist[~np.eye(n, dtype=bool)]
    off = off[np.isfinite(off)]
    if off.size == 0:
        return None
    ell = float(off.mean())
    c_rand = k / (n - 1)
    l_rand = math.log(n) / math.log(k)
    if ell == 0 or l_rand == 0:
        return None
    return (c / c_rand) / (ell / l_rand)


METRICS: dict[str, Metric] = {
    "n_steps": n_steps,
    "n_chars": n_chars,
    "depth": depth,
    "n_branches": n_branches,
    "n_branch_points": n_branch_points,
    "branching_factor": branching_factor,
    "n_backtracks": n_backtracks,
    "backtrack_rate": backtrack_rate,
    "n_verifications": n_verifications,
    "verification_rate": verification_rate,
    "n_revisits": n_revisits,
    "revisit_rate": revisit_rate,
    "n_dead_end_steps": n_dead_end_steps,
    "failed_step_fraction": failed_step_fraction,
    "n_states": n_states,
    "n_cycles": n_cycles,
    "state_diameter": state_diameter,
    "small_world_index": small_world_index,
    "density": density,
    "branching_ratio": branching_ratio,
    "convergence_ratio": convergence_ratio,
    "linearity": linearity,
}
"""Every graph metric, by the name it has in the JSON contract, in the order tables show them."""


def compute_metrics(graph: nx.DiGraph) -> dict[str, float | int | None]:
    """All of :data:`METRICS` for one graph; floats rounded to 6 places for stable output."""
    out: dict[str, float | int | None] = {}
    for name, fn in METRICS.items():
        value = fn(graph)
        out[name] = round(value, 6) if isinstance(value, float) else value
    return out

"""The search graph of one trace: how the model continued, branched, backtracked, checked itself
and came back to earlier thoughts.

Input: the steps of a trace and their unit-normalised embeddings. Output: a ``networkx.DiGraph``
whose nodes are step indices and whose edges carry a ``type`` (``next``, ``branch``,
``backtrack``, ``verify``, ``revisit``; see DESIGN.md). Three things are decided per step:

1. its **kind** (plan, retrieve, compute, verify, backtrack, explore, conclude, reason), given by
   the caller (the learned classifier of :mod:`cotgraph.kinds`, as the engine does) or, when not
   given, from its opening markers and lexical cues (:func:`cotgraph.kinds.step_kind`);
2. its **tree parent**: the step before it for a continuation; for a ``backtrack`` step, the
   earlier step it returns to; for an ``explore`` step, the branch point it opens from. Targets
   are chosen by embedding similarity among earlier steps, not by position alone;
3. its **back edges**: the step a ``verify`` step checks, and the non-adjacent earlier step a
   step restates (``revisit``, cosine above :attr:`GraphConfig.revisit_min_sim`).

Steps are also grouped into **states**, clusters of step embeddings found by k-means, as the
Topology of Reasoning paper builds them (arXiv 2506.05744): per trace with
:func:`number_of_states` clusters, or over a whole corpus (``--states corpus``, centroids given by
the caller, :func:`corpus_centroids`). The state graph links consecutive states. Everything is
deterministic: ties go to the later step, and k-means starts from a fixed seed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from cotgraph.kinds import STEP_KINDS, step_kind
from cotgraph.model import Edge, EdgeType, Step

__all__ = ["STEP_KINDS", "GraphConfig", "build_graph", "graph_edges", "similarity_matrix", "step_kind"]


@dataclass(frozen=True)
class GraphConfig:
    """Every threshold of the graph stage, in one place. Cosines are those of all-MiniLM-L6-v2
    (the default embedder) on unit-normalised step embeddings; ``docs/metrics.md`` says how each
    default was chosen."""

    window: int = 64
    """How many earlier steps a target search looks at."""
    backtrack_min_sim: float = 0.35
    """A backtrack returns to the most similar earlier step (not the one just before it) when that
    similarity reaches this; otherwise it returns to the parent of the step before it."""
    branch_min_sim: float = 0.35
    """An alternative opens from the most similar step on the current line when that similarity
    reaches this; otherwise from where the current line began."""
    verify_min_sim: float = 0.40
    """A check targets the most similar earlier step when that similarity reaches this; otherwise
    the nearest earlier computation or conclusion."""
    revisit_min_sim: float = 0.88
    """A step restates a non-adjacent earlier step when their cosine reaches this."""
    states: str = "trace"
    """``trace``: k-means on each trace's steps, :func:`number_of_states` clusters; ``corpus``:
    each step takes the nearest of centroids fitted on the whole corpus (given to
    :func:`build_graph` as ``centroids``)."""
    recency_penalty: float = 0.25
    """Subtracted from a candidate's similarity in proportion to its distance (the full amount at
    ``window`` steps back), so that a doubt returns to what the model just did unless an older
    step is clearly closer in meaning. Reasoning models mostly second-guess their last few steps."""

    def __post_init__(self) -> None:
        for name in ("backtrack_min_sim", "branch_min_sim", "verify_min_sim", "revisit_min_sim"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a cosine in [-1, 1], got {value}")
        if self.window < 1:
            raise ValueError("window must be >= 1")
        if self.states not in ("trace", "corpus"):
            raise ValueError(f"states must be 'trace' or 'corpus', got {self.states!r}")


# --- the graph -------------------------------------------------------------------------------


def similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of steps (embeddings are unit-normalised). n × n: for
    small inputs and tests; the graph itself only ever holds a band of it (:class:`_Band`)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    return emb @ emb.T


TIE_EPS = 1e-6
"""Cosines this close count as a tie (the later step wins): identical steps have the same
embedding, but their float32 cosines with a third step can differ in the last bit depending on how
the product was blocked, and a target must not depend on that."""


class _Band:
    """The cosines the graph needs: each step against the ``window`` steps before it.

    Every target search looks at most ``window`` steps back, so the n × n similarity matrix is
    never built: rows are computed a block at a time (``block`` rows against those rows and the
    ``window`` columns before them), and time and memory grow as n · (block + window). A trace of
    at most ``block`` steps gets the whole matrix in one product, exactly as before. Rows must be
    asked for in increasing order."""

    def __init__(self, emb: np.ndarray, window: int, block: int = 1024) -> None:
        self.emb, self.window, self.block = emb, window, block
        self.lo = self.hi = self.col0 = 0
        self.sims = np.zeros((0, 0), dtype=np.float32)

    def row(self, i: int) -> tuple[np.ndarray, int]:
        """Cosines of step ``i`` with steps ``col0 … hi − 1`` (``col0 ≤ i − window``), and ``col0``."""
        if not self.lo <= i < self.hi:
            n = self.emb.shape[0]
            self.lo, self.hi = i, min(n, i + self.block)
            self.col0 = max(0, i - self.window)
            self.sims = self.emb[self.lo : self.hi] @ self.emb[self.col0 : self.hi].T
        return self.sims[i - self.lo], self.col0

    def cosine(self, i: int, j: int) -> float:
        """Step ``i``'s cosine with an earlier step ``j`` (``i`` in the current block); a ``j``
        before the block's columns (a fallback target far back) is one dot product."""
        if j >= self.col0:
            return float(self.sims[i - self.lo, j - self.col0])
        return float(self.emb[i] @ self.emb[j])

    def most_similar_earlier(self, gap: int) -> dict[int, int]:
        """For each row of the current block, the most similar step j with i − window ≤ j ≤ i − gap
        (the later one on ties); rows without any are left out."""
        i = np.arange(self.lo, self.hi)[:, None]
        j = np.arange(self.col0, self.hi)[None, :]
        allowed = (j <= i - gap) & (j >= i - self.window)
        masked = np.where(allowed, self.sims, -np.inf)
        width = masked.shape[1]
        # ties (within float noise: two identical steps) go to the later step, whatever the block
        near = masked >= masked.max(axis=1, keepdims=True) - TIE_EPS
        found = width - 1 - np.argmax(near[:, ::-1], axis=1)  # reversed: argmax takes the first
        has = allowed.any(axis=1)
        return {self.lo + r: self.col0 + int(found[r]) for r in np.flatnonzero(has)}


def _best(
    row: np.ndarray, col0: int, candidates: Sequence[int], i: int, config: GraphConfig
) -> tuple[int, float] | None:
    """The candidate most similar to step ``i`` after the recency penalty, and its raw cosine;
    ``row[j - col0]`` is step ``i``'s cosine with step ``j``."""
    if not candidates:
        return None
    idx = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
    raw = row[idx - col0]
    scores = raw - config.recency_penalty * (i - 1 - idx) / config.window
    # Ties (within float noise) go to the later step: reverse, argmax (first), map back.
    near = scores >= scores.max() - TIE_EPS
    k = len(idx) - 1 - int(np.argmax(near[::-1]))
    return int(idx[k]), float(raw[k])


def _abandon(parent: list[int], left: int, kept: int, abandoned: set[int]) -> None:
    """Mark the line from ``left`` up to (not including) its common ancestor with ``kept`` as
    abandoned. A parent always comes before its child, so the common ancestor is found by moving
    the later of the two nodes up: no walk to the root."""
    while left != kept:
        if left > kept:
            abandoned.add(left)
            left = parent[left]
        else:
            kept = parent[kept]


def build_graph(
    steps: Sequence[Step],
    embeddings: np.ndarray,
    config: GraphConfig | None = None,
    *,
    trace_id: str | None = None,
    kinds: Sequence[str] | None = None,
    centroids: np.ndarray | None = None,
    block: int = 1024,
) -> nx.DiGraph:
    """Build the search graph of one trace.

    Each node ``i`` carries ``kind``, ``parent`` (its search-tree parent, -1 for the root),
    ``state``, ``dead_end`` and ``start``/``end`` offsets; each edge a ``type`` and, where
    similarity chose it, a ``score``. ``graph.graph`` holds ``trace_id``, the ``config`` and the
    ``state_graph`` (an undirected ``nx.Graph`` over states, weighted by embedding distance).
    ``kinds`` gives each step's kind (:mod:`cotgraph.kinds`); without it the rule decides.
    ``centroids`` (unit rows) are the corpus states of ``GraphConfig(states="corpus")``; without
    them the states are k-means clusters of this trace.
    The steps' ``kind``, ``parent`` and ``dead_end`` fields are set as a side effect.

    Time and memory are linear in the number of steps (for a fixed ``window``): every candidate
    target lies within ``window`` steps, the cosines are computed in blocks (:class:`_Band`), and
    no step walks the tree further than its window or the common ancestor it returns to.
    ``block`` (rows of cosines per matrix product) trades memory for speed; the graph does not
    depend on it, except that a cosine computed in another block can differ in its last bits.
    """
    config = config or GraphConfig()
    n = len(steps)
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.shape[0] != n:
        raise ValueError(f"{n} steps but {emb.shape[0]} embeddings")
    graph = nx.DiGraph(trace_id=trace_id, config=config)
    if n == 0:
        graph.graph["state_graph"] = nx.Graph()
        return graph
    if kinds is None:
        kinds = [step_kind(s) for s in steps]
    elif len(kinds) != n:
        raise ValueError(f"{n} steps but {len(kinds)} kinds")
    kinds = list(kinds)
    for step, kind in zip(steps, kinds, strict=True):
        step.kind = kind

    parent = [-1] * n
    tree_type: list[str] = ["root"] * n
    line_start = [0] * n  # where each step's line began: up its `next` edges to the first other one
    edges: dict[tuple[int, int], Edge] = {}
    abandoned: set[int] = set()

    def add(src: int, dst: int, etype: EdgeType, score: float | None = None) -> None:
        if (src, dst) not in edges:
            rounded = None if score is None else round(score, 4)
            edges[(src, dst)] = Edge.model_construct(src=src, dst=dst, type=etype, score=rounded)

    band = _Band(emb, config.window, block)
    band.row(0)  # the first block starts at step 0: a short trace gets the whole matrix at once
    restates, restates_of = band.most_similar_earlier(gap=2), band.lo
    for i in range(1, n):
        lo = max(0, i - config.window)
        kind = kinds[i]
        row, col0 = band.row(i)
        if band.lo != restates_of:
            restates, restates_of = band.most_similar_earlier(gap=2), band.lo

        if kind == "backtrack" and i >= 2:
            found = _best(row, col0, range(lo, i - 1), i, config)
            if found and found[1] >= config.backtrack_min_sim:
                target, score = found
            else:
                target, score = max(parent[i - 1], 0), None
            # The line from the step before down to (not including) the common ancestor is left.
            _abandon(parent, i - 1, target, abandoned)
            parent[i], tree_type[i] = target, "backtrack"
            add(i, target, "backtrack", score if score is not None else band.cosine(i, target))
        elif kind == "explore" and i >= 2:
            candidates = []
            node = parent[i - 1]
            while node >= lo:  # the current line's steps within the window, latest first
                candidates.append(node)
                node = parent[node]
            found = _best(row, col0, candidates, i, config)
            if found and found[1] >= config.branch_min_sim:
                point, score = found
            else:
                start = line_start[i - 1]
                point = parent[start] if parent[start] >= 0 else start
                score = band.cosine(i, point)
            parent[i], tree_type[i] = point, "branch"
            add(point, i, "branch", score)
        else:
            parent[i], tree_type[i] = i - 1, "next"
            add(i - 1, i, "next")
        line_start[i] = line_start[i - 1] if tree_type[i] == "next" else i
        if kind == "verify":
            found = _best(row, col0, range(lo, i), i, config)
            if found and found[1] >= config.verify_min_sim:
                target, score = found
            else:
                target = next((j for j in range(i - 1, lo - 1, -1) if kinds[j] in ("compute", "conclude")), i - 1)
                score = band.cosine(i, target)
            add(i, target, "verify", score)
        j = restates.get(i, -1)
        if j >= 0 and row[j - col0] >= config.revisit_min_sim:
            add(i, j, "revisit", band.cosine(i, j))

    dead = _dead_ends(parent, abandoned, edges.values())

    states = nearest_centroid(emb, centroids) if centroids is not None else kmeans_states(emb)
    for i, step in enumerate(steps):
        step.parent, step.dead_end, step.state = parent[i], i in dead, int(states[i])
        graph.add_node(
            i,
            kind=kinds[i],
            parent=parent[i],
            state=states[i],
            dead_end=i in dead,
            start=step.start,
            end=step.end,
        )
    for (src, dst), edge in edges.items():
        graph.add_edge(src, dst, type=edge.type, score=edge.score)
    graph.graph["edges"] = list(edges.values())
    graph.graph["state_graph"] = _state_graph(states, emb)
    return graph


def _dead_ends(parent: list[int], abandoned: set[int], edges: Iterable[Edge]) -> set[int]:
    """Abandoned steps that stay abandoned. A branch counts as resumed, and so lives, when a
    surviving step descends from it, or checks or restates one of its steps (a ``verify`` or
    ``revisit`` edge from a surviving step): the model came back to it."""
    alive: set[int] = set()

    def keep(node: int) -> None:
        while node >= 0 and node not in alive:
            alive.add(node)
            node = parent[node]

    for node in range(len(parent)):
        if node not in abandoned:
            keep(node)
    for edge in edges:
        if edge.type in ("verify", "revisit") and edge.src not in abandoned and edge.dst in abandoned:
            keep(edge.dst)
    return abandoned - alive


def number_of_states(n_steps: int) -> int:
    """k = ⌈√(n/2)⌉ states for a trace of n steps, the rule of thumb for the number of clusters
    (Mardia, Kent & Bibby, *Multivariate Analysis*, 1979, §13.2). It grows slowly enough that a
    trace of 30 steps has 4 states and one of 100 has 8, so the state graph is small but not a
    path; at least 1 and at most n."""
    if n_steps <= 0:
        return 0
    return max(1, min(n_steps, math.ceil(math.sqrt(n_steps / 2))))


def kmeans_states(emb: np.ndarray, k: int | None = None) -> list[int]:
    """States of one trace: k-means on its unit step embeddings with :func:`number_of_states`
    clusters (fewer when there are fewer distinct steps), numbered in order of first visit.

    SciPy's ``kmeans2`` (k-means++ from seed 0, 20 Lloyd iterations; ``rng`` needs SciPy 1.15; traces of over
    2,048 steps are seeded by scikit-learn's ``kmeans_plusplus``, linear in k): the same algorithm as
    scikit-learn's ``KMeans``, whose fixed cost per call (its thread-pool bookkeeping) is several
    milliseconds once torch is loaded, which would be most of the fast pipeline's time on short
    traces; the corpus-wide clustering, one call, uses scikit-learn (:func:`corpus_centroids`)."""
    n = emb.shape[0]
    if n == 0:
        return []
    k = number_of_states(n) if k is None else k
    k = min(k, len({row.tobytes() for row in np.asarray(emb, dtype=np.float32)}))
    if k <= 1:
        return [0] * n
    import warnings

    from scipy.cluster.vq import kmeans2

    data = np.asarray(emb, dtype=np.float64)
    start: int | np.ndarray = k
    minit = "++"
    if n > _SCIPY_SEEDING_MAX_STEPS:
        start, minit = _kmeans_plusplus(data, k), "matrix"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster is just a state never visited
        _, labels = kmeans2(data, start, iter=20, minit=minit, rng=0, check_finite=False)  # unit vectors
    return _in_visit_order(labels)


_SCIPY_SEEDING_MAX_STEPS = 2048
"""Up to this many steps the per-trace k-means seeds with SciPy's k-means++; longer traces with
:func:`_kmeans_plusplus`, whose cost is linear in k."""


def _kmeans_plusplus(data: np.ndarray, k: int) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding",
    SODA 2007): the first centre uniformly, each next one with probability proportional to the
    squared distance to the nearest centre so far. SciPy's version recomputes every distance for
    each new centre (k² · n work); this keeps the running minimum (k · n), as scikit-learn does,
    without importing scikit-learn (over 100 MB and a second) into the analysis. Seed 0."""
    rng = np.random.default_rng(0)
    n = data.shape[0]
    norms = np.einsum("ij,ij->i", data, data)
    centres = np.empty((k, data.shape[1]), dtype=data.dtype)
    centres[0] = data[int(rng.integers(n))]
    nearest = np.maximum(norms - 2.0 * (data @ centres[0]) + centres[0] @ centres[0], 0.0)
    for c in range(1, k):
        total = float(nearest.sum())
        pick = (
            int(rng.integers(n))
            if total <= 0
            else min(n - 1, int(np.searchsorted(np.cumsum(nearest), rng.uniform() * total)))
        )
        centres[c] = data[pick]
        np.minimum(nearest, np.maximum(norms - 2.0 * (data @ centres[c]) + centres[c] @ centres[c], 0.0), out=nearest)
    return centres


def nearest_centroid(emb: np.ndarray, centroids: np.ndarray) -> list[int]:
    """Corpus states: the index of the most similar centroid (cosine) for each step."""
    if emb.shape[0] == 0:
        return []
    return [int(x) for x in np.argmax(np.asarray(emb, dtype=np.float32) @ centroids.T, axis=1)]


def corpus_centroids(vectors: np.ndarray, k: int | None = None) -> np.ndarray:
    """Unit centroids of k-means over the steps of a whole corpus (:func:`number_of_states` of
    the corpus's step count when ``k`` is not given), for ``--states corpus``: every trace's
    states are then the same, comparable clusters."""
    vectors = np.asarray(vectors, dtype=np.float64)
    k = min(number_of_states(len(vectors)) if k is None else k, len({row.tobytes() for row in vectors}))
    if k <= 1:
        mean = vectors.mean(axis=0, keepdims=True)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    from sklearn.cluster import KMeans

    centers = KMeans(n_clusters=k, n_init=1, random_state=0).fit(vectors).cluster_centers_
    norms = np.linalg.norm(centers, axis=1, keepdims=True)
    return (centers / np.where(norms == 0, 1, norms)).astype(np.float32)


def _in_visit_order(labels: Iterable[int]) -> list[int]:
    order: dict[int, int] = {}
    return [order.setdefault(int(x), len(order)) for x in labels]


def _state_graph(states: list[int], emb: np.ndarray) -> nx.Graph:
    """Undirected state graph over the visited states: an edge for each consecutive pair of
    distinct states, weighted by the cosine distance between the states' mean embeddings (of this
    trace's steps); ``sequence`` keeps the visit order."""
    visited = sorted(set(states))
    row = {state: j for j, state in enumerate(visited)}
    centroids = np.zeros((len(visited), emb.shape[1] if emb.ndim == 2 else 0), dtype=np.float32)
    np.add.at(centroids, np.asarray([row[x] for x in states], dtype=np.int64), emb)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms == 0, 1, norms)
    sg = nx.Graph(sequence=list(states))
    sg.add_nodes_from(visited)
    for a, b in itertools.pairwise(states):
        if a != b and not sg.has_edge(a, b):
            sg.add_edge(a, b, weight=max(0.0, float(1.0 - centroids[row[a]] @ centroids[row[b]])))
    return sg


def graph_edges(graph: nx.DiGraph) -> list[Edge]:
    """The typed edges of a search graph, in the order they were decided."""
    return list(graph.graph.get("edges", []))

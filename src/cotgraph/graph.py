"""The search graph of one trace: how the model continued, branched, backtracked, checked itself
and came back to earlier thoughts.

Input: the steps of a trace and their unit-normalised embeddings. Output: a ``networkx.DiGraph``
whose nodes are step indices and whose edges carry a ``type`` (``next``, ``branch``,
``backtrack``, ``verify``, ``revisit``; see DESIGN.md). Three things are decided per step:

1. its **kind** (plan, retrieve, compute, verify, backtrack, explore, conclude, reason), from its
   opening markers and lexical cues (:func:`step_kind`);
2. its **tree parent**: the step before it for a continuation; for a ``backtrack`` step, the
   earlier step it returns to; for an ``explore`` step, the branch point it opens from. Targets
   are chosen by embedding similarity among earlier steps, not by position alone;
3. its **back edges**: the step a ``verify`` step checks, and the non-adjacent earlier step a
   step restates (``revisit``, cosine above :attr:`GraphConfig.revisit_min_sim`).

Steps are also grouped into **states** (near-duplicate thoughts, cosine above
:attr:`GraphConfig.state_min_sim`), giving the state graph of the Topology of Reasoning paper
(arXiv 2506.05744). Everything is deterministic: ties go to the later step.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from cotgraph.model import Edge, EdgeType, Step
from cotgraph.segment import HALT_MARKERS

STEP_KINDS: tuple[str, ...] = ("plan", "retrieve", "compute", "verify", "backtrack", "explore", "conclude", "reason")


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
    state_min_sim: float = 0.88
    """Steps this similar are one state of the state graph."""
    recency_penalty: float = 0.25
    """Subtracted from a candidate's similarity in proportion to its distance (the full amount at
    ``window`` steps back), so that a doubt returns to what the model just did unless an older
    step is clearly closer in meaning. Reasoning models mostly second-guess their last few steps."""

    def __post_init__(self) -> None:
        for name in ("backtrack_min_sim", "branch_min_sim", "verify_min_sim", "revisit_min_sim", "state_min_sim"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a cosine in [-1, 1], got {value}")
        if self.window < 1:
            raise ValueError("window must be >= 1")


# --- step kinds ------------------------------------------------------------------------------
# Cues are matched on the lower-cased step text. Order of decision: verify, backtrack, explore,
# conclude, retrieve, compute, plan, reason. They describe how reasoning models write (R1, QwQ,
# their distills, gpt-oss) and were written from the literature's step taxonomies (Thought Anchors'
# function tags; the "aha"/"wait" analyses), not fitted to one data set.

_NEG = r"(?<!not )(?<!n't )"

VERIFY_CUES = re.compile(
    r"\b(?:let me|let's|let us|i'll|i will|i should|i need to|we should|we need to|to|i can|we can|now)\s+"
    r"(?:just |quickly |also |now |again )?"
    r"(?:double[- ]?check|re-?check|check|verify|confirm|validate|make sure|ensure|sanity[- ]check|cross[- ]check|"
    r"test (?:this|that|it|with|the)|plug (?:it|this|that|these|them|in|back))"
    r"|\b(?:double[- ]?check(?:ing|ed)?|sanity check|cross[- ]check(?:ing)?|verif(?:y|ying|ied|ication)|"
    r"re-?checking|checking (?:this|that|it|again|the)|plugging (?:back|in|it|this|x|these))\b"
    rf"|{_NEG}\b(?:checks out|that works|this works|it works|which matches|that matches|it matches|this matches|"
    r"matches (?:the|my|our|what|both|earlier|previous)|consistent with|confirms|is confirmed|"
    r"(?:is|seems|looks|that's|that is|it's|it is|this is) (?:all )?(?:correct|right|consistent|valid)|"
    r"makes sense|same (?:result|answer|value)|agrees? with|both (?:methods|approaches|ways) give)\b"
    r"|^(?:yes|yep|correct|right|good|great|perfect|exactly)\b[ ,.!:]"
    r"|[✓✔]"
    r"|\b(?:i'?m|i am|we're|we are) (?:fairly |pretty |quite |very |now |more )?(?:confident|certain)\b"
)

_VERIFY_WORDS = (
    "check", "verif", "confirm", "validat", "make sure", "ensure", "sanity", "test", "plug", "works",
    "match", "consistent", "correct", "right", "valid", "sense", "same", "agree", "both", "yes", "yep",
    "good", "great", "perfect", "exactly", "✓", "✔", "confident", "certain",
)  # fmt: skip
"""Every word :data:`VERIFY_CUES` needs; a cheap substring test that skips the regex for most steps."""

DOUBT_CUES = re.compile(
    r"\b(?:mistake|wrong|incorrect|error|miscalculat\w*|miscount\w*|misread|misunderst\w*|messed up|"
    r"not right|isn't right|is not right|can't be|cannot be|couldn't be|shouldn't be|"
    r"doesn't make sense|does not make sense|contradict\w*|inconsisten\w*|discrepanc\w*|conflict\w*|"
    r"confus\w*|not sure|unsure|i doubt|doubtful|off by|that's not|that is not|this is not|"
    rf"{_NEG}seems? (?:too|off|odd|strange|weird|wrong|unlikely|suspicious)|"
    rf"{_NEG}too (?:big|large|small|high|low|many|few)|"
    r"doesn't (?:match|add up|work|fit|seem|look)|don't (?:match|add up|think so)|does not (?:match|work|fit)|"
    r"not possible|impossible|something'?s? (?:off|wrong)|not quite|hmm+|"
    r"reconsider|re-?examine|re-?evaluate|rethink|step back|start over|go back|backtrack|redo|re-?do|scratch that|"
    r"instead of|rather than|different from|differs|unexpected|puzzl\w*|strange|weird)\b"
)

QUESTION_OR_CONTRAST = re.compile(
    r"\?|\b(?:but|however|though|although|earlier|previous(?:ly)?|before|again|perhaps|maybe|might|"
    r"i think|i thought|assum\w+|suppose|is it|are they|did i|do i|does it|should i|instead)\b"
)

SELF_QUESTION = re.compile(r"^[^.!\n]{0,200}\?")
"""The step opens with a question the model puts to itself ("So, is x inside the interval?"):
uncertainty about the current line."""

HEDGE_LED = re.compile(
    r"(?:no,|perhaps|maybe|possibly|probably|i think|i guess|i suspect|i might|it might|it could|"
    r"that might|this might|i'm not|i am not)\b"
)
"""A step that opens hedged ("So, maybe it's actually 19 bits"; "Wait, no, …") doubts the line."""

EXPLORE_CUES = re.compile(
    r"^(?:alternatively|another (?:approach|way|idea|method|option|possibility|thought)|what if|or maybe|"
    r"or perhaps|maybe instead|instead,|suppose|let me try|let's try|let us try|let me consider|let's consider|"
    r"perhaps (?:i|we) (?:can|could|should) (?:try|use|consider|approach)|"
    r"maybe (?:i|we) (?:can|could|should) (?:try|use|consider|approach)|another (?:way|approach) (?:is|would be))\b"
)

CONCLUDE_CUES = re.compile(
    r"\b(?:therefore|thus|hence|in conclusion|to conclude|to summari[sz]e|in summary|final answer|"
    r"so the (?:final )?answer|the (?:final )?answer (?:is|should be|would be)|the result is|"
    r"i think (?:that's|that is) (?:it|the answer)|putting it all together|all in all|"
    r"(?:i|we) (?:conclude|can conclude)|so overall|so in total|so altogether)\b|\\boxed"
)

RETRIEVE_CUES = re.compile(
    r"\b(?:i (?:recall|remember|know)|recall(?:ing)? that|remember(?:ing)? that|by definition|is defined as|"
    r"are defined as|the definition of|the formula (?:for|is)|formula for|it(?: i|')s (?:well[- ])?known|"
    r"known (?:as|that)|according to|(?:theorem|identity|property|rule|law) (?:says|states|tells)|"
    r"the (?:fact|property) that|is a (?:well-known|standard|common))\b"
)

COMPUTE_CUES = re.compile(
    r"\d\s*[-+*/×÷^=]\s*\d|=|\\(?:frac|cdot|times|sqrt|sum|binom|dbinom|int|div)|"
    r"\b(?:comput\w+|calculat\w+|multipl\w+|divid\w+|subtract\w*|add(?:ing)? (?:up|these|them|the)|simplif\w+|"
    r"solv\w+|evaluat\w+|expand\w*|factor\w*|substitut\w+|convert\w*|sum of|product of|equals?)\b"
)

PLAN_CUES = re.compile(
    r"^(?:first(?:ly)?|to (?:solve|find|start|begin|answer|determine|figure)|"
    r"let me (?:start|begin|think about|figure|break|outline|plan|approach|understand|first|try to understand|"
    r"read|parse|restate|set up|recall what)|"
    r"let's (?:start|begin|break|outline|plan|approach|set up|think about|figure)|"
    r"(?:i|we) (?:need|have|want|should) to|(?:the|this) (?:problem|question|task|user) (?:is|asks|says|wants|gives)|"
    r"my (?:plan|goal|approach|task)|step \d|next,|then,? (?:i|we) (?:need|should|will|can)|"
    r"okay,? (?:so )?(?:i|we|the|let|this)|alright,? (?:so )?(?:i|we|the|let|this)|"
    r"(?:i|we)'ll (?:start|begin|need|first)|the (?:goal|plan) is)\b"
)


def step_kind(step: Step) -> str:
    """The function of a step in the search, from its opening markers and its words.

    - ``verify``: checks a result ("let me double-check", "which matches", "✓");
    - ``backtrack``: doubts or abandons the current line: an error or doubt word ("mistake",
      "that can't be", "I'm confused", "reconsider"), or a halting opener ("Wait", "Hold on",
      "Hmm") together with a question or a contrast ("but", "earlier", "maybe");
    - ``explore``: opens an alternative ("Alternatively", "What if", "Let me try");
    - ``conclude``: states a result or the answer ("therefore", "the answer is", ``\\boxed``);
    - ``retrieve``: recalls a fact or definition; ``compute``: calculates;
    - ``plan``: sets up or decides what to do next; ``reason``: anything else.

    A step that both checks and doubts ("Wait, let me check that again") is a check: the check
    is the act, the doubt its motive.
    """
    text = step.text.lower()
    head = text[:240]
    tail = text[-160:] if len(text) > 240 else ""
    markers = step.markers
    halted = any(m in HALT_MARKERS for m in markers)  # alone weak: "Wait," also opens plain computation
    checks = any(w in head for w in _VERIFY_WORDS) and VERIFY_CUES.search(head)
    if checks and not (DOUBT_CUES.search(head) and not _verify_dominates(head)):
        return "verify"
    bare = _strip_opener(head)
    if (
        DOUBT_CUES.search(head)
        or (halted and QUESTION_OR_CONTRAST.search(head))
        or SELF_QUESTION.search(head)
        or (HEDGE_LED.match(bare) and not EXPLORE_CUES.match(bare))
    ):
        return "backtrack"
    if EXPLORE_CUES.search(_strip_opener(head)) or any(
        m in ("alternatively", "another approach", "another way", "another idea", "what if", "or maybe")
        for m in markers
    ):
        return "explore"
    if CONCLUDE_CUES.search(head) or (tail and CONCLUDE_CUES.search(tail)):
        return "conclude"
    if RETRIEVE_CUES.search(head):
        return "retrieve"
    if COMPUTE_CUES.search(head):
        return "compute"
    if PLAN_CUES.search(_strip_opener(head)):
        return "plan"
    return "reason"


_OPENER = re.compile(r"^(?:(?:but|so|and|now|okay|ok|alright|well|hmm+|wait|oh)\b[,.!]?\s*)+")


def _strip_opener(text: str) -> str:
    return _OPENER.sub("", text, count=1)


_VERIFY_ACT = re.compile(
    r"\b(?:let me|let's|let us|i'll|i should|i need to|we should|to) (?:just |quickly |also |now |again )?"
    r"(?:double[- ]?check|re-?check|check|verify|confirm|make sure)"
)


def _verify_dominates(text: str) -> bool:
    """A step with both check and doubt words is a check when it announces the check itself."""
    return bool(_VERIFY_ACT.search(text))


# --- the graph -------------------------------------------------------------------------------


def similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of steps (embeddings are unit-normalised)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    return emb @ emb.T


def _best(sims: np.ndarray, candidates: Sequence[int], i: int, config: GraphConfig) -> tuple[int, float] | None:
    """The candidate most similar to step ``i`` after the recency penalty, and its raw cosine."""
    if not candidates:
        return None
    idx = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
    raw = sims[idx]
    scores = raw - config.recency_penalty * (i - 1 - idx) / config.window
    # Ties go to the later step: reverse, argmax (first max), map back.
    k = len(idx) - 1 - int(np.argmax(scores[::-1]))
    return int(idx[k]), float(raw[k])


def _most_similar_earlier(sims: np.ndarray, window: int, gap: int, block: int = 1024) -> np.ndarray:
    """For each step i, the most similar step j with i − window ≤ j ≤ i − gap (the later one on
    ties), or -1 when there is none: vectorised, in blocks of rows so memory stays bounded."""
    n = sims.shape[0]
    best = np.full(n, -1, dtype=np.int64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        i = np.arange(lo, hi)[:, None]
        j = np.arange(n)[None, :]
        allowed = (j <= i - gap) & (j >= i - window)
        masked = np.where(allowed, sims[lo:hi], -np.inf)
        found = n - 1 - np.argmax(masked[:, ::-1], axis=1)  # reversed: argmax takes the first maximum
        best[lo:hi] = np.where(allowed.any(axis=1), found, -1)
    return best


def _ancestors(parent: list[int], node: int) -> list[int]:
    """``node`` and its tree ancestors, from ``node`` up to the root."""
    path = [node]
    while parent[path[-1]] >= 0:
        path.append(parent[path[-1]])
    return path


def build_graph(
    steps: Sequence[Step],
    embeddings: np.ndarray,
    config: GraphConfig | None = None,
    *,
    trace_id: str | None = None,
) -> nx.DiGraph:
    """Build the search graph of one trace.

    Each node ``i`` carries ``kind``, ``parent`` (its search-tree parent, -1 for the root),
    ``state``, ``dead_end`` and ``start``/``end`` offsets; each edge a ``type`` and, where
    similarity chose it, a ``score``. ``graph.graph`` holds ``trace_id``, the ``config`` and the
    ``state_graph`` (an undirected ``nx.Graph`` over states, weighted by embedding distance).
    The steps' ``kind``, ``parent`` and ``dead_end`` fields are set as a side effect.
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
    sims = similarity_matrix(emb)
    kinds = [step_kind(s) for s in steps]
    for step, kind in zip(steps, kinds, strict=True):
        step.kind = kind

    parent = [-1] * n
    tree_type: list[str] = ["root"] * n
    edges: dict[tuple[int, int], Edge] = {}
    abandoned: set[int] = set()

    def add(src: int, dst: int, etype: EdgeType, score: float | None = None) -> None:
        if (src, dst) not in edges:
            rounded = None if score is None else round(score, 4)
            edges[(src, dst)] = Edge.model_construct(src=src, dst=dst, type=etype, score=rounded)

    restates = _most_similar_earlier(sims, config.window, gap=2)
    for i in range(1, n):
        lo = max(0, i - config.window)
        kind = kinds[i]
        row = sims[i]
        if kind == "backtrack" and i >= 2:
            found = _best(row, range(lo, i - 1), i, config)
            if found and found[1] >= config.backtrack_min_sim:
                target, score = found
            else:
                target, score = max(parent[i - 1], 0), None
            # The line from the step before down to (not including) the common ancestor is left.
            kept = set(_ancestors(parent, target))
            for node in _ancestors(parent, i - 1):
                if node in kept:
                    break
                abandoned.add(node)
            parent[i], tree_type[i] = target, "backtrack"
            add(i, target, "backtrack", score if score is not None else float(row[target]))
        elif kind == "explore" and i >= 2:
            line = _ancestors(parent, i - 1)
            candidates = [a for a in line[1:] if a >= lo]
            found = _best(row, candidates, i, config)
            if found and found[1] >= config.branch_min_sim:
                point, score = found
            else:
                start = i - 1  # where the current line began: walk up while edges are `next`
                while parent[start] >= 0 and tree_type[start] == "next":
                    start = parent[start]
                point = parent[start] if parent[start] >= 0 else start
                score = float(row[point])
            parent[i], tree_type[i] = point, "branch"
            add(point, i, "branch", score)
        else:
            parent[i], tree_type[i] = i - 1, "next"
            add(i - 1, i, "next")
        if kind == "verify":
            found = _best(row, range(lo, i), i, config)
            if found and found[1] >= config.verify_min_sim:
                target, score = found
            else:
                target = next((j for j in range(i - 1, lo - 1, -1) if kinds[j] in ("compute", "conclude")), i - 1)
                score = float(row[target])
            add(i, target, "verify", score)
        j = int(restates[i])
        if j >= 0 and row[j] >= config.revisit_min_sim:
            add(i, j, "revisit", float(row[j]))

    dead = _dead_ends(parent, abandoned, edges.values())

    states = _states(sims, config)
    for i, step in enumerate(steps):
        step.parent, step.dead_end = parent[i], i in dead
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


def _states(sims: np.ndarray, config: GraphConfig) -> list[int]:
    """Greedy, order-preserving clustering: a step joins the state of its most similar earlier
    step when that cosine reaches ``state_min_sim``, else opens a new state."""
    n = sims.shape[0]
    states = [0] * n
    next_state = 1
    for i in range(1, n):
        row = sims[i, :i]
        j = i - 1 - int(np.argmax(row[::-1]))
        if row[j] >= config.state_min_sim:
            states[i] = states[j]
        else:
            states[i] = next_state
            next_state += 1
    return states


def _state_graph(states: list[int], emb: np.ndarray) -> nx.Graph:
    """Undirected state graph: an edge for each consecutive pair of distinct states, weighted by
    the cosine distance between the states' mean embeddings; ``sequence`` keeps the visit order."""
    n_states = max(states) + 1 if states else 0
    centroids = np.zeros((n_states, emb.shape[1] if emb.ndim == 2 else 0), dtype=np.float32)
    np.add.at(centroids, np.asarray(states), emb)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms == 0, 1, norms)
    sg = nx.Graph(sequence=list(states))
    sg.add_nodes_from(range(n_states))
    for a, b in itertools.pairwise(states):
        if a != b and not sg.has_edge(a, b):
            sg.add_edge(a, b, weight=max(0.0, float(1.0 - centroids[a] @ centroids[b])))
    return sg


def graph_edges(graph: nx.DiGraph) -> list[Edge]:
    """The typed edges of a search graph, in the order they were decided."""
    return list(graph.graph.get("edges", []))

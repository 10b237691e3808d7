"""The data model every stage shares: traces, their steps, and what was skipped.

Everything here is a typed, versioned pydantic model so that other tools can read what cotgraph
writes. Character offsets always index into ``Trace.reasoning``:
``trace.reasoning[step.start:step.end] == step.text`` holds for every step, always.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

Channel = Literal["raw", "summary"]
"""``raw``: the model's own reasoning text. ``summary``: a provider's summary of it (OpenAI
Responses, Anthropic summarised thinking, Gemini thoughts); the two must not be compared as if
they were the same thing."""


class Source(BaseModel):
    """Where a trace came from: the file, the record number in it, and the part of the record."""

    model_config = ConfigDict(frozen=True)

    path: str
    record: int | None = None
    """0-based record number in the file (line of a JSONL file, element of a JSON array, row of a
    table, sample of an Inspect log); ``None`` when the file as a whole is one trace."""
    part: str | None = None
    """Which trace of the record, when one record holds several (a model name, a turn)."""


class TextPart(BaseModel):
    """A block of reasoning as the source delivered it (one thinking block, one Harmony
    ``analysis`` segment, one summary item). Blocks are joined with a blank line; the offsets say
    where each one lies in ``Trace.reasoning``."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    kind: str = "reasoning"


class Trace(BaseModel):
    """One chain of thought: the unit cotgraph analyses."""

    id: str
    model: str | None = None
    question: str | None = None
    reasoning: str
    output: str | None = None
    channel: Channel = "raw"
    source: Source
    parts: list[TextPart] = Field(default_factory=list)
    redacted_blocks: int = 0
    """Blocks the provider redacted or encrypted (Anthropic ``redacted_thinking``, OpenAI
    ``encrypted_content`` with no summary): their text is not in ``reasoning``, but they existed."""
    truncated: bool = False
    """The reasoning was cut off (an opening ``<think>`` with no closing tag)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    outcomes: dict[str, bool | float] = Field(default_factory=dict)
    """What the model then did, read from the record (``--outcome-field``, ``--outcome-expr``,
    an Inspect sample's scores): a yes/no stays a bool, anything else is a float. Linked to the
    beliefs by :mod:`cotgraph.outcomes`."""


class Step(BaseModel):
    """A contiguous span of a trace's reasoning: one node of the search graph."""

    trace_id: str
    idx: int
    start: int
    end: int
    text: str
    markers: list[str] = Field(default_factory=list)
    """The discourse markers that opened this step (``wait``, ``alternatively``, ...), lower-case,
    in the order they occur; empty when the step opened at a sentence or paragraph boundary."""
    kind: str | None = None
    """Filled in by the graph stage (plan, compute, verify, backtrack, ...)."""
    parent: int | None = None
    """Filled in by the graph stage: the step's parent in the search tree (-1 for the root)."""
    dead_end: bool | None = None
    """Filled in by the graph stage: the step lies on a line of thought the model abandoned."""
    state: int | None = None
    """Filled in by the graph stage: the step's state, its k-means cluster of step embeddings (per
    trace, or the corpus's with ``--states corpus``); the page's state-graph view links them."""


EdgeType = Literal["next", "branch", "backtrack", "verify", "revisit"]
"""``next`` and ``branch`` point forward, from parent to child; ``backtrack``, ``verify`` and
``revisit`` point back, from the later step to the earlier one it returns to, checks or restates."""

EDGE_TYPES: tuple[str, ...] = ("next", "branch", "backtrack", "verify", "revisit")


class Edge(BaseModel):
    """A typed edge of the search graph between two steps (by index)."""

    model_config = ConfigDict(frozen=True)

    src: int
    dst: int
    type: EdgeType
    score: float | None = None
    """Cosine similarity of the two steps' embeddings, where it chose the target."""


Stance = Literal["raised", "entertained", "endorsed", "rejected"]
"""How a step holds a belief: ``raised`` named without commitment; ``entertained`` hedged or
asked; ``endorsed`` asserted or acted on; ``rejected`` denied, or dropped for an alternative."""


class BeliefTag(BaseModel):
    """One belief a step carries, with how strongly and in what stance, and what produced it."""

    step: int
    belief: str
    score: float
    """In [0, 1]: lexical cue and embedding similarity to the belief's examples, combined."""
    stance: Stance
    start: int
    end: int
    """The evidence: character offsets into ``Trace.reasoning`` (the cue's sentence, or the step)."""
    via: str
    """What produced it: ``cue:<phrase>``, ``example:<nearest example>``, ``rejects:<belief>``."""


class Evidence(BaseModel):
    step: int
    start: int
    end: int
    quote: str


class Hypothesis(BaseModel):
    """One belief across a trace: where it was first entertained, the steps that carry it, how it
    stood at the end, and the quotes that show it."""

    belief: str
    label: str
    family: str
    stance: Stance
    """The stance of the last step that carries it."""
    first_step: int
    last_step: int
    steps: list[int]
    stances: list[Stance]
    evidence: list[Evidence]


class Analysis(BaseModel):
    """Everything cotgraph knows about one trace. ``to_json()`` gives the JSON contract
    (``docs/schema.md``); ``graph`` is the networkx search graph, for Python users."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    trace: Trace
    steps: list[Step]
    edges: list[Edge] = Field(default_factory=list)
    metrics: dict[str, float | int | bool | None] = Field(default_factory=dict)
    beliefs: list[BeliefTag] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    hypothesis_edges: list[dict[str, Any]] = Field(default_factory=list)
    """Moves between hypotheses: ``{"src", "dst", "count", "steps"}`` (belief ids; the steps where
    the leading hypothesis changed)."""
    taxonomy: str | None = None
    embedder: str | None = None
    graph: nx.DiGraph | None = Field(default=None, exclude=True, repr=False)
    embeddings: Any = Field(default=None, exclude=True, repr=False)
    """The steps' unit-normalised embeddings (a float32 array, one row per step), for the store."""

    @property
    def trace_id(self) -> str:
        return self.trace.id

    def to_json(self) -> dict[str, Any]:
        """The JSON contract: one object per trace, stable keys, extended only by adding keys."""
        trace = self.trace
        by_step: dict[int, list[dict[str, Any]]] = {}
        for tag in self.beliefs:
            by_step.setdefault(tag.step, []).append(
                {
                    "id": tag.belief,
                    "score": round(tag.score, 4),
                    "stance": tag.stance,
                    "start": tag.start,
                    "end": tag.end,
                    "via": tag.via,
                }
            )
        return {
            "schema_version": SCHEMA_VERSION,
            "trace_id": trace.id,
            "model": trace.model,
            "channel": trace.channel,
            "question": trace.question,
            "source": trace.source.model_dump(),
            "reasoning": trace.reasoning,
            "output": trace.output,
            "metadata": trace.metadata,
            "outcomes": trace.outcomes,
            "embedder": self.embedder,
            "taxonomy": self.taxonomy,
            "steps": [
                {
                    "idx": s.idx,
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "kind": s.kind,
                    "parent": s.parent,
                    "dead_end": s.dead_end,
                    "state": s.state,
                    "markers": s.markers,
                    "beliefs": by_step.get(s.idx, []),
                }
                for s in self.steps
            ],
            "edges": [e.model_dump(exclude_none=True) for e in self.edges],
            "hypotheses": [h.model_dump() for h in self.hypotheses],
            "hypothesis_edges": self.hypothesis_edges,
            "metrics": self.metrics,
        }


class Skipped(BaseModel):
    """An input record that was not analysed, and why. Every record is either a trace or this."""

    path: str
    record: int | None = None
    reason: str


def stable_id(*parts: object) -> str:
    """A short, stable hash of the given parts: the trace id of a record that has none of its own."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]

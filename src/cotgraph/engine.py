"""Run the stages over traces: segment → embed → graph → beliefs → metrics, one :class:`Analysis` each.

Traces are processed in chunks so that the embedder sees a few thousand step texts per call
(batched, identical texts once), which is where the time goes; everything else is small beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cotgraph.beliefs.hypotheses import belief_metrics, hypotheses, hypothesis_graph, hypothesis_moves
from cotgraph.beliefs.learned import BeliefModel, LearnedTagger, shipped_weights_path
from cotgraph.beliefs.tagger import BeliefTagger, TaggerConfig, load_classifier
from cotgraph.beliefs.taxonomy import SHIPPED, load_taxonomy
from cotgraph.embed import Embedder, get_embedder
from cotgraph.graph import GraphConfig, build_graph, corpus_centroids, graph_edges
from cotgraph.io.markup import split_any
from cotgraph.kinds import KindModel, resolve_kind_model
from cotgraph.metrics import compute_metrics
from cotgraph.model import Analysis, BeliefTag, Hypothesis, Source, Step, Trace, stable_id
from cotgraph.segment import SegmentConfig, segment_many


@dataclass(frozen=True)
class AnalyzeConfig:
    """How to analyse: segmentation, embedder and graph settings."""

    segment: SegmentConfig = field(default_factory=SegmentConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    embedder: str = "default"
    """``default`` (all-MiniLM-L6-v2, bundled), ``fast`` (its static distillation) or any
    sentence-transformers model name or path available offline."""
    device: str | None = None
    beliefs: str | None = "metagaming"
    """The belief taxonomy to tag with: a shipped name (``metagaming``, ``reasoning``) or a YAML
    file; ``None`` skips belief tagging."""
    tagger: TaggerConfig = field(default_factory=TaggerConfig)
    classifier: str | None = None
    """``module:function`` of a user classifier that confirms or vetoes candidate tags."""
    belief_weights: str | None = "auto"
    """The learned tagger's weights: ``auto`` (the packaged weights when the taxonomy and the
    embedder have some, else the cue + similarity rule), a ``.npz`` file made by
    ``cotgraph train-beliefs``, or ``None``/``"none"`` for the rule alone."""
    min_prob: float = 0.5
    """A learned belief is tagged when its probability reaches this."""
    kind_weights: str | None = "auto"
    """The step-kind classifier's weights: ``auto`` (the packaged weights of the bundled embedder
    in use, else the rule), a ``.npz`` file made by ``cotgraph train-kinds``, or ``None``/``"none"``
    for the marker-and-cue rule."""
    workers: int = 1
    """Processes to analyse in (:func:`cotgraph.workers.analyze_parallel`); 1 runs in this one,
    0 means every core. :func:`analyze_many` itself always runs here."""
    chunk_steps: int = 16384
    """Steps gathered from consecutive traces before one embedding call."""
    batch_size: int = 64


def trace_from_text(text: str, *, model: str | None = None) -> Trace:
    """A :class:`Trace` from a bare string; ``<think>``, Harmony or OpenThoughts markup is split."""
    split = split_any(text)
    reasoning = split.reasoning if split else text
    return Trace(
        id=stable_id("<text>", reasoning),
        model=model,
        reasoning=reasoning,
        output=split.output if split else None,
        source=Source(path="<text>"),
        parts=split.parts if split else [],
        truncated=bool(split and split.truncated),
    )


_TAGGERS: dict[tuple[object, ...], BeliefTagger] = {}


def make_tagger(config: AnalyzeConfig, embedder: Embedder) -> BeliefTagger | None:
    """The belief tagger the configuration asks for (``None`` when beliefs are off); cached, since
    building one embeds every example phrasing of the taxonomy."""
    if config.beliefs is None:
        return None
    key = (config.beliefs, id(embedder), config.tagger, config.classifier, config.belief_weights, config.min_prob)
    if key not in _TAGGERS:
        classifier = load_classifier(config.classifier) if config.classifier else None
        taxonomy = load_taxonomy(config.beliefs)
        weights = belief_weights_path(config, taxonomy.name, embedder.name)
        if weights is None:
            _TAGGERS[key] = BeliefTagger(taxonomy, embedder, config.tagger, classifier)
        else:
            _TAGGERS[key] = LearnedTagger(
                taxonomy,
                embedder,
                BeliefModel.load(weights),
                min_prob=config.min_prob,
                config=config.tagger,
                classifier=classifier,
                where=str(weights),
            )
    return _TAGGERS[key]


_KIND_MODELS: dict[tuple[object, ...], KindModel | None] = {}


def make_kind_model(config: AnalyzeConfig, embedder: Embedder) -> KindModel | None:
    """The step-kind classifier the configuration asks for (``None``: the rule); cached."""
    dim = int(getattr(embedder, "dim", 0))
    key = (config.kind_weights, embedder.name, dim)
    if key not in _KIND_MODELS:
        _KIND_MODELS[key] = resolve_kind_model(config.kind_weights, embedder.name, dim)
    return _KIND_MODELS[key]


def belief_weights_path(config: AnalyzeConfig, taxonomy: str, embedder_name: str) -> Path | None:
    """The weights file the configuration asks for, or ``None`` for the cue + similarity rule.
    ``auto`` picks the packaged weights only for a shipped taxonomy loaded by name (a YAML file
    of the user's own has none, and falls back to the rule)."""
    choice = config.belief_weights
    if choice is None or choice.lower() == "none":
        return None
    if choice.lower() == "auto":
        if config.beliefs not in SHIPPED:
            return None
        return shipped_weights_path(taxonomy, embedder_name)
    return Path(choice)


def analyze_one(
    trace: Trace,
    steps: list[Step],
    embeddings: np.ndarray,
    config: AnalyzeConfig,
    embedder: str,
    tagger: BeliefTagger | None = None,
    kind_model: KindModel | None = None,
    centroids: np.ndarray | None = None,
) -> Analysis:
    """Graph, beliefs and metrics of one segmented, embedded trace. Step kinds come from
    ``kind_model`` when given, else from the rule."""
    kinds = kind_model.kinds(steps, embeddings) if kind_model is not None else None
    graph = build_graph(steps, embeddings, config.graph, trace_id=trace.id, kinds=kinds, centroids=centroids)
    metrics = compute_metrics(graph)
    tags: list[BeliefTag] = []
    found: list[Hypothesis] = []
    moves: list[dict[str, object]] = []
    if tagger is not None:
        tags = tagger.tag(trace, steps, embeddings)
        for tag in tags:
            graph.nodes[tag.step].setdefault("beliefs", []).append(tag)
        found = hypotheses(trace, tags, tagger.taxonomy)
        moves = hypothesis_moves(tags)
        metrics.update(belief_metrics(steps, tags, tagger.taxonomy))
        graph.graph["hypotheses"] = hypothesis_graph(found, moves)
    return Analysis(
        trace=trace,
        steps=steps,
        edges=graph_edges(graph),
        metrics=metrics,
        beliefs=tags,
        hypotheses=found,
        hypothesis_edges=moves,
        taxonomy=tagger.taxonomy.name if tagger else None,
        embedder=embedder,
        graph=graph,
        embeddings=embeddings,
    )


def analyze_many(
    traces: Iterable[Trace],
    config: AnalyzeConfig | None = None,
    *,
    embedder: Embedder | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Analysis]:
    """Analyse traces in order. ``progress`` is called with the number of steps embedded so far.
    With ``GraphConfig(states="corpus")`` every trace is embedded before the first is analysed,
    so that the states are clusters of the whole corpus (its embeddings are held in memory)."""
    config = config or AnalyzeConfig()
    embedder = embedder or get_embedder(config.embedder, device=config.device)
    tagger = make_tagger(config, embedder)
    kind_model = make_kind_model(config, embedder)
    corpus = config.graph.states == "corpus"
    done = 0
    chunk: list[tuple[Trace, list[Step]]] = []
    pending = 0

    def flush() -> Iterator[Analysis]:
        nonlocal done
        texts = [s.text for _, steps in chunk for s in steps]
        base = done

        def report(k: int) -> None:
            if progress is not None:
                progress(base + k)

        vectors = embedder.encode(texts, batch_size=config.batch_size, progress=report)
        done += len(texts)
        if progress is not None:
            progress(done)
        centroids = corpus_centroids(vectors) if corpus and len(vectors) else None
        offset = 0
        for trace, steps in chunk:
            yield analyze_one(
                trace,
                steps,
                vectors[offset : offset + len(steps)],
                config,
                embedder.name,
                tagger,
                kind_model,
                centroids,
            )
            offset += len(steps)
        chunk.clear()

    for trace, steps in segment_many(traces, config.segment):
        chunk.append((trace, steps))
        pending += len(steps)
        if pending >= config.chunk_steps and not corpus:
            yield from flush()
            pending = 0
    if chunk:
        yield from flush()


def analyze(
    source: str | Trace,
    config: AnalyzeConfig | None = None,
    *,
    embedder: Embedder | str | None = None,
) -> Analysis:
    """Analyse one trace (or a bare reasoning string): steps with kinds, typed edges, metrics."""
    trace = trace_from_text(source) if isinstance(source, str) else source
    config = config or AnalyzeConfig()
    if isinstance(embedder, str):
        embedder = get_embedder(embedder, device=config.device)
    return next(analyze_many([trace], config, embedder=embedder))

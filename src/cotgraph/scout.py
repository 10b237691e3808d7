"""cotgraph's belief tagger as an Inspect Scout scanner (``pip install 'cotgraph[scout]'``).

Scout users scan their Inspect logs (or any Scout transcript database) with LLM judges and
pattern scanners; this adds the cotgraph tagger as one more, local and deterministic::

    from inspect_scout import scan, transcripts_from
    from cotgraph.scout import cotgraph_beliefs

    scan([cotgraph_beliefs()], transcripts_from("logs/"))

Each assistant turn with reasoning is analysed as a cotgraph trace. The scanner returns one
:class:`inspect_scout.Result` per belief the transcript explored (a *resultset*): ``label`` is the
belief id, ``value`` its highest step probability, ``explanation`` the quoted evidence with the
turn and step, ``references`` the messages that carry it (Scout's ``[M3]`` citations), and
``metadata`` the belief's label, family, stance, first step and every step. Because results are
labelled by belief, Scout's validation sets work with it as with any resultset scanner: a case
``{"id": TRANSCRIPT_ID, "labels": {"eval_awareness": true, "grader": false}}``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from inspect_scout import Reference, Result, Scanner, Transcript, scanner

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions
from cotgraph.io.records import RecordSkipped, TraceBuilder, Where, message_list_traces
from cotgraph.model import Analysis, Trace

MAX_QUOTE = 300


@functools.lru_cache(maxsize=4)
def _embedder(name: str) -> Any:
    from cotgraph.embed import get_embedder

    return get_embedder(name)


def transcript_traces(transcript: Transcript) -> tuple[list[Trace], dict[str, tuple[int, str | None]]]:
    """The cotgraph traces of a Scout transcript (one per assistant turn with reasoning), and for
    each trace id the 1-based position and id of its message in ``transcript.messages``."""
    messages = [m.model_dump(mode="json", exclude_none=True) for m in transcript.messages]
    where = Where(
        path=Path(transcript.source_uri or transcript.transcript_id), record=None, key=transcript.transcript_id
    )
    builder = TraceBuilder(where, LoadOptions(), {"id": transcript.transcript_id})
    try:
        traces = message_list_traces(builder, messages, used={"id"}, default_model=transcript.model)
    except RecordSkipped:
        return [], {}
    assistant = [(k, m) for k, m in enumerate(transcript.messages, start=1) if m.role == "assistant"]
    where_in: dict[str, tuple[int, str | None]] = {}
    for trace in traces:
        turn = int((trace.source.part or "turn1").removeprefix("turn"))
        position, message = assistant[turn - 1]
        where_in[trace.id] = (position, message.id)
    return traces, where_in


def belief_results(analyses: list[Analysis], where_in: dict[str, tuple[int, str | None]]) -> list[Result]:
    """One result per belief explored anywhere in the transcript (its turns' analyses)."""
    found: dict[str, dict[str, Any]] = {}
    for analysis in analyses:
        position, message_id = where_in[analysis.trace.id]
        cite = f"[M{position}]"
        best = {}
        for tag in analysis.beliefs:
            best[tag.belief] = max(best.get(tag.belief, 0.0), tag.score)
        for h in analysis.hypotheses:
            entry = found.setdefault(
                h.belief,
                {"value": 0.0, "lines": [], "refs": {}, "label": h.label, "family": h.family, "turns": []},
            )
            entry["value"] = max(entry["value"], round(best.get(h.belief, 0.0), 4))
            entry["stance"] = h.stance
            entry["turns"].append(
                {"message": position, "trace_id": analysis.trace.id, "first_step": h.first_step, "steps": h.steps}
            )
            for ev in h.evidence[:2]:
                quote = " ".join(ev.quote.split())
                if len(quote) > MAX_QUOTE:
                    quote = quote[: MAX_QUOTE - 1] + "…"
                entry["lines"].append(f'{cite} step {ev.step} ({h.stance}): "{quote}"')
            if message_id is not None:
                entry["refs"][cite] = Reference(type="message", cite=cite, id=message_id)
    return [
        Result(
            value=entry["value"],
            label=belief,
            explanation="\n".join(entry["lines"]) or None,
            references=list(entry["refs"].values()),
            metadata={
                "belief": belief,
                "label": entry["label"],
                "family": entry["family"],
                "stance": entry["stance"],
                "probability": entry["value"],
                "turns": entry["turns"],
            },
        )
        for belief, entry in found.items()
    ]


@scanner(messages="all", name="cotgraph_beliefs")
def cotgraph_beliefs(
    taxonomy: str = "metagaming",
    embedder: str = "default",
    min_prob: float = 0.5,
) -> Scanner[Transcript]:
    """The beliefs the transcript's reasoning explored, one labelled result per belief.

    Args:
        taxonomy: ``metagaming``, ``reasoning`` or the path of a YAML taxonomy.
        embedder: ``default`` (the bundled all-MiniLM-L6-v2), ``fast`` or a local model.
        min_prob: the learned tagger's cut (``cotgraph analyze --min-prob``).
    """
    config = AnalyzeConfig(embedder=embedder, beliefs=taxonomy, min_prob=min_prob)

    async def scan(transcript: Transcript) -> list[Result]:
        traces, where_in = transcript_traces(transcript)
        if not traces:
            return []
        analyses = list(analyze_many(traces, config, embedder=_embedder(embedder)))
        return belief_results(analyses, where_in)

    return scan

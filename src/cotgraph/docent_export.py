"""Analyses as Docent agent runs (``pip install 'cotgraph[docent]'``), for teams that review in Docent.

Each trace becomes one :class:`docent.data_models.AgentRun` with one transcript: the question as a
user message, the reasoning (a ``ContentReasoning`` block) and the answer as the assistant message.
cotgraph's analysis travels as metadata: on the run, ``model``, ``scores`` (the trace's outcomes)
and ``cotgraph`` (trace id, source, key metrics, the hypotheses with their first step, stance and
evidence quotes, and the beliefs explored); on the transcript, ``cotgraph_steps`` (each step's
offsets into the reasoning, kind, dead end and belief tags). Docent's search and rubrics then see
cotgraph's tags beside the text.

Writing is local (JSON Lines of ``AgentRun.model_dump(mode="json")``); uploading is the Docent
SDK's, with the user's own key::

    from docent import Docent
    from docent.data_models import AgentRun
    runs = [AgentRun.model_validate_json(line) for line in open("runs.jsonl")]
    Docent(api_key=...).add_agent_runs(collection_id, runs)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from docent.data_models import AgentRun, Transcript
from docent.data_models.chat import AssistantMessage, ContentReasoning, ContentText, UserMessage

from cotgraph.model import SCHEMA_VERSION, Analysis

MAX_QUOTE = 400


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def _metric(value: float | int | bool | None) -> float | int | bool | None:
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def agent_run(analysis: Analysis) -> AgentRun:
    """One analysis as a Docent agent run carrying its steps, beliefs and metrics as metadata."""
    trace = analysis.trace
    tags: dict[int, list[dict[str, Any]]] = {}
    for tag in analysis.beliefs:
        tags.setdefault(tag.step, []).append({"belief": tag.belief, "score": round(tag.score, 4), "stance": tag.stance})
    content: list[Any] = [ContentReasoning(reasoning=trace.reasoning)]
    if trace.output:
        content.append(ContentText(text=trace.output))
    messages: list[Any] = []
    if trace.question:
        messages.append(UserMessage(content=trace.question))
    messages.append(AssistantMessage(content=content, model=trace.model))
    steps = [
        {
            "idx": s.idx,
            "start": s.start,
            "end": s.end,
            "kind": s.kind,
            "dead_end": s.dead_end,
            "beliefs": tags.get(s.idx, []),
        }
        for s in analysis.steps
    ]
    transcript = Transcript(name=trace.id, messages=messages, metadata={"cotgraph_steps": steps})
    hypotheses = [
        {
            "belief": h.belief,
            "label": h.label,
            "family": h.family,
            "stance": h.stance,
            "first_step": h.first_step,
            "steps": h.steps,
            "evidence": [{"step": e.step, "quote": _quote(e.quote)} for e in h.evidence],
        }
        for h in analysis.hypotheses
    ]
    metadata = {
        "model": trace.model,
        "scores": dict(trace.outcomes),
        "cotgraph": {
            "schema_version": SCHEMA_VERSION,
            "trace_id": trace.id,
            "source": trace.source.model_dump(),
            "channel": trace.channel,
            "taxonomy": analysis.taxonomy,
            "embedder": analysis.embedder,
            "beliefs_explored": [h.belief for h in analysis.hypotheses],
            "hypotheses": hypotheses,
            "metrics": {k: _metric(v) for k, v in analysis.metrics.items()},
        },
    }
    return AgentRun(name=trace.id, description=trace.question, transcripts=[transcript], metadata=metadata)


def write_agent_runs(analyses: Iterable[Analysis], path: str | Path) -> int:
    """Write each analysis as one agent run per line (JSON Lines); returns how many."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for analysis in analyses:
            fh.write(json.dumps(agent_run(analysis).model_dump(mode="json"), ensure_ascii=False) + "\n")
            n += 1
    return n

"""Turn one input record (a JSON object, a table row) into traces, or say why it has none.

Detection goes from the most structured shape to the least: an explicit ``--text-field``; one
record holding several models' traces; provider responses and chat messages; known data-set
shapes; then the usual field names. The first shape that yields reasoning wins, and a record with
none is reported with the fields it did have, so the user can name the right one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotgraph.io.markup import (
    Split,
    has_thoughtology_tags,
    join_parts,
    split_any,
    split_think,
    strip_thoughtology_tags,
)
from cotgraph.io.messages import MessageReasoning, is_assistant, message_reasoning
from cotgraph.io.options import LoadOptions
from cotgraph.io.outcome_fields import OutcomeSpec, OutcomeValue, parse_outcome_specs
from cotgraph.model import Channel, Source, TextPart, Trace, stable_id

REASONING_KEYS = (
    "reasoning",
    "reasoning_content",
    "reasoning_text",
    "thinking",
    "cot",
    "chain_of_thought",
    "thoughts",
    "thought",
)
"""Fields that hold reasoning text and nothing else."""

MARKUP_KEYS = (
    "full_text",
    "text",
    "response",
    "completion",
    "generation",
    "generated_text",
    "output",
    "model_output",
    "answer",
    "content",
    "solution",
)
"""Fields that may hold reasoning inside ``<think>``, Harmony or OpenThoughts markup."""

OUTPUT_KEYS = (
    "output",
    "final_output",
    "final_answer",
    "post_reasoning",
    "response",
    "completion",
    "attempt",
    "answer",
)
QUESTION_KEYS = ("question_with_cue", "question", "problem", "prompt", "model_input", "input", "query", "instruction")
MODEL_KEYS = ("model", "model_name", "model_id", "generator", "modelVersion")
ID_KEYS = ("id", "trace_id", "sample_id", "uuid", "_id")
WRAPPER_KEYS = ("data", "records", "rows", "traces", "examples", "items", "results")
METADATA_MAX_CHARS = 300

_TRAJECTORY = re.compile(r"^(?P<model>.+)_thinking_trajectory$")


class RecordSkipped(Exception):
    """A record that holds no analysable reasoning; the message says why."""


@dataclass
class Where:
    """The record being read: used for ids, sources and error messages."""

    path: Path
    record: int | None
    path_fields: dict[str, str] = field(default_factory=dict)
    """Named groups the file's path matched (a known layout or ``--model-from-path``)."""
    key: str | None = None
    """The file's path relative to the input folder (its name when named directly): the start of
    its traces' ids. ``None``: the file's name."""


@dataclass(frozen=True)
class Origin:
    """What every record of one file shares: the named groups of its path and its id key."""

    fields: dict[str, str]
    key: str


def get_path(record: Any, dotted: str) -> Any:
    """The value at a dotted path (``choices.0.message.reasoning_content``); ``KeyError`` if none."""
    value = record
    for key in dotted.split("."):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value):
            value = value[int(key)]
        else:
            raise KeyError(dotted)
    return value


def _first_str(record: Mapping[str, Any], keys: tuple[str, ...], exclude: set[str]) -> tuple[str, str] | None:
    for key in keys:
        value = record.get(key)
        if key not in exclude and isinstance(value, str) and value.strip():
            return key, value
    return None


def _scalar_metadata(record: Mapping[str, Any], used: set[str]) -> dict[str, Any]:
    """Short scalar fields of the record (labels, answers, ids) kept for queries and grouping."""
    meta: dict[str, Any] = {}
    for key, value in record.items():
        if key in used or not isinstance(key, str):
            continue
        short_text = isinstance(value, str) and len(value) <= METADATA_MAX_CHARS
        if isinstance(value, bool | int | float) or value is None or short_text:
            meta[key] = value
    return meta


def _text_content(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            b.get("text")
            for b in content
            if isinstance(b, dict) and b.get("type") in ("text", "input_text", "output_text")
        ]
        joined = "\n\n".join(t for t in texts if isinstance(t, str))
        return joined or None
    return None


@functools.lru_cache(maxsize=64)
def _outcome_specs(fields: tuple[str, ...], exprs: tuple[str, ...]) -> tuple[OutcomeSpec, ...]:
    return tuple(parse_outcome_specs(fields, exprs))


class TraceBuilder:
    """Builds traces for one record, applying the options that hold for all of them."""

    def __init__(
        self,
        where: Where,
        options: LoadOptions,
        record: Mapping[str, Any] | None,
        *,
        outcome_record: Mapping[str, Any] | None = None,
        outcomes: Mapping[str, OutcomeValue] | None = None,
    ) -> None:
        """``outcome_record``: where ``--outcome-field`` paths are looked up, when that is not
        ``record`` (an Inspect sample); ``outcomes``: outcomes the source itself gives (its scores)."""
        self.where = where
        self.options = options
        self.record = record if record is not None else {}
        self.outcome_record = outcome_record if outcome_record is not None else self.record
        self.given_outcomes = dict(outcomes or {})

    def outcomes(self, metadata: Mapping[str, Any]) -> dict[str, OutcomeValue]:
        """The record's outcomes: the source's own, then the ``--outcome-field`` /
        ``--outcome-expr`` ones, looked up in the record, then in the trace's metadata (a
        transcript's header codes, the named groups of its path)."""
        found = dict(self.given_outcomes)
        specs = _outcome_specs(self.options.outcome_fields, self.options.outcome_exprs)
        if specs:
            view = {**metadata, **self.outcome_record}
            for spec in specs:
                value = spec.read(view, get_path)
                if value is not None:
                    found[spec.name] = value
        return found

    def _field(self, dotted: str | None) -> Any:
        if dotted is None:
            return None
        try:
            return get_path(self.record, dotted)
        except KeyError:
            return None

    def own_id(self) -> str | None:
        if self.options.id_field:
            value = self._field(self.options.id_field)
            if value is None:
                raise RecordSkipped(f"no id field '{self.options.id_field}'")
            return str(value)
        for key in ID_KEYS:
            value = self.record.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return str(value)
        return None

    def model(self) -> str | None:
        if self.options.model_field:
            value = self._field(self.options.model_field)
            if isinstance(value, str) and value:
                return value
        for key in MODEL_KEYS:
            value = self.record.get(key)
            if isinstance(value, str) and value:
                return value
        return self.where.path_fields.get("model") or self.options.model

    def question(self) -> str | None:
        if self.options.question_field:
            value = self._field(self.options.question_field)
            return value if isinstance(value, str) else None
        found = _first_str(self.record, QUESTION_KEYS, set())
        return found[1] if found else None

    def build(
        self,
        reasoning: str,
        *,
        part: str | None = None,
        parts: list[TextPart] | None = None,
        output: str | None = None,
        question: str | None = None,
        model: str | None = None,
        channel: Channel = "raw",
        redacted: int = 0,
        truncated: bool = False,
        used: set[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        own_id: str | None = None,
    ) -> Trace:
        """One trace of this record. ``own_id`` names it where the record itself has no id field
        (a transcript file's run id)."""
        metadata = {**self.where.path_fields}
        metadata.pop("model", None)
        if output is not None:
            output = output.strip() or None
        skip = (used or set()) | set(QUESTION_KEYS) | set(MODEL_KEYS) | set(ID_KEYS)
        metadata.update(_scalar_metadata(self.record, skip))
        if extra:
            metadata.update(extra)
        if not self.options.keep_annotations and has_thoughtology_tags(reasoning):
            reasoning, labels = strip_thoughtology_tags(reasoning)
            metadata["annotations"] = labels
            parts = [TextPart(start=0, end=len(reasoning), kind=parts[0].kind)] if parts and len(parts) == 1 else []
            if output:  # the authors' tags also reach past </think> (``<FINAL>`` around the answer)
                stripped, output_labels = strip_thoughtology_tags(output)
                if output_labels or stripped != output:
                    lead = len(stripped) - len(stripped.lstrip())
                    output = stripped.strip() or None
                    size = len(output or "")
                    metadata["output_annotations"] = [
                        {
                            **label,
                            "start": min(max(label["start"] - lead, 0), size),  # type: ignore[operator]
                            "end": min(max(label["end"] - lead, 0), size),
                        }  # type: ignore[operator]
                        for label in output_labels
                    ]
        own = self.own_id() if own_id is None or self.options.id_field else own_id
        file_key = self.where.key or self.where.path.name
        if self.options.id_field and own is not None:
            trace_id = own  # named by the user: kept as given (iter_load checks it is unique)
        elif own_id is not None and own == own_id and own_id == self.where.path.stem:
            trace_id = own_id  # a transcript named after its run
        elif own is not None:
            trace_id = f"{file_key}:{own}"
        else:
            trace_id = stable_id(file_key, self.where.record, part, reasoning)
        if part is not None:
            trace_id = f"{trace_id}/{part}"
        return Trace(
            id=trace_id,
            model=model if model is not None else self.model(),
            question=question if question is not None else self.question(),
            reasoning=reasoning,
            output=output,
            channel=channel,
            source=Source(path=str(self.where.path), record=self.where.record, part=part),
            parts=parts or [],
            redacted_blocks=redacted,
            truncated=truncated,
            metadata=metadata,
            outcomes=self.outcomes(metadata),
        )

    def from_split(self, split: Split, *, used: set[str], output: str | None = None, **kw: Any) -> Trace:
        extra = dict(split.extra)
        if split.prefilled:
            extra["think_prefilled"] = True
        return self.build(
            split.reasoning,
            parts=split.parts,
            output=split.output if split.output is not None else output,
            question=kw.pop("question", None) or (None if self.question() else split.prefix),
            truncated=split.truncated,
            used=used,
            extra=extra,
            **kw,
        )

    def from_message(self, found: MessageReasoning, *, part: str | None, **kw: Any) -> Trace | None:
        if not found.has_text:
            return None
        reasoning, parts = join_parts([(k, t) for k, t in found.blocks if t.strip()])
        return self.build(
            reasoning,
            part=part,
            parts=parts,
            output=found.output,
            channel=found.channel,
            redacted=found.redacted,
            truncated=found.truncated,
            **kw,
        )

    def from_steps(self, steps: list[str], labels: list[str] | None, *, used: set[str], **kw: Any) -> Trace:
        """A pre-segmented trace (a list of thoughts): joined with blank lines, the given steps
        kept as ``metadata["given_steps"]`` so they can serve as silver segmentation."""
        reasoning, parts = join_parts([("step", s) for s in steps])
        given = [
            {"start": p.start, "end": p.end, **({"label": labels[i]} if labels and i < len(labels) else {})}
            for i, p in enumerate(parts)
        ]
        extra = {**kw.pop("extra", {}), "given_steps": given}
        return self.build(reasoning, used=used, extra=extra, **kw)


def _no_reasoning(record: Mapping[str, Any]) -> RecordSkipped:
    usage = record.get("usage")
    if isinstance(usage, Mapping):
        details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
        if isinstance(details, Mapping) and details.get("reasoning_tokens"):
            return RecordSkipped(
                f"the provider returned only a reasoning token count "
                f"({details['reasoning_tokens']} tokens), not the reasoning text"
            )
    keys = ", ".join(str(k) for k in list(record)[:12]) + (", …" if len(record) > 12 else "")
    return RecordSkipped(f"no reasoning text found (fields: {keys}); name it with --text-field")


def _chat_traces(b: TraceBuilder, record: Mapping[str, Any]) -> list[Trace] | None:
    """Provider responses and chat transcripts; ``None`` when the record has none of their shapes."""
    choices = record.get("choices")
    if isinstance(choices, list) and choices and all(isinstance(c, Mapping) for c in choices):
        traces = []
        redacted = 0
        for i, choice in enumerate(choices):
            message = choice.get("message") or choice.get("delta") or {}
            if isinstance(message, Mapping):
                found = message_reasoning(dict(message))
                trace = b.from_message(
                    found,
                    part=f"choice{i}" if len(choices) > 1 else None,
                    used={"choices"},
                )
                if trace:
                    traces.append(trace)
                redacted += found.redacted
        if not traces and redacted:
            raise RecordSkipped(f"reasoning is encrypted or redacted only ({redacted} blocks, no text to analyse)")
        return traces
    output = record.get("output")
    if isinstance(output, list) and any(isinstance(o, Mapping) and o.get("type") == "reasoning" for o in output):
        found = MessageReasoning()
        texts: list[str] = []
        for item in output:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "reasoning":  # OpenAI Responses: only summaries are exposed
                summary = item.get("summary")
                summary_texts = [
                    s.get("text") for s in summary or [] if isinstance(s, Mapping) and isinstance(s.get("text"), str)
                ]
                content_texts = [
                    c.get("text")
                    for c in item.get("content") or []
                    if isinstance(c, Mapping) and c.get("type") == "reasoning_text"
                ]
                if content_texts:
                    found.blocks.extend(("reasoning", t) for t in content_texts)
                elif summary_texts:
                    found.blocks.extend(("summary", t) for t in summary_texts)
                    found.channel = "summary"
                else:
                    found.redacted += 1
            elif item.get("type") == "message":
                text = _text_content(item.get("content"))
                if text:
                    texts.append(text)
        found.output = "\n\n".join(texts) or None
        trace = b.from_message(found, part=None, used={"output"})
        if trace is None and found.redacted:
            raise RecordSkipped(f"reasoning is encrypted only ({found.redacted} reasoning items with no summary)")
        return [trace] if trace else []
    candidates = record.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        traces = []
        for i, cand in enumerate(candidates):
            content = cand.get("content")
            if isinstance(content, Mapping):
                trace = b.from_message(
                    message_reasoning(dict(content)),
                    part=f"candidate{i}" if len(candidates) > 1 else None,
                    used={"candidates"},
                )
                if trace:
                    traces.append(trace)
        return traces
    messages = record.get("messages")
    if isinstance(messages, list) and any(isinstance(m, Mapping) for m in messages):
        return message_list_traces(b, messages, used={"messages"})
    conversations = record.get("conversations")  # ShareGPT rows (OpenThoughts): {from, value}
    if isinstance(conversations, list) and any(
        isinstance(m, Mapping) and "from" in m and "value" in m for m in conversations
    ):
        roles = {"human": "user", "gpt": "assistant"}
        turns = [
            {"role": roles.get(m.get("from"), m.get("from")), "content": m.get("value")}
            for m in conversations
            if isinstance(m, Mapping)
        ]
        return message_list_traces(b, turns, used={"conversations"})
    message = record.get("message")
    if isinstance(message, Mapping) and ("content" in message or "reasoning_content" in message):
        trace = b.from_message(message_reasoning(dict(message)), part=None, used={"message"})
        return [trace] if trace else []
    content = record.get("content")
    if isinstance(content, list) and any(
        isinstance(c, Mapping) and c.get("type") in ("thinking", "redacted_thinking", "reasoning") for c in content
    ):
        found = message_reasoning(dict(record))
        trace = b.from_message(found, part=None, used={"content"})
        if trace is None and found.redacted:
            raise RecordSkipped(f"reasoning is redacted only ({found.redacted} redacted blocks, no text)")
        return [trace] if trace else []
    return None


def message_list_traces(
    b: TraceBuilder,
    messages: list[Any],
    *,
    used: set[str],
    default_model: str | None = None,
    part_prefix: str = "turn",
) -> list[Trace]:
    """One trace per assistant message that has reasoning; its question is the last user message
    before it, and its part the assistant turn number (1-based)."""
    traces: list[Trace] = []
    last_user: str | None = None
    turn = 0
    redacted_only = 0
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "user":
            last_user = _text_content(message.get("content")) or last_user
            continue
        if not is_assistant(message):
            continue
        turn += 1
        found = message_reasoning(dict(message))
        model = message.get("model") if isinstance(message.get("model"), str) else None
        trace = b.from_message(
            found,
            part=f"{part_prefix}{turn}" if part_prefix else str(turn),
            used=used,
            question=last_user,
            model=model or b.model() or default_model,
        )
        if trace:
            traces.append(trace)
        elif found.redacted:
            redacted_only += 1
    if not traces and redacted_only:
        raise RecordSkipped(
            f"reasoning is redacted in all {redacted_only} assistant turns that have any (no text to analyse)"
        )
    return traces


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def extract(record: Any, where: Where, options: LoadOptions) -> list[Trace]:
    """All traces in one record. Raises :class:`RecordSkipped` when there are none."""
    if isinstance(record, str):
        b = TraceBuilder(where, options, None)
        if not record.strip():
            raise RecordSkipped("empty string")
        split = split_any(record)
        return [b.from_split(split, used=set()) if split else b.build(record)]
    if isinstance(record, list) and (steps := _string_list(record)):
        return [TraceBuilder(where, options, None).from_steps(steps, None, used=set())]
    if not isinstance(record, Mapping):
        raise RecordSkipped(f"record is a JSON {type(record).__name__}, not an object")
    b = TraceBuilder(where, options, record)

    if options.text_field:
        try:
            value = get_path(record, options.text_field)
        except KeyError:
            raise RecordSkipped(f"no field '{options.text_field}'") from None
        top = options.text_field.split(".")[0]
        if isinstance(value, str):
            if not value.strip():
                raise RecordSkipped(f"field '{options.text_field}' is empty")
            split = split_any(value)
            if split is not None:
                return [b.from_split(split, used={top})]
            out = _first_str(record, OUTPUT_KEYS, {top})
            return [b.build(value, output=out[1] if out else None, used={top} | ({out[0]} if out else set()))]
        if steps := _string_list(value):
            return [b.from_steps(steps, None, used={top})]
        if isinstance(value, Mapping):
            trace = b.from_message(message_reasoning(dict(value)), part=None, used={top})
            if trace:
                return [trace]
        raise RecordSkipped(f"field '{options.text_field}' holds no text (a {type(value).__name__})")

    # One record, several models' traces (s1K-style: gemini_thinking_trajectory + deepseek_…).
    trajectories = [
        (m.group("model"), key, value)
        for key, value in record.items()
        if isinstance(key, str) and (m := _TRAJECTORY.match(key)) and isinstance(value, str) and value.strip()
    ]
    if trajectories:
        used = {key for _, key, _ in trajectories}
        used |= {f"{name}_attempt" for name, _, _ in trajectories}
        traces = []
        for name, _key, text in trajectories:
            attempt = record.get(f"{name}_attempt")
            split = split_think(text)
            traces.append(
                b.from_split(split, used=used, output=attempt, part=name, model=name)
                if split
                else b.build(
                    text,
                    part=name,
                    model=name,
                    output=attempt if isinstance(attempt, str) else None,
                    used=used,
                )
            )
        return traces

    # Landscape-of-Thoughts: sampled CoTs as lists of thoughts.
    trials = record.get("trial_thoughts")
    if isinstance(trials, list) and trials:
        traces = []
        for i, trial in enumerate(trials):
            if isinstance(trial, list) and trial and (steps := _string_list(trial[0])):
                extra = {"trial": i}
                if len(trial) > 1 and isinstance(trial[1], str):
                    extra["trial_answer"] = trial[1]
                if len(trial) > 2 and isinstance(trial[2], bool):
                    extra["trial_correct"] = trial[2]
                traces.append(b.from_steps(steps, None, used={"trial_thoughts"}, part=f"trial{i}", extra=extra))
        if traces:
            return traces

    chat = _chat_traces(b, record)
    if chat is not None:
        if chat:
            return chat
        raise _no_reasoning(record)

    # Thought Anchors base_solution.json: `solution` is the CoT after a prefilled <think>.
    if isinstance(record.get("solution"), str) and ("full_cot" in record or where.path.name == "base_solution.json"):
        text = record["solution"]
        split = split_think(text)
        if split is None:
            return [b.build(text, truncated=True, used={"solution", "full_cot"})]
        return [b.from_split(split, used={"solution", "full_cot"})]

    named = _first_str(record, REASONING_KEYS, set())
    if named:
        key, text = named
        split = split_think(text) if "</think>" in text or "<think>" in text else None
        out = _first_str(record, OUTPUT_KEYS, {key})
        used = {key} | ({out[0]} if out else set())
        if split:
            return [b.from_split(split, used=used, output=out[1] if out else None)]
        return [b.build(text, output=out[1] if out else None, used=used)]
    for key in REASONING_KEYS:
        if steps := _string_list(record.get(key)):
            return [b.from_steps(steps, None, used={key})]

    for key in MARKUP_KEYS:
        value = record.get(key)
        if isinstance(value, str) and (split := split_any(value)):
            return [b.from_split(split, used={key})]

    for key in ("steps", "thoughts"):
        if steps := _string_list(record.get(key)):
            return [b.from_steps(steps, None, used={key})]
    raise _no_reasoning(record)

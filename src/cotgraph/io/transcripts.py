"""Markdown transcripts of coding-agent runs: one file per run, reasoning in fenced blocks.

Two layouts are read, both plain Markdown written by evaluation harnesses:

- **per-turn run logs** (the Mats-Research-Harness ``study/labels/cot/*.md`` files)::

      # <run id>

      body <harness> · state A · level 2 · split oneoff · action special_case · ...

      ## turn 3

      **reasoning**

      ```
      ...the model's chain of thought...
      ```

      **assistant text**  /  **tool calls**

- **per-request transcripts** (fieldtest-evals ``runs/<model>/<variant>/transcript.md``)::

      # Transcript — <problem> / <variant> / <model>

      # <request>

      ## reasoning

      ```
      ...
      ```

      ## reply

A run is one trace: its reasoning blocks, in order, joined with a blank line (a step boundary),
each block recorded as a :class:`~cotgraph.model.TextPart` whose turn or request is listed in
``metadata["part_turns"]``. Assistant text and tool calls are not reasoning; the last assistant
text (or reply) becomes the trace's output, and the counts go in the metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cotgraph.io.markup import join_parts
from cotgraph.model import TextPart


@dataclass
class AgentRun:
    """What one transcript file holds."""

    layout: str
    run_id: str
    reasoning: str
    parts: list[TextPart]
    part_turns: list[str]
    output: str | None
    model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    """Turns (or requests) in the file, with or without reasoning."""


# --- per-turn run logs --------------------------------------------------------------------------

_RUNLOG_TITLE = re.compile(r"\A# (?P<id>\S[^\n]*)\n")
_RUNLOG_TURN = re.compile(r"(?m)^## turn (?P<n>\d+)[ \t]*$")
_RUNLOG_LABEL = re.compile(r"(?m)^\*\*(?P<label>reasoning|assistant text|tool calls)\*\*[ \t]*$")
_RUNLOG_META = re.compile(r"(?m)^body \S.*·.*$")


def _fenced_body(section: str) -> str | None:
    """The text between the first and the last fence line of a section (fences may nest inside:
    the model writes code blocks in its reasoning)."""
    lines = section.split("\n")
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[0] + 1 : fences[-1]])


def _runlog_header(line: str) -> dict[str, str]:
    """``body pi · state A · level 2 · first test edit turn none`` -> key/value pairs, the value
    being the last word of each ``·``-separated item."""
    fields: dict[str, str] = {}
    for item in line.split("·"):
        words = item.split()
        if len(words) >= 2:
            key = "harness" if words[0] == "body" else "_".join(words[:-1])
            fields[key] = words[-1]
    return fields


def parse_runlog(text: str) -> AgentRun | None:
    title = _RUNLOG_TITLE.match(text)
    turns = list(_RUNLOG_TURN.finditer(text))
    if not title or not turns:
        return None
    blocks: list[tuple[str, str]] = []
    part_turns: list[str] = []
    assistant: list[str] = []
    tool_calls = 0
    for i, turn in enumerate(turns):
        end = turns[i + 1].start() if i + 1 < len(turns) else len(text)
        body = text[turn.end() : end]
        labels = list(_RUNLOG_LABEL.finditer(body))
        for j, label in enumerate(labels):
            section = body[label.end() : labels[j + 1].start() if j + 1 < len(labels) else len(body)]
            kind = label.group("label")
            if kind == "tool calls":
                tool_calls += sum(1 for line in section.split("\n") if line.startswith("- "))
                continue
            content = _fenced_body(section)
            if content is None or not content.strip():
                continue
            if kind == "reasoning":
                blocks.append(("reasoning", content))
                part_turns.append(turn.group("n"))
            else:
                assistant.append(content)
    meta_line = _RUNLOG_META.search(text, title.end(), turns[0].start())
    metadata: dict[str, Any] = {"transcript_layout": "run-log", "tool_calls": tool_calls}
    metadata["assistant_texts"] = len(assistant)
    if meta_line:
        metadata.update(_runlog_header(meta_line.group(0)))
    reasoning, parts = join_parts(blocks)
    return AgentRun(
        layout="run-log",
        run_id=title.group("id").strip(),
        reasoning=reasoning,
        parts=parts,
        part_turns=part_turns,
        output=assistant[-1].strip() or None if assistant else None,
        metadata=metadata,
        turns=len(turns),
    )


# --- per-request transcripts --------------------------------------------------------------------

_REQUEST_TITLE = re.compile(r"\A# Transcript — (?P<title>[^\n]+)\n")
_REQUEST = re.compile(r"(?m)^# (?P<name>\S[^\n]*)\n\n## (?P<first>reasoning|reply)[ \t]*\n")
_REASONING_END = re.compile(r"(?m)^```[ \t]*\n\n## reply[ \t]*$")
_REQUEST_SEPARATOR = re.compile(r"\n+---\n*\Z")


def parse_request_transcript(text: str) -> AgentRun | None:
    title = _REQUEST_TITLE.match(text)
    if not title:
        return None
    requests = list(_REQUEST.finditer(text, title.end()))
    if not requests:
        return None
    names = [p.strip() for p in title.group("title").split(" / ")]
    blocks: list[tuple[str, str]] = []
    part_turns: list[str] = []
    replies: list[str] = []
    for i, req in enumerate(requests):
        end = requests[i + 1].start() if i + 1 < len(requests) else len(text)
        body = text[req.end() : end]
        reply: str | None = body
        if req.group("first") == "reasoning":
            close = _REASONING_END.search(body)
            section, reply = (body[: close.end()], body[close.end() :]) if close else (body, None)
            content = _fenced_body(section)
            if content is not None and content.strip():
                blocks.append(("reasoning", content))
                part_turns.append(req.group("name").strip())
        if reply is not None:
            reply = _REQUEST_SEPARATOR.sub("", reply).strip()
            if reply and reply != "(empty)":
                replies.append(reply)
    reasoning, parts = join_parts(blocks)
    metadata: dict[str, Any] = {"transcript_layout": "request-transcript", "replies": len(replies)}
    if len(names) >= 3:
        metadata.update(task=names[0], variant=names[1])
    return AgentRun(
        layout="request-transcript",
        run_id="/".join(names),
        reasoning=reasoning,
        parts=parts,
        part_turns=part_turns,
        output=replies[-1] if replies else None,
        model=names[-1] if len(names) >= 3 else None,
        metadata=metadata,
        turns=len(requests),
    )


def parse_agent_transcript(text: str) -> AgentRun | None:
    """The run a Markdown transcript describes, or ``None`` when the text is not one."""
    for parser in (parse_runlog, parse_request_transcript):
        run = parser(text)
        if run is not None:
            return run
    return None

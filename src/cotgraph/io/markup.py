"""Markup that separates reasoning from the answer inside one string.

Reasoning models write their thinking inline in several conventions: ``<think>…</think>``
(R1, QwQ, Qwen3, the distills), gpt-oss Harmony channels, and OpenThoughts'
``<|begin_of_thought|>`` markers. Each parser here takes the whole string and returns a
:class:`Split` (reasoning, answer, and where each reasoning block sits), or ``None`` when the
string carries no such markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cotgraph.model import TextPart

PART_SEPARATOR = "\n\n"
"""Blocks of reasoning delivered separately are joined with a blank line, which the segmenter
always treats as a step boundary."""


@dataclass
class Split:
    """Reasoning and answer found in one string."""

    reasoning: str
    output: str | None = None
    prefix: str | None = None
    """Text before the reasoning (often the prompt, in ``full_text`` fields)."""
    parts: list[TextPart] = field(default_factory=list)
    truncated: bool = False
    prefilled: bool = False
    """The closing tag was present but the opening one was not (templates that prefill it)."""
    extra: dict[str, object] = field(default_factory=dict)


def join_parts(blocks: list[tuple[str, str]]) -> tuple[str, list[TextPart]]:
    """Join ``(kind, text)`` blocks with :data:`PART_SEPARATOR`, recording each block's offsets."""
    pieces: list[str] = []
    parts: list[TextPart] = []
    pos = 0
    for kind, text in blocks:
        if pieces:
            pieces.append(PART_SEPARATOR)
            pos += len(PART_SEPARATOR)
        pieces.append(text)
        parts.append(TextPart(start=pos, end=pos + len(text), kind=kind))
        pos += len(text)
    return "".join(pieces), parts


def _clean_output(text: str) -> str | None:
    text = text.strip()
    return text or None


# --- <think> … </think> -------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"<(think|thinking)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking)>", re.IGNORECASE)


def split_think(text: str) -> Split | None:
    """Split at ``<think>`` / ``</think>`` (also ``<thinking>``).

    - both tags: the reasoning is between them, the answer after the closing tag;
    - closing tag only: the template prefilled ``<think>``, so everything before it is reasoning;
    - opening tag only: the generation was cut off, everything after it is reasoning
      (``truncated``);
    - neither: ``None``.
    """
    open_m = _THINK_OPEN.search(text)
    close_m = _THINK_CLOSE.search(text, open_m.end() if open_m else 0)
    if open_m and close_m:
        reasoning = text[open_m.end() : close_m.start()]
        return Split(
            reasoning=reasoning,
            output=_clean_output(text[close_m.end() :]),
            prefix=_clean_output(text[: open_m.start()]),
            parts=[TextPart(start=0, end=len(reasoning), kind="think")],
        )
    if close_m:
        reasoning = text[: close_m.start()]
        return Split(
            reasoning=reasoning,
            output=_clean_output(text[close_m.end() :]),
            parts=[TextPart(start=0, end=len(reasoning), kind="think")],
            prefilled=True,
        )
    if open_m:
        reasoning = text[open_m.end() :]
        return Split(
            reasoning=reasoning,
            prefix=_clean_output(text[: open_m.start()]),
            parts=[TextPart(start=0, end=len(reasoning), kind="think")],
            truncated=True,
        )
    return None


# --- gpt-oss Harmony ----------------------------------------------------------------------------

_HARMONY_MESSAGE = re.compile(
    r"<\|channel\|>(?P<channel>[A-Za-z_]+)[^<]*(?:<\|constrain\|>[^<]*)?<\|message\|>"
    r"(?P<body>.*?)(?=<\|end\|>|<\|return\|>|<\|call\|>|<\|start\|>|<\|channel\|>|\Z)",
    re.DOTALL,
)


def split_harmony(text: str) -> Split | None:
    """Parse gpt-oss Harmony: every ``analysis`` channel message is reasoning, joined in order
    with its offsets; the last ``final`` message is the answer; ``commentary`` messages (tool
    preambles) are counted, not treated as reasoning."""
    if "<|channel|>" not in text or "<|message|>" not in text:
        return None
    analysis: list[tuple[str, str]] = []
    finals: list[str] = []
    commentary = 0
    for m in _HARMONY_MESSAGE.finditer(text):
        channel = m.group("channel").lower()
        if channel == "analysis":
            analysis.append(("analysis", m.group("body")))
        elif channel == "final":
            finals.append(m.group("body"))
        else:
            commentary += 1
    if not analysis:
        return None
    reasoning, parts = join_parts(analysis)
    last = text.rstrip()
    truncated = not finals and not last.endswith(("<|end|>", "<|return|>", "<|call|>"))
    return Split(
        reasoning=reasoning,
        output=_clean_output(finals[-1]) if finals else None,
        parts=parts,
        truncated=truncated,
        extra={"harmony_commentary_messages": commentary} if commentary else {},
    )


# --- OpenThoughts -------------------------------------------------------------------------------

_OT_BEGIN = "<|begin_of_thought|>"
_OT_END = "<|end_of_thought|>"
_OT_SOL = re.compile(r"<\|begin_of_solution\|>(.*?)(?:<\|end_of_solution\|>|\Z)", re.DOTALL)


def split_openthoughts(text: str) -> Split | None:
    """Parse ``<|begin_of_thought|> … <|end_of_thought|> <|begin_of_solution|> …``."""
    start = text.find(_OT_BEGIN)
    if start < 0:
        return None
    body_start = start + len(_OT_BEGIN)
    end = text.find(_OT_END, body_start)
    truncated = end < 0
    reasoning = text[body_start:] if truncated else text[body_start:end]
    output = None
    if not truncated:
        sol = _OT_SOL.search(text, end)
        output = _clean_output(sol.group(1)) if sol else _clean_output(text[end + len(_OT_END) :])
    return Split(
        reasoning=reasoning,
        output=output,
        prefix=_clean_output(text[:start]),
        parts=[TextPart(start=0, end=len(reasoning), kind="thought")],
        truncated=truncated,
    )


def split_any(text: str) -> Split | None:
    """Try every inline convention; ``None`` when the string has none of them."""
    for parser in (split_harmony, split_openthoughts, split_think):
        found = parser(text)
        if found is not None:
            return found
    return None


# --- Thoughtology annotations -------------------------------------------------------------------

_BLOCK_TAGS = ("DEFINE", "BLOOM", "CYCLE", "FINAL")
_ANNOTATION = re.compile(r"</?(DEFINE|BLOOM|CYCLE|FINAL|r|v)>")


def has_thoughtology_tags(text: str) -> bool:
    """The Thoughtology data set's annotators inserted ``<DEFINE>``/``<BLOOM>``/``<CYCLE>``/
    ``<FINAL>`` blocks (and ``<r>``/``<v>`` spans) into R1's text."""
    return any(f"<{tag}>" in text for tag in _BLOCK_TAGS)


def strip_thoughtology_tags(text: str) -> tuple[str, list[dict[str, object]]]:
    """Remove the annotation tags (they are not model text) and return them as silver labels:
    ``{"tag", "start", "end"}`` spans in the stripped text's coordinates."""
    out: list[str] = []
    labels: list[dict[str, object]] = []
    open_at: dict[str, list[int]] = {}
    pos = 0
    out_len = 0
    for m in _ANNOTATION.finditer(text):
        chunk = text[pos : m.start()]
        out.append(chunk)
        out_len += len(chunk)
        tag = m.group(1)
        if m.group(0).startswith("</"):
            starts = open_at.get(tag)
            if starts:
                labels.append({"tag": tag, "start": starts.pop(), "end": out_len})
        else:
            open_at.setdefault(tag, []).append(out_len)
        pos = m.end()
    out.append(text[pos:])
    labels.sort(key=lambda label: (label["start"], label["end"]))  # type: ignore[arg-type, return-value]
    return "".join(out), labels

"""Reasoning inside chat messages, whatever the provider.

One function, :func:`message_reasoning`, reads a single assistant message in any of the shapes
providers use (see ``FORMATS.md``) and returns its reasoning blocks, its answer text and what was
redacted, so that record loaders and the Inspect loader share one reading of messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cotgraph.io.markup import split_any
from cotgraph.model import Channel


@dataclass
class MessageReasoning:
    """What one assistant message says about its reasoning."""

    blocks: list[tuple[str, str]] = field(default_factory=list)
    """``(kind, text)`` in the order the message gives them."""
    output: str | None = None
    redacted: int = 0
    channel: Channel = "raw"
    truncated: bool = False

    @property
    def has_text(self) -> bool:
        return any(text.strip() for _, text in self.blocks)


def _text_of(value: Any) -> str | None:
    """Plain text from a string or from a list of ``summary_text``-like items."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [
            item.get("text") if isinstance(item, dict) else item for item in value if isinstance(item, (dict, str))
        ]
        joined = "\n\n".join(t for t in texts if isinstance(t, str) and t.strip())
        return joined or None
    return None


def _add_inline(found: MessageReasoning, text: str, outputs: list[str]) -> None:
    """A text block or string content: reasoning may sit inline as ``<think>`` or Harmony."""
    split = split_any(text)
    if split is None:
        outputs.append(text)
        return
    for part in split.parts:
        found.blocks.append((part.kind, split.reasoning[part.start : part.end]))
    found.truncated = found.truncated or split.truncated
    if split.output:
        outputs.append(split.output)


def _read_block(block: dict[str, Any], found: MessageReasoning, outputs: list[str]) -> None:
    kind = block.get("type")
    if kind == "thinking":  # Anthropic Messages
        text = block.get("thinking")
        if isinstance(text, str) and text.strip():
            found.blocks.append(("thinking", text))
        elif block.get("signature") or block.get("thinkingSignature"):
            found.redacted += 1  # summarised-away or omitted thinking: a signature and no text
    elif kind == "redacted_thinking":  # Anthropic: encrypted, never shown
        found.redacted += 1
    elif kind == "reasoning":  # Inspect AI ContentReasoning; OpenAI Responses output item
        text = block.get("reasoning")
        summary = _text_of(block.get("summary"))
        if block.get("redacted") or not (isinstance(text, str) and text.strip()):
            if summary:
                found.blocks.append(("summary", summary))
                found.channel = "summary"
            else:
                found.redacted += 1
            if block.get("redacted") and summary:
                found.redacted += 1
        else:
            found.blocks.append(("reasoning", text))
    elif kind in ("reasoning.text", "reasoning.summary", "reasoning.encrypted"):  # OpenRouter
        if kind == "reasoning.encrypted":
            found.redacted += 1
        else:
            text = block.get("text") if kind == "reasoning.text" else block.get("summary")
            if isinstance(text, str) and text.strip():
                found.blocks.append(("summary" if kind == "reasoning.summary" else "reasoning", text))
                if kind == "reasoning.summary":
                    found.channel = "summary"
    elif kind in ("text", "output_text"):
        text = block.get("text")
        if isinstance(text, str):
            _add_inline(found, text, outputs)
    elif "thought" in block and block.get("thought") is True:  # Gemini part
        text = block.get("text")
        if isinstance(text, str) and text.strip():
            found.blocks.append(("thought", text))
            found.channel = "summary"
    elif kind is None and isinstance(block.get("text"), str):  # Gemini answer part
        outputs.append(block["text"])


def message_reasoning(message: dict[str, Any]) -> MessageReasoning:
    """Read one assistant message (or response object) in any provider's shape.

    Message-level fields come first (DeepSeek ``reasoning_content``, OpenRouter ``reasoning`` and
    ``reasoning_details``), then content blocks (Anthropic ``thinking``/``redacted_thinking``,
    Inspect ``reasoning``, Gemini ``parts`` with ``thought``), then inline markup in the text.
    """
    found = MessageReasoning()
    outputs: list[str] = []
    details = message.get("reasoning_details")
    has_details_text = isinstance(details, list) and any(
        isinstance(d, dict) and d.get("type") in ("reasoning.text", "reasoning.summary") for d in details
    )
    for key in ("reasoning_content", "reasoning", "thinking"):
        value = message.get(key)
        if isinstance(value, str) and value.strip() and not (key == "reasoning" and has_details_text):
            found.blocks.append((key, value))
            break
    if isinstance(details, list):
        for detail in details:
            if isinstance(detail, dict):
                _read_block(detail, found, outputs)
    content = message.get("content")
    if content is None and isinstance(message.get("parts"), list):
        content = message["parts"]
    if isinstance(content, str):
        if found.blocks:
            outputs.append(content)
        else:
            _add_inline(found, content, outputs)
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                _read_block(block, found, outputs)
            elif isinstance(block, str):
                _add_inline(found, block, outputs)
    elif isinstance(content, dict) and isinstance(content.get("parts"), list):  # Gemini candidate
        for block in content["parts"]:
            if isinstance(block, dict):
                _read_block(block, found, outputs)
    text_outputs = [o.strip() for o in outputs if o and o.strip()]
    found.output = "\n\n".join(text_outputs) or None
    return found


def is_assistant(message: dict[str, Any]) -> bool:
    """Assistant turns in every naming: ``assistant`` (OpenAI, Anthropic, Inspect), ``model``
    (Gemini)."""
    return message.get("role") in ("assistant", "model")

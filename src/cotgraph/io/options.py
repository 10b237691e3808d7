"""The input options every command that reads traces shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FileFormat = Literal["text", "json", "jsonl", "parquet", "csv", "inspect"]
FILE_FORMATS: tuple[str, ...] = ("text", "json", "jsonl", "parquet", "csv", "inspect")


@dataclass(frozen=True)
class LoadOptions:
    """How to read input files. Every field is optional: by default the format is detected from
    the extension and the content, and the fields from the usual names (``FORMATS.md``)."""

    format: FileFormat | None = None
    """Force a file format instead of detecting it."""
    text_field: str | None = None
    """Dotted path to the reasoning text in each record (``message.reasoning_content``)."""
    model_field: str | None = None
    id_field: str | None = None
    question_field: str | None = None
    model: str | None = None
    """Model name for traces whose source does not say (plain text files, Thoughtology)."""
    model_from_path: str | None = None
    """A regular expression searched in each file's path: its group ``model`` names the model and
    its other named groups become metadata (``(?P<model>[^/_]+)_(?P<task>.+)\\.json$``)."""
    keep_annotations: bool = False
    """Keep dataset annotation tags (Thoughtology's ``<BLOOM>`` …) in the text instead of
    stripping them into ``metadata["annotations"]``."""
    outcome_fields: tuple[str, ...] = ()
    """Dotted paths to outcomes in each record (``passed``, ``scores.harmful``): kept in
    ``Trace.outcomes`` under the path (:mod:`cotgraph.io.outcome_fields`)."""
    outcome_exprs: tuple[str, ...] = ()
    """Outcomes computed as a comparison of two fields: ``[NAME=]LEFT OP RIGHT``
    (``followed_hint=answer == cue_answer``)."""

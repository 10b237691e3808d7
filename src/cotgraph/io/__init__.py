"""Loaders: every common source of reasoning traces, read into :class:`~cotgraph.model.Trace`.

``iter_load(paths)`` streams traces and skipped records in input order; ``load(paths)`` collects
them into a :class:`LoadResult`. Formats are detected from the extension and the content; see
``docs/formats.md`` for what is read from where.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cotgraph.io.files import detect_format, expand_inputs, read_file
from cotgraph.io.options import FILE_FORMATS, FileFormat, LoadOptions
from cotgraph.model import Skipped, Trace

__all__ = [
    "FILE_FORMATS",
    "FileFormat",
    "LoadOptions",
    "LoadResult",
    "detect_format",
    "iter_load",
    "load",
]


@dataclass
class LoadResult:
    """What reading the inputs gave: the traces, and every record that was not analysed."""

    traces: list[Trace] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def iter_load(paths: Iterable[str | Path], options: LoadOptions | None = None) -> Iterator[Trace | Skipped]:
    """Traces and skipped records from files and folders, streamed in input order."""
    options = options or LoadOptions()
    for item in expand_inputs(paths):
        if isinstance(item, Skipped):
            yield item
        else:
            yield from read_file(item, options)


def load(paths: Iterable[str | Path] | str | Path, options: LoadOptions | None = None) -> LoadResult:
    """Read every trace in the inputs; nothing is dropped without a :class:`Skipped` entry."""
    if isinstance(paths, str | Path):
        paths = [paths]
    result = LoadResult()
    for item in iter_load(paths, options):
        (result.skipped if isinstance(item, Skipped) else result.traces).append(item)
    return result

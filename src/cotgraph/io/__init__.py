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
    "DuplicateTraceIdError",
    "FileFormat",
    "LoadOptions",
    "LoadResult",
    "TraceIds",
    "detect_format",
    "iter_load",
    "load",
]


@dataclass
class LoadResult:
    """What reading the inputs gave: the traces, and every record that was not analysed."""

    traces: list[Trace] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class DuplicateTraceIdError(ValueError):
    """Two records named by ``--id-field`` share an id; the message names both."""


class TraceIds:
    """The ids given so far, and the rule for a repeat: with ``id_field`` an error naming both
    records, otherwise ``~2``, ``~3`` … appended in input order."""

    def __init__(self, id_field: str | None) -> None:
        self.id_field = id_field
        self.seen: dict[str, str] = {}
        self.repeats: dict[str, int] = {}

    def claim(self, trace: Trace) -> str:
        """The id ``trace`` gets: its own unless it was given before."""
        record = f" record {trace.source.record}" if trace.source.record is not None else ""
        where = f"{trace.source.path}{record}"
        new = trace.id
        first = self.seen.get(new)
        if first is not None:
            if self.id_field:
                raise DuplicateTraceIdError(
                    f"trace id {new!r} (field {self.id_field!r}) is used by two records: "
                    f"{first} and {where}; ids named with --id-field must be unique"
                )
            while new in self.seen:
                self.repeats[trace.id] = self.repeats.get(trace.id, 1) + 1
                new = f"{trace.id}~{self.repeats[trace.id]}"
        self.seen[new] = where
        return new


def iter_load(paths: Iterable[str | Path], options: LoadOptions | None = None) -> Iterator[Trace | Skipped]:
    """Traces and skipped records from files and folders, streamed in input order.

    Trace ids are unique. An id begins with the file's path relative to the input folder (its
    name when the file was named directly), then the record's own id or a hash of its content.
    With ``id_field`` the record's id is kept as given, and two records with the same id raise
    :class:`DuplicateTraceIdError` naming both. Otherwise an id met again (the same record id
    twice in a file, or same-named files given as two inputs) gets ``~2``, ``~3`` … in input
    order, so that nothing is silently merged downstream (:class:`TraceIds`)."""
    options = options or LoadOptions()
    ids = TraceIds(options.id_field)
    for item in expand_inputs(paths):
        if isinstance(item, Skipped):
            yield item
            continue
        path, key = item
        for found in read_file(path, options, key):
            if isinstance(found, Trace):
                trace_id = ids.claim(found)
                if trace_id != found.id:
                    found = found.model_copy(update={"id": trace_id})
            yield found


def load(paths: Iterable[str | Path] | str | Path, options: LoadOptions | None = None) -> LoadResult:
    """Read every trace in the inputs; nothing is dropped without a :class:`Skipped` entry."""
    if isinstance(paths, str | Path):
        paths = [paths]
    result = LoadResult()
    for item in iter_load(paths, options):
        (result.skipped if isinstance(item, Skipped) else result.traces).append(item)
    return result

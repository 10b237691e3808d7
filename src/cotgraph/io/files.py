"""Files and folders: find the inputs, detect each file's format, and read its records.

Every reader yields :class:`~cotgraph.model.Trace` or :class:`~cotgraph.model.Skipped`, one by
one, so that a bad record never stops the others and a large JSONL or Parquet file streams with
bounded memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from cotgraph.io.inspect_log import is_inspect_log, read_eval_archive, read_log_document, read_log_samples
from cotgraph.io.markup import split_any
from cotgraph.io.options import FileFormat, LoadOptions
from cotgraph.io.records import WRAPPER_KEYS, Origin, RecordSkipped, TraceBuilder, Where, extract
from cotgraph.io.transcripts import parse_agent_transcript
from cotgraph.model import Skipped, Trace

EXTENSIONS: dict[str, FileFormat] = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".log": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".eval": "inspect",
}

KNOWN_LAYOUTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "Thought Anchors (<model>/<condition>/<problem>/base_solution.json)",
        re.compile(
            r"(?:^|/)(?P<model>[^/]+)/(?P<condition>[^/]+)/(?P<item>(?:problem|scenario)_[^/]+)/base_solution\.json$"
        ),
    ),
    (
        "pmllmbench step lists (<model>_<task>.json)",
        re.compile(r"(?:^|/)final_abstract_steps/(?P<model>[^/_]+)_(?P<task>[^/]+)\.json$"),
    ),
)
"""Data-set layouts whose model name lives in the path rather than in the records."""

_SKIP_NAMES = re.compile(r"^(README|LICEN[CS]E|NOTICE|CHANGELOG|COPYING|CONTRIBUTING)(\..*)?$", re.IGNORECASE)
_SIDECARS = {"chunks_labeled.json", "summary.json", "problem.json", "scenario.json"}


def expand_inputs(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str] | Skipped]:
    """Each input file and its key: its path relative to the folder it was found in, or its name
    when it was named directly (the key begins its traces' ids, so same-named files in different
    folders do not collide). Files named directly are always read; folders are walked in sorted
    order for files with a known extension, leaving out hidden files, READMEs and licences, and
    the side files of a Thought Anchors folder (read as metadata of its ``base_solution.json``)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or not child.is_file():
                    continue
                if _SKIP_NAMES.match(child.name) or _suffix(child) not in EXTENSIONS:
                    continue
                if child.name in _SIDECARS and (child.parent / "base_solution.json").exists():
                    continue
                yield child, rel.as_posix()
        elif path.is_file():
            yield path, path.name
        elif path.exists():
            yield Skipped(path=str(path), reason="not a regular file")
        else:
            yield Skipped(path=str(path), reason="no such file or folder")


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def _open_text(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def detect_format(path: Path) -> FileFormat | None:
    """The format by extension, else by the first bytes; ``None`` when it is none we read."""
    by_ext = EXTENSIONS.get(_suffix(path))
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if path.suffix.lower() == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(4096)
        except (OSError, EOFError, zlib.error):
            return None
    if by_ext is not None:
        if by_ext == "json" and _looks_like_jsonl(head):
            return "jsonl"
        return by_ext
    if head.startswith(b"PK\x03\x04"):
        return "inspect"
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return "jsonl" if _looks_like_jsonl(head) else "json"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB boundary
            return None
    return "text"


def _looks_like_jsonl(head: bytes) -> bool:
    """Two or more lines that each start with ``{``: a JSONL file whatever its extension."""
    lines = [ln.strip() for ln in head.splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].startswith(b"{"):
        return False
    try:
        json.loads(lines[0])
    except ValueError:
        return False
    return lines[1].startswith(b"{")


def path_fields(path: Path, options: LoadOptions) -> dict[str, str]:
    """Named groups of ``--model-from-path`` or of a known layout matched against the path."""
    posix = path.as_posix()
    patterns = [re.compile(options.model_from_path)] if options.model_from_path else [p for _, p in KNOWN_LAYOUTS]
    for pattern in patterns:
        m = pattern.search(posix)
        if m:
            return {k: v for k, v in m.groupdict().items() if v is not None}
    return {}


def read_file(path: Path, options: LoadOptions, key: str | None = None) -> Iterator[Trace | Skipped]:
    """All traces and skipped records of one file. ``key`` (the file's path relative to the input
    folder it was found in; its name when it was named directly) begins its traces' ids."""
    try:
        if path.stat().st_size == 0:
            yield Skipped(path=str(path), reason="empty file")
            return
        fmt = options.format or detect_format(path)
    except OSError as exc:
        yield Skipped(path=str(path), reason=f"cannot read: {exc.strerror or exc}")
        return
    if fmt is None:
        yield Skipped(
            path=str(path),
            reason="unknown format: not text, JSON, JSONL, CSV, Parquet or an Inspect .eval (name one with --format)",
        )
        return
    origin = Origin(fields=path_fields(path, options), key=key or path.name)
    reader = {
        "text": _read_text,
        "json": _read_json,
        "jsonl": _read_jsonl,
        "csv": _read_csv,
        "parquet": _read_parquet,
        "inspect": _read_inspect,
    }[fmt]
    try:
        yield from reader(path, options, origin)
    except UnicodeDecodeError as exc:
        yield Skipped(path=str(path), reason=f"not UTF-8 text ({fmt} expected): {exc.reason} at byte {exc.start}")
    except (OSError, EOFError, zlib.error) as exc:  # EOFError, zlib.error: a cut or corrupt .gz
        yield Skipped(path=str(path), reason=f"cannot read as {fmt}: {exc}")


def _records(
    path: Path,
    records: Iterable[tuple[int | None, Any]],
    options: LoadOptions,
    origin: Origin,
) -> Iterator[Trace | Skipped]:
    for record_no, record in records:
        where = Where(path=path, record=record_no, path_fields=origin.fields, key=origin.key)
        try:
            yield from extract(record, where, options)
        except RecordSkipped as exc:
            yield Skipped(path=str(path), record=record_no, reason=str(exc))


def _read_text(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    with _open_text(path) as fh:
        text = fh.read()
    if not text.strip():
        yield Skipped(path=str(path), reason="empty file (only whitespace)")
        return
    b = TraceBuilder(Where(path=path, record=None, path_fields=origin.fields, key=origin.key), options, None)
    run = parse_agent_transcript(text)
    if run is not None:
        if not run.reasoning.strip():
            yield Skipped(
                path=str(path),
                reason=f"agent transcript ({run.layout}) with no reasoning in any of its {run.turns} turn(s)",
            )
            return
        extra = {**run.metadata, "part_turns": run.part_turns, "turns": run.turns}
        yield b.build(
            run.reasoning, parts=run.parts, output=run.output, model=run.model or None, own_id=run.run_id, extra=extra
        )
        return
    split = split_any(text)
    yield b.from_split(split, used=set()) if split else b.build(text)


STREAM_BYTES = 32 * 2**20
"""JSON files at least this large (on disk) are streamed record by record, not parsed whole."""


def _open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _top_level(path: Path) -> tuple[str, dict[str, str]]:
    """A JSON document's shape, read as a stream: ``array``, or ``object`` with the first parse
    event of each top-level value (``start_map``, ``start_array``, ``string`` …), or ``other``."""
    import ijson

    keys: dict[str, str] = {}
    current: str | None = None
    with _open_bytes(path) as fh:
        for prefix, event, value in ijson.parse(fh):
            if prefix == "":
                if event == "start_array":
                    return "array", {}
                if event == "map_key":
                    current = value
                elif event not in ("start_map", "end_map"):
                    return "other", {}
            elif current is not None and prefix == current and current not in keys:
                keys[current] = event
    return "object", keys


def _stream_json(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped] | None:
    """The records of a large JSON file, parsed one at a time (ijson), so that memory is bounded
    by the largest record: an Inspect ``.json`` log's samples, a top-level array of records, or
    the array under a wrapper key. ``None`` for the shapes that are one trace as a whole (a list
    of step objects or of thought strings, a single record), which are read whole as before."""
    import ijson

    shape, keys = _top_level(path)

    def items(prefix: str) -> Iterator[Any]:
        with _open_bytes(path) as fh:
            yield from ijson.items(fh, prefix, use_float=True)

    if shape == "array" and not options.text_field:
        first = next(items("item"), None)
        if (
            first is None
            or isinstance(first, str)
            or (isinstance(first, Mapping) and first and set(first) <= set(_STEP_TEXT_KEYS) | set(_STEP_LABEL_KEYS))
        ):
            return None
        return _records(path, enumerate(items("item")), options, origin)
    if shape == "array":
        return _records(path, enumerate(items("item")), options, origin)
    if shape != "object":
        return None
    if keys.get("eval") == "start_map" and ("samples" in keys or "version" in keys):
        eval_spec = next(items("eval"), {})
        samples = items("samples.item") if keys.get("samples") == "start_array" else iter(())
        return read_log_samples(eval_spec, samples, path, options, origin.key)
    wrapped = [k for k in WRAPPER_KEYS if keys.get(k) == "start_array"]
    if wrapped and not options.text_field and len(keys) <= 3:
        return _records(path, enumerate(items(f"{wrapped[0]}.item")), options, origin)
    return None


def _read_json(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    if path.stat().st_size >= STREAM_BYTES:
        import ijson

        last: int | None = None
        try:
            streamed = _stream_json(path, options, origin)
            if streamed is not None:
                for item in streamed:
                    last = item.source.record if isinstance(item, Trace) else item.record
                    yield item
                return
        except ijson.JSONError as exc:
            after = "" if last is None else f" after record {last}; the records that follow it were not read"
            yield Skipped(path=str(path), reason=f"invalid JSON{after}: {exc}")
            return
    with _open_text(path) as fh:
        try:
            document = json.load(fh)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data":  # several documents, one per line: JSONL after all
                yield from _read_jsonl(path, options, origin)
                return
            yield Skipped(path=str(path), reason=f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
            return
    if is_inspect_log(document):
        yield from read_log_document(document, path, options, origin.key)
        return
    if isinstance(document, list):
        yield from _read_array(path, document, options, origin)
        return
    if isinstance(document, Mapping) and not options.text_field:
        where = Where(path=path, record=None, path_fields=origin.fields, key=origin.key)
        try:
            yield from extract(document, where, options)
            return
        except RecordSkipped as exc:
            wrapped = [k for k in WRAPPER_KEYS if isinstance(document.get(k), list)]
            if not wrapped:
                yield Skipped(path=str(path), reason=str(exc))
                return
        yield from _read_array(path, document[wrapped[0]], options, origin)
        return
    yield from _records(path, [(None, document)], options, origin)


_STEP_TEXT_KEYS = ("Text", "text", "thought", "content")
_STEP_LABEL_KEYS = ("Name", "name", "label", "type", "tag")


def _read_array(path: Path, items: list[Any], options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    """A JSON array is a list of records, except two shapes that are one pre-segmented trace: a
    list of step objects (``{"Name": label, "Text": excerpt}``) and a list of thought strings."""
    if not items:
        yield Skipped(path=str(path), reason="empty JSON array")
        return
    if not options.text_field and all(isinstance(i, str) for i in items):
        if max(len(i.strip()) for i in items) <= 3:
            yield Skipped(
                path=str(path),
                reason=f"a list of {len(items)} short labels ({', '.join(sorted(set(items))[:5])}), not reasoning",
            )
            return
        yield from _records(path, [(None, items)], options, origin)
        return
    if not options.text_field and all(isinstance(i, Mapping) for i in items):
        step_key = next((k for k in _STEP_TEXT_KEYS if any(k in i for i in items)), None)
        allowed = set(_STEP_TEXT_KEYS) | set(_STEP_LABEL_KEYS)
        if step_key and all(i and set(i) <= allowed for i in items):
            label_key = next((k for k in _STEP_LABEL_KEYS if all(k in i for i in items)), None)
            kept = [(i, it) for i, it in enumerate(items) if isinstance(it.get(step_key), str) and it[step_key].strip()]
            if not kept:
                yield Skipped(path=str(path), reason="list of steps with no text")
                return
            b = TraceBuilder(Where(path=path, record=None, path_fields=origin.fields, key=origin.key), options, None)
            labels = [str(it[label_key]) for _, it in kept] if label_key else None
            extra: dict[str, Any] = {}
            trailing = [it for it in items if not (isinstance(it.get(step_key), str) and it[step_key].strip())]
            if label_key and trailing:
                extra["textless_labels"] = [str(it[label_key]) for it in trailing]
            yield b.from_steps([it[step_key] for _, it in kept], labels, used=set(), extra=extra)
            return
    yield from _records(path, enumerate(items), options, origin)


def _read_jsonl(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    """One record per non-blank line, streamed: memory stays bounded by the longest line."""
    with _open_text(path) as fh:
        record_no = -1
        for line in fh:
            if not line.strip():
                continue
            record_no += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Skipped(path=str(path), record=record_no, reason=f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            yield from _records(path, [(record_no, record)], options, origin)
    if record_no < 0:
        yield Skipped(path=str(path), reason="empty file (only whitespace)")


def _read_csv(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    csv.field_size_limit(sys.maxsize)
    with _open_text(path) as fh:
        sample = fh.read(8192)
        fh.seek(0)
        delimiter = "\t" if _suffix(path) == ".tsv" or sample.count("\t") > sample.count(",") else ","
        reader = csv.DictReader(fh, delimiter=delimiter)
        record_no = -1
        try:
            for record_no, row in enumerate(reader):
                record = {k: _cell(v) for k, v in row.items() if k is not None}
                yield from _records(path, [(record_no, record)], options, origin)
        except csv.Error as exc:
            yield Skipped(path=str(path), record=reader.line_num, reason=f"malformed CSV: {exc}")
            return
    if record_no < 0:
        yield Skipped(path=str(path), reason="no rows (a header at most)")


def _cell(value: str | None) -> Any:
    """CSV cells are strings; a cell holding a JSON object or array (messages, blocks) is parsed."""
    if value and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _read_parquet(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    """Rows in record batches, so a large file never sits in memory whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        yield Skipped(path=str(path), reason=f"not a readable Parquet file: {exc}")
        return
    record_no = 0
    for batch in table.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            yield from _records(path, [(record_no, row)], options, origin)
            record_no += 1
    if record_no == 0:
        yield Skipped(path=str(path), reason="no rows")


def _read_inspect(path: Path, options: LoadOptions, origin: Origin) -> Iterator[Trace | Skipped]:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        yield from read_eval_archive(path, options, origin.key)
        return
    yield from _read_json(path, options, origin)

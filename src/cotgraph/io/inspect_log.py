"""Inspect AI evaluation logs: ``.eval`` archives and ``.json`` logs.

A ``.eval`` file is a zip holding ``header.json`` (the log without samples) and one
``samples/{id}_epoch_{n}.json`` per sample; samples are read one at a time so a large archive
never sits in memory whole. Each assistant turn that carries reasoning becomes a trace with the id
``sample/epoch/turn``. Only ``messages`` are read: the same messages appear again under
``events[]`` and must not be counted twice.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cotgraph.io.options import LoadOptions
from cotgraph.io.outcome_fields import inspect_scores
from cotgraph.io.records import RecordSkipped, TraceBuilder, Where, message_list_traces
from cotgraph.model import Skipped, Trace

_SAMPLE_FILE = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")


def _natural_key(name: str) -> list[object]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def is_inspect_log(document: Any) -> bool:
    """An ``EvalLog`` as JSON: it has ``eval`` (the spec) and ``samples`` or a ``version``."""
    return (
        isinstance(document, Mapping)
        and isinstance(document.get("eval"), Mapping)
        and ("samples" in document or "version" in document)
    )


def sample_traces(
    sample: Mapping[str, Any],
    where: Where,
    options: LoadOptions,
    eval_spec: Mapping[str, Any],
) -> list[Trace]:
    """Traces of one Inspect sample: one per assistant turn that has reasoning."""
    sample_id = sample.get("id")
    epoch = sample.get("epoch", 1)
    messages = sample.get("messages")
    if not isinstance(messages, list):
        raise RecordSkipped(f"sample {sample_id} epoch {epoch}: no messages")
    output = sample.get("output")
    default_model = None
    if isinstance(output, Mapping) and isinstance(output.get("model"), str):
        default_model = output["model"]
    default_model = default_model or eval_spec.get("model") or options.model
    record = {
        "id": f"{sample_id}/{epoch}",
        "task": eval_spec.get("task"),
        "eval_id": eval_spec.get("eval_id"),
        "run_id": eval_spec.get("run_id"),
        "sample_id": sample_id,
        "epoch": epoch,
    }
    target = sample.get("target")
    if isinstance(target, str):
        record["target"] = target
    if isinstance(sample.get("input"), str):
        record["question"] = sample["input"]
    b = TraceBuilder(where, options, record, outcome_record=sample, outcomes=inspect_scores(sample.get("scores")))
    traces = message_list_traces(b, messages, used={"id"}, default_model=default_model, part_prefix="")
    if not traces:
        n_assistant = sum(1 for m in messages if isinstance(m, Mapping) and m.get("role") == "assistant")
        raise RecordSkipped(
            f"sample {sample_id} epoch {epoch}: none of its {n_assistant} assistant messages "
            "has reasoning (no reasoning blocks, no <think> text)"
        )
    return traces


def read_eval_archive(path: Path, options: LoadOptions, key: str | None = None) -> Iterator[Trace | Skipped]:
    """Stream traces from a ``.eval`` zip, one sample file at a time."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield Skipped(path=str(path), reason=f"corrupt or unreadable .eval archive: {exc}")
        return
    with archive:
        names = archive.namelist()
        eval_spec: Mapping[str, Any] = {}
        if "header.json" in names:
            try:
                header = json.loads(archive.read("header.json"))
                eval_spec = header.get("eval") or {}
            except (json.JSONDecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
                yield Skipped(path=str(path), reason=f"header.json is unreadable: {exc}")
        sample_names = sorted((n for n in names if _SAMPLE_FILE.match(n)), key=_natural_key)
        if not sample_names:
            yield Skipped(path=str(path), reason="the log holds no samples")
            return
        for record_no, name in enumerate(sample_names):
            where = Where(path=path, record=record_no, key=key)
            try:
                sample = json.loads(archive.read(name))
            except (json.JSONDecodeError, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                yield Skipped(path=str(path), record=record_no, reason=f"{name}: unreadable sample: {exc}")
                continue
            try:
                yield from sample_traces(sample, where, options, eval_spec)
            except RecordSkipped as exc:
                yield Skipped(path=str(path), record=record_no, reason=str(exc))


def read_log_document(
    document: Mapping[str, Any], path: Path, options: LoadOptions, key: str | None = None
) -> Iterator[Trace | Skipped]:
    """Traces from an ``EvalLog`` already parsed from a ``.json`` log."""
    yield from read_log_samples(document.get("eval") or {}, document.get("samples") or [], path, options, key)


def read_log_samples(
    eval_spec: Mapping[str, Any], samples: Iterable[Any], path: Path, options: LoadOptions, key: str | None = None
) -> Iterator[Trace | Skipped]:
    """Traces from the samples of a ``.json`` log, one sample at a time (a large log's samples
    are streamed, :mod:`cotgraph.io.files`)."""
    record_no = -1
    for record_no, sample in enumerate(samples):
        if not isinstance(sample, Mapping):
            yield Skipped(path=str(path), record=record_no, reason="sample is not an object")
            continue
        try:
            yield from sample_traces(sample, Where(path=path, record=record_no, key=key), options, eval_spec)
        except RecordSkipped as exc:
            yield Skipped(path=str(path), record=record_no, reason=str(exc))
    if record_no < 0:
        yield Skipped(path=str(path), reason="the log holds no samples")

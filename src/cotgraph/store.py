"""The corpus store: analyses in one DuckDB file (schema: ``docs/schema.md``).

Ingest is idempotent and resumable. Traces are written in small batches, each in one
transaction that first deletes the batch's old rows, so a run killed at any point leaves every
trace either wholly stored or not at all; a new run skips the traces already stored with the same
content hash and analyses the rest, ending with each trace exactly once. Skipped input records
are stored with their reasons.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cotgraph.model import Analysis, BeliefTag, Edge, Evidence, Hypothesis, Skipped, Source, Step, Trace

STORE_SCHEMA_VERSION = "1"

_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE IF NOT EXISTS traces (
        trace_id TEXT PRIMARY KEY, model TEXT, channel TEXT, question TEXT, source_path TEXT,
        source_record INTEGER, source_part TEXT, reasoning TEXT, output TEXT, metadata JSON,
        embedder TEXT, taxonomy TEXT, n_steps INTEGER, content_hash TEXT, ingested_at TIMESTAMP,
        truncated BOOLEAN, redacted_blocks INTEGER)""",
    """CREATE TABLE IF NOT EXISTS steps (
        trace_id TEXT, idx INTEGER, start INTEGER, "end" INTEGER, text TEXT, kind TEXT, parent INTEGER,
        dead_end BOOLEAN, state INTEGER, markers TEXT[], embedding FLOAT[], PRIMARY KEY (trace_id, idx))""",
    "CREATE TABLE IF NOT EXISTS edges (trace_id TEXT, src INTEGER, dst INTEGER, type TEXT, score DOUBLE)",
    """CREATE TABLE IF NOT EXISTS beliefs (
        trace_id TEXT, step INTEGER, belief TEXT, score DOUBLE, stance TEXT, start INTEGER, "end" INTEGER,
        via TEXT)""",
    """CREATE TABLE IF NOT EXISTS hypotheses (
        trace_id TEXT, belief TEXT, label TEXT, family TEXT, stance TEXT, first_step INTEGER,
        last_step INTEGER, steps INTEGER[], evidence JSON)""",
    "CREATE TABLE IF NOT EXISTS metrics (trace_id TEXT, name TEXT, value DOUBLE, PRIMARY KEY (trace_id, name))",
    """CREATE TABLE IF NOT EXISTS outcomes (
        trace_id TEXT, name TEXT, value DOUBLE, is_bool BOOLEAN, PRIMARY KEY (trace_id, name))""",
    """CREATE TABLE IF NOT EXISTS skipped (
        path TEXT, record INTEGER, reason TEXT, seen_at TIMESTAMP, UNIQUE (path, record, reason))""",
)
_ADDED_COLUMNS = (
    "ALTER TABLE steps ADD COLUMN IF NOT EXISTS parent INTEGER",
    "ALTER TABLE steps ADD COLUMN IF NOT EXISTS dead_end BOOLEAN",
    "ALTER TABLE steps ADD COLUMN IF NOT EXISTS state INTEGER",
    "ALTER TABLE traces ADD COLUMN IF NOT EXISTS truncated BOOLEAN",
    "ALTER TABLE traces ADD COLUMN IF NOT EXISTS redacted_blocks INTEGER",
)
ROWS_REVISION = "4"
"""Bumped when the rows written for a trace gain content or change meaning (2: step parents and
dead ends, the trace's truncation and redacted blocks; 3: step kinds from the learned classifier,
k-means states; 4: each step's state kept). It is part of the content hash, so the next ingest
into an older store analyses its traces again."""
WRITE_MEMORY_LIMIT = "256MB"
"""DuckDB's memory limit on a store opened for writing (``analyze --db``)."""
_TRACE_TABLES = ("traces", "steps", "edges", "beliefs", "hypotheses", "metrics", "outcomes")


class StoreError(Exception):
    """A store that cannot be opened or has another schema version."""


def content_hash(trace: Trace, embedder: str | None, taxonomy: str | None) -> str:
    """What decides whether a stored analysis is still the analysis of this trace."""
    digest = hashlib.sha1()
    parts = [trace.reasoning, trace.model or "", embedder or "", taxonomy or "", STORE_SCHEMA_VERSION, ROWS_REVISION]
    if trace.outcomes:  # a re-ingest with other outcome fields rewrites the trace (outcome-less hashes unchanged)
        parts.append(json.dumps(trace.outcomes, sort_keys=True))
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


class Store:
    """One DuckDB file holding a corpus of analyses."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        if not read_only:
            # DuckDB's buffer pool may grow to 80% of RAM by default, and writing a corpus fills it
            # with pages already on disk: a bounded pool keeps an ingest's memory flat however
            # large the store grows (it spills and evicts beyond this).
            self.con.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT}'")
            self._ensure_schema()
        else:
            self._check_version()

    def _ensure_schema(self) -> None:
        for statement in _DDL:
            self.con.execute(statement)
        found = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if found is None:
            self.con.execute(
                "INSERT INTO meta VALUES ('schema_version', ?), ('created_at', CAST(now() AS TEXT))",
                [STORE_SCHEMA_VERSION],
            )
        elif found[0] != STORE_SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {found[0]}, this cotgraph writes {STORE_SCHEMA_VERSION}")
        for statement in _ADDED_COLUMNS:  # columns added within schema 1: older stores get them (NULL)
            self.con.execute(statement)

    def _check_version(self) -> None:
        try:
            found = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.Error:
            raise StoreError(f"{self.path}: not a cotgraph store (no meta table)") from None
        if found is None or found[0] != STORE_SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {found and found[0]}, expected {STORE_SCHEMA_VERSION}")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------------

    def stored_hashes(self) -> dict[str, str]:
        """trace id → content hash of every stored trace."""
        return dict(self.con.execute("SELECT trace_id, content_hash FROM traces").fetchall())

    def count(self, table: str = "traces") -> int:
        if table not in (*_TRACE_TABLES, "skipped"):
            raise ValueError(f"unknown table {table!r}")
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    def trace_ids(self, limit: int | None = None) -> list[str]:
        """Stored trace ids in ingest order: by batch, then as the inputs held them (file, record, part)."""
        sql = (
            "SELECT trace_id FROM traces "
            "ORDER BY ingested_at, source_path, source_record NULLS FIRST, source_part NULLS FIRST, trace_id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [r[0] for r in self.con.execute(sql).fetchall()]

    def _records(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows as dicts by column name, so that a column an older store lacks simply reads as absent."""
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def read_analysis(self, trace_id: str) -> Analysis:
        """One stored trace back as an :class:`Analysis` (without the networkx graph, the
        embeddings and the hypothesis moves, which are not stored). Raises KeyError if absent."""
        con = self.con
        found = self._records("SELECT * FROM traces WHERE trace_id = ?", [trace_id])
        if not found:
            raise KeyError(trace_id)
        t = found[0]
        trace = Trace(
            id=trace_id,
            model=t["model"],
            channel=t["channel"],
            question=t["question"],
            reasoning=t["reasoning"] or "",  # a --no-text store keeps no texts
            output=t["output"],
            source=Source(path=t["source_path"], record=t["source_record"], part=t["source_part"]),
            metadata=json.loads(t["metadata"]) if t["metadata"] else {},
            outcomes={
                name: bool(value) if is_bool else value
                for name, value, is_bool in con.execute(
                    "SELECT name, value, is_bool FROM outcomes WHERE trace_id = ? ORDER BY name", [trace_id]
                ).fetchall()
            },
            truncated=bool(t.get("truncated")),
            redacted_blocks=t.get("redacted_blocks") or 0,
        )
        steps = [
            Step.model_construct(
                trace_id=trace_id,
                idx=r["idx"],
                start=r["start"],
                end=r["end"],
                text=r["text"] or "",
                kind=r["kind"],
                parent=r.get("parent"),
                dead_end=r.get("dead_end"),
                state=r.get("state"),
                markers=r["markers"] or [],
            )
            for r in self._records(
                "SELECT * EXCLUDE (embedding) FROM steps WHERE trace_id = ? ORDER BY idx", [trace_id]
            )
        ]
        edges = [
            Edge.model_construct(src=a, dst=b, type=t, score=sc)
            for a, b, t, sc in con.execute(
                "SELECT src, dst, type, score FROM edges WHERE trace_id = ? ORDER BY rowid", [trace_id]
            ).fetchall()
        ]
        beliefs = [
            BeliefTag(step=st, belief=b, score=sc, stance=sn, start=a, end=e, via=v)
            for st, b, sc, sn, a, e, v in con.execute(
                'SELECT step, belief, score, stance, start, "end", via FROM beliefs WHERE trace_id = ? '
                "ORDER BY step, rowid",
                [trace_id],
            ).fetchall()
        ]
        stance_at = {}
        for tag in beliefs:
            stance_at.setdefault((tag.belief, tag.step), tag.stance)
        hypotheses = [
            Hypothesis(
                belief=b,
                label=label,
                family=family,
                stance=stance,
                first_step=first,
                last_step=last,
                steps=list(hsteps),
                stances=[stance_at.get((b, k), stance) for k in hsteps],
                evidence=[Evidence(**e) for e in json.loads(evidence or "[]")],
            )
            for b, label, family, stance, first, last, hsteps, evidence in con.execute(
                "SELECT belief, label, family, stance, first_step, last_step, steps, evidence FROM hypotheses "
                "WHERE trace_id = ? ORDER BY first_step, rowid",
                [trace_id],
            ).fetchall()
        ]
        metrics = dict(con.execute("SELECT name, value FROM metrics WHERE trace_id = ?", [trace_id]).fetchall())
        return Analysis(
            trace=trace,
            steps=steps,
            edges=edges,
            beliefs=beliefs,
            hypotheses=hypotheses,
            metrics=metrics,
            taxonomy=t["taxonomy"],
            embedder=t["embedder"],
        )

    # --- writing --------------------------------------------------------------------------

    def write(self, analyses: Sequence[Analysis], *, text: bool = True) -> None:
        """Store a batch of analyses in one transaction (replacing older rows of the same traces).
        ``text=False`` leaves the full texts out (the reasoning, the output and each step's text;
        offsets, kinds, beliefs, evidence quotes and embeddings stay): a corpus-scale store that
        points back at its inputs instead of copying them."""
        if not analyses:
            return
        ids = [a.trace.id for a in analyses]
        tables = _batch_tables(analyses, text=text)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in _TRACE_TABLES:
                con.execute(f"DELETE FROM {table} WHERE trace_id IN (SELECT unnest(?::TEXT[]))", [ids])
            for table, arrow in tables.items():
                con.register("_batch", arrow)
                columns = ", ".join(f'"{c}"' for c in arrow.column_names)
                con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _batch")
                con.unregister("_batch")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def write_skipped(self, skipped: Iterable[Skipped]) -> None:
        rows = [(s.path, s.record, s.reason) for s in skipped]
        if rows:
            self.con.executemany(
                "INSERT INTO skipped VALUES (?, ?, ?, now()) ON CONFLICT DO NOTHING",
                rows,
            )


_SCHEMAS: dict[str, pa.Schema] = {
    "traces": pa.schema(
        [
            ("trace_id", pa.string()),
            ("model", pa.string()),
            ("channel", pa.string()),
            ("question", pa.string()),
            ("source_path", pa.string()),
            ("source_record", pa.int32()),
            ("source_part", pa.string()),
            ("reasoning", pa.string()),
            ("output", pa.string()),
            ("metadata", pa.string()),
            ("embedder", pa.string()),
            ("taxonomy", pa.string()),
            ("n_steps", pa.int32()),
            ("content_hash", pa.string()),
            ("truncated", pa.bool_()),
            ("redacted_blocks", pa.int32()),
        ]
    ),
    "steps": pa.schema(
        [
            ("trace_id", pa.string()),
            ("idx", pa.int32()),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("text", pa.string()),
            ("kind", pa.string()),
            ("parent", pa.int32()),
            ("dead_end", pa.bool_()),
            ("state", pa.int32()),
            ("markers", pa.list_(pa.string())),
            ("embedding", pa.list_(pa.float32())),
        ]
    ),
    "edges": pa.schema(
        [
            ("trace_id", pa.string()),
            ("src", pa.int32()),
            ("dst", pa.int32()),
            ("type", pa.string()),
            ("score", pa.float64()),
        ]
    ),
    "beliefs": pa.schema(
        [
            ("trace_id", pa.string()),
            ("step", pa.int32()),
            ("belief", pa.string()),
            ("score", pa.float64()),
            ("stance", pa.string()),
            ("start", pa.int32()),
            ("end", pa.int32()),
            ("via", pa.string()),
        ]
    ),
    "hypotheses": pa.schema(
        [
            ("trace_id", pa.string()),
            ("belief", pa.string()),
            ("label", pa.string()),
            ("family", pa.string()),
            ("stance", pa.string()),
            ("first_step", pa.int32()),
            ("last_step", pa.int32()),
            ("steps", pa.list_(pa.int32())),
            ("evidence", pa.string()),
        ]
    ),
    "metrics": pa.schema([("trace_id", pa.string()), ("name", pa.string()), ("value", pa.float64())]),
    "outcomes": pa.schema(
        [("trace_id", pa.string()), ("name", pa.string()), ("value", pa.float64()), ("is_bool", pa.bool_())]
    ),
}


def _rows(analysis: Analysis, *, text: bool = True) -> dict[str, list[dict[str, Any]]]:
    """One analysis as rows of each store table (without the full texts when ``text`` is false)."""
    t = analysis.trace
    tid = t.id
    vectors = analysis.embeddings
    trace_row = {
        "trace_id": tid,
        "model": t.model,
        "channel": t.channel,
        "question": t.question,
        "source_path": t.source.path,
        "source_record": t.source.record,
        "source_part": t.source.part,
        "reasoning": t.reasoning if text else None,
        "output": t.output if text else None,
        "metadata": json.dumps(t.metadata, ensure_ascii=False),
        "embedder": analysis.embedder,
        "taxonomy": analysis.taxonomy,
        "n_steps": len(analysis.steps),
        "content_hash": content_hash(t, analysis.embedder, analysis.taxonomy),
        "truncated": t.truncated,
        "redacted_blocks": t.redacted_blocks,
    }
    steps = [
        {
            "trace_id": tid,
            "idx": s.idx,
            "start": s.start,
            "end": s.end,
            "text": s.text if text else None,
            "kind": s.kind,
            "parent": s.parent,
            "dead_end": s.dead_end,
            "state": s.state,
            "markers": list(s.markers),
            "embedding": None if vectors is None else np.asarray(vectors[s.idx], dtype=np.float32).tolist(),
        }
        for s in analysis.steps
    ]
    edges = [{"trace_id": tid, **e.model_dump()} for e in analysis.edges]
    beliefs = [{"trace_id": tid, **b.model_dump()} for b in analysis.beliefs]
    hypotheses = [
        {
            "trace_id": tid,
            **h.model_dump(exclude={"stances", "evidence"}),
            "evidence": json.dumps([e.model_dump() for e in h.evidence], ensure_ascii=False),
        }
        for h in analysis.hypotheses
    ]
    metrics = [
        {"trace_id": tid, "name": name, "value": None if value is None else float(value)}
        for name, value in analysis.metrics.items()
    ]
    outcomes = [
        {"trace_id": tid, "name": name, "value": float(value), "is_bool": isinstance(value, bool)}
        for name, value in t.outcomes.items()
    ]
    return {
        "traces": [trace_row],
        "steps": steps,
        "edges": edges,
        "beliefs": beliefs,
        "hypotheses": hypotheses,
        "metrics": metrics,
        "outcomes": outcomes,
    }


def _batch_tables(analyses: Sequence[Analysis], *, text: bool = True) -> dict[str, pa.Table]:
    """The rows of a batch of analyses, as one Arrow table per store table."""
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in _SCHEMAS}
    for analysis in analyses:
        for table, table_rows in _rows(analysis, text=text).items():
            rows[table].extend(table_rows)
    return {
        table: pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows[table]], schema=schema)
        for table, schema in _SCHEMAS.items()
    }


def pending(
    traces: Iterable[Trace], stored: dict[str, str], embedder: str | None, taxonomy: str | None
) -> Iterator[Trace]:
    """The traces not yet stored with the same content hash: what a resumed run still has to do."""
    for trace in traces:
        if stored.get(trace.id) != content_hash(trace, embedder, taxonomy):
            yield trace


def write_parquet(
    folder: str | Path,
    analyses: Iterable[Analysis],
    skipped: Sequence[Skipped] = (),
    *,
    text: bool = True,
    batch_size: int = 256,
) -> int:
    """Write analyses as Parquet: one sub-folder per store table (``traces``, ``steps``,
    ``edges``, ``beliefs``, ``hypotheses``, ``metrics``, ``outcomes``, ``skipped``), each holding
    ``part-NNNNN.parquet`` files of ``batch_size`` traces, with the store's columns. Memory
    stays bounded by one batch. DuckDB reads a table back with
    ``read_parquet('FOLDER/steps/*.parquet')``. The folder must be new or empty (so that no
    part of an older run is mixed in). Returns the number of traces written."""
    import pyarrow.parquet as pq

    root = Path(folder)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; write Parquet into a new folder")
    for table in (*_SCHEMAS, "skipped"):
        (root / table).mkdir(parents=True, exist_ok=True)
    written = part = 0
    batch: list[Analysis] = []

    def flush() -> None:
        nonlocal part, written
        if not batch:
            return
        for table, arrow in _batch_tables(batch, text=text).items():
            pq.write_table(arrow, root / table / f"part-{part:05d}.parquet")
        written += len(batch)
        part += 1
        batch.clear()

    for analysis in analyses:
        batch.append(analysis)
        if len(batch) >= batch_size:
            flush()
    flush()
    rows = [{"path": s.path, "record": s.record, "reason": s.reason} for s in skipped]
    schema = pa.schema([("path", pa.string()), ("record", pa.int64()), ("reason", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "skipped" / "part-00000.parquet")
    return written

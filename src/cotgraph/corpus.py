"""A stored corpus, for Python users: ``Corpus.open(path)`` then ``.query(expr)``, ``.search(text)``,
``.sql(statement)``. Results are typed and convert to a pandas DataFrame.

The corpus is opened read-only: nothing here can change the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cotgraph.model import Analysis
from cotgraph.store import Store, StoreError


@dataclass
class Rows:
    """A query result: column names and rows, in order."""

    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def records(self) -> list[dict[str, Any]]:
        """One dict per row (what ``--json`` prints)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class Corpus:
    """Read access to a DuckDB store written by ``cotgraph analyze --db``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con

    @classmethod
    def open(cls, path: str | Path) -> Corpus:
        return cls(Store(path, read_only=True))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, statement: str, params: list[Any] | None = None) -> Rows:
        """Run read-only SQL (the connection is read-only: a write fails)."""
        try:
            cursor = self.con.execute(statement, params or [])
        except duckdb.Error as exc:
            raise StoreError(f"SQL error: {exc}") from None
        columns = [d[0] for d in cursor.description or []]
        return Rows(columns, cursor.fetchall())

    def query(self, expr: str, *, steps: bool = False) -> Rows:
        """Traces (or, with ``steps``, their belief-carrying steps) matching a query expression
        (``docs/query.md``): ``explored(eval_awareness) and not explored(grader)``."""
        from cotgraph.query import compile_query

        names = {r[0] for r in self.con.execute("SELECT DISTINCT name FROM metrics").fetchall()}
        compiled = compile_query(expr, known_metrics=names or None)  # a typo gets a "did you mean"
        base = (
            "SELECT t.trace_id, t.model, t.n_steps, t.source_path, t.source_record FROM traces t "
            f"WHERE {compiled.where} ORDER BY t.trace_id"
        )
        if not steps:
            return self.sql(base, list(compiled.params))
        statement = (
            f"WITH hit AS ({base}) SELECT s.trace_id, s.idx AS step, s.kind, list(DISTINCT b.belief) AS beliefs, "
            "s.text FROM hit JOIN steps s ON s.trace_id = hit.trace_id "
            "JOIN beliefs b ON b.trace_id = s.trace_id AND b.step = s.idx "
            "GROUP BY s.trace_id, s.idx, s.kind, s.text ORDER BY s.trace_id, s.idx"
        )
        return self.sql(statement, list(compiled.params))

    def search(self, text: str, *, top: int = 10, model: str | None = None, embedder: str | None = None) -> Rows:
        """The steps nearest in meaning to ``text`` (cosine of step embeddings), across the corpus or
        one model. The sentence is embedded with the embedder the corpus was analysed with."""
        from cotgraph.embed import get_embedder

        names = [r[0] for r in self.con.execute("SELECT DISTINCT embedder FROM traces").fetchall()]
        if embedder is None:
            if len(names) != 1:
                raise StoreError(f"the store holds analyses from {len(names)} embedders {names}; name one")
            embedder = names[0]
        spec = "fast" if "static" in (embedder or "") else "default" if embedder == "all-MiniLM-L6-v2" else embedder
        vector = get_embedder(spec).encode([text])[0].tolist()
        where = "t.embedder = ?"
        params: list[Any] = [vector, embedder]
        if model is not None:
            where += " AND t.model = ?"
            params.append(model)
        params.append(int(top))
        statement = (
            "SELECT s.trace_id, t.model, s.idx AS step, s.kind, "
            "list_cosine_similarity(s.embedding, ?::FLOAT[]) AS similarity, s.text "
            f"FROM steps s JOIN traces t ON t.trace_id = s.trace_id WHERE {where} AND s.embedding IS NOT NULL "
            "ORDER BY similarity DESC, s.trace_id, s.idx LIMIT ?"
        )
        return self.sql(statement, params)

    def compare(
        self,
        by: str = "model",
        metrics: list[str] | None = None,
        n_boot: int = 2000,
        seed: int = 0,
        trace_ids: list[str] | None = None,
    ) -> Any:
        """Per-group statistics with bootstrap intervals, the belief × group matrix and paired
        differences on shared questions (:func:`cotgraph.compare.compare`)."""
        from cotgraph.compare import compare

        return compare(self.con, by=by, metrics=metrics, n_boot=n_boot, seed=seed, trace_ids=trace_ids)

    def trace_ids(self) -> list[str]:
        """Every stored trace id, in ingest order."""
        return self.store.trace_ids()

    def analysis(self, trace_id: str) -> Analysis:
        """One stored trace as an :class:`~cotgraph.model.Analysis` (for rendering, say)."""
        return self.store.read_analysis(trace_id)

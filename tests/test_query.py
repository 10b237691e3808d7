"""The query language (``cotgraph.query``): every construct checked on a real DuckDB store against answers
computed in Python from the same rows; syntax errors; hostile input; and a property test that no text of
the expression ever reaches the SQL."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotgraph.query import (
    COLUMNS,
    And,
    Belief,
    Column,
    Compare,
    CompiledQuery,
    Const,
    Metadata,
    Metric,
    Not,
    Or,
    QuerySyntaxError,
    compile_node,
    compile_query,
    parse,
    query_trace_ids,
)

# --------------------------------------------------------------------------- the store

SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE traces (trace_id TEXT PRIMARY KEY, model TEXT, channel TEXT, question TEXT,
        source_path TEXT, source_record INTEGER, source_part TEXT, reasoning TEXT, output TEXT, metadata JSON,
        embedder TEXT, taxonomy TEXT, n_steps INTEGER, content_hash TEXT, ingested_at TIMESTAMP)""",
    """CREATE TABLE steps (trace_id TEXT, idx INTEGER, start INTEGER, "end" INTEGER, text TEXT, kind TEXT,
        markers TEXT[], embedding FLOAT[], PRIMARY KEY (trace_id, idx))""",
    "CREATE TABLE edges (trace_id TEXT, src INTEGER, dst INTEGER, type TEXT, score DOUBLE)",
    """CREATE TABLE beliefs (trace_id TEXT, step INTEGER, belief TEXT, score DOUBLE, stance TEXT,
        start INTEGER, "end" INTEGER, via TEXT)""",
    """CREATE TABLE hypotheses (trace_id TEXT, belief TEXT, label TEXT, family TEXT, stance TEXT,
        first_step INTEGER, last_step INTEGER, steps INTEGER[], evidence JSON)""",
    "CREATE TABLE metrics (trace_id TEXT, name TEXT, value DOUBLE, PRIMARY KEY (trace_id, name))",
    "CREATE TABLE skipped (path TEXT, record INTEGER, reason TEXT, seen_at TIMESTAMP, UNIQUE (path, record, reason))",
]

T = dict  # a trace row, for brevity
TRACES: dict[str, dict[str, Any]] = {
    "t1": T(model="deepseek-r1", channel="full", n_steps=120, source_path="runs/a.jsonl", taxonomy="metagaming",
            embedder="minilm", metadata={"cue_answer": "D", "pn": "518", "score": 0.9, "flag": True,
                                         "nested": {"k": "v"}}),
    "t2": T(model="qwen-32b", channel="summary", n_steps=40, source_path="runs/a.jsonl", taxonomy="metagaming",
            embedder="minilm", metadata={"cue_answer": "A", "pn": 518, "score": 0.2}),
    "t3": T(model="qwen-7b", channel="full", n_steps=100, source_path="runs/b.jsonl", taxonomy="metagaming",
            embedder="model2vec", metadata={"cue_answer": "D", "flag": False}),
    "t4": T(model="deepseek-r1", channel="summary", n_steps=10, source_path="runs/b.jsonl", taxonomy="reasoning",
            embedder="minilm", metadata={}),
    "t5": T(model="o1_mini", channel="full", n_steps=250, source_path="runs/c.jsonl", taxonomy="metagaming",
            embedder="minilm", metadata=None),
    "t6": T(model="a'b", channel=None, n_steps=None, source_path="runs/c.jsonl", taxonomy=None, embedder=None,
            metadata={"cue_answer": "x' OR 1=1 --"}),
    "t7": T(model="claude", channel="full", n_steps=60, source_path="runs/d.jsonl", taxonomy="metagaming",
            embedder="minilm", metadata={"pn": "abc", "score": "0.5"}),
    "t8": T(model="o1-mini", channel="summary", n_steps=0, source_path="runs/d.jsonl", taxonomy="metagaming",
            embedder="minilm", metadata={"cue_answer": "B", "score": "high"}),
}  # fmt: skip

_BELIEF_KEYS = ("explored", "first", "dwell", "final")


def _beliefs(prefix: str, *values: float | None) -> dict[str, float | None]:
    return {f"{prefix}_{k}": v for k, v in zip(_BELIEF_KEYS, values, strict=True)}


METRICS: dict[str, dict[str, float | None]] = {
    "t1": {"failed_step_fraction": 0.25, "linearity": 0.8, "belief_switches": 3, "metagaming_explored": 1,
           **_beliefs("eval_awareness", 1, 0.1, 0.3, 1), **_beliefs("grader", 1, 0.5, 0.2, 0)},
    "t2": {"failed_step_fraction": 0.1, "linearity": 0.95, "belief_switches": 0, "metagaming_explored": 0,
           **_beliefs("eval_awareness", 0, None, 0.0, 0), **_beliefs("grader", 0, None, 0.05, 0)},
    "t3": {"failed_step_fraction": 0.4, "linearity": 0.6, "belief_switches": 5, "metagaming_explored": 1,
           **_beliefs("eval_awareness", 1, 0.6, 0.15, 0), **_beliefs("grader", 1, 0.2, 0.4, 1)},
    "t4": {"failed_step_fraction": None, "linearity": 1.0, "belief_switches": 1, "metagaming_explored": 1,
           **_beliefs("eval_awareness", 1, 0.0, 0.5, 1), **_beliefs("grader", 0, None, 0.1, 0)},
    "t5": {"failed_step_fraction": 0.2, "linearity": 0.7, "belief_switches": 2, "metagaming_explored": 1,
           **_beliefs("eval_awareness", 0, None, 0.02, 0), **_beliefs("grader", 1, 0.25, 0.1, 1)},
    "t6": {"failed_step_fraction": 0.0, "linearity": None, "belief_switches": 0, "metagaming_explored": 0},
    "t7": {"failed_step_fraction": 0.3, "linearity": 0.9, "belief_switches": 0, "metagaming_explored": 0,
           **_beliefs("eval_awareness", 0, None, 0.0, 0), **_beliefs("grader", 0, None, 0.0, 0)},
    "t8": {},
}  # fmt: skip

HYPOTHESES: dict[str, dict[str, str]] = {
    "t1": {"eval_awareness": "endorsed", "grader": "considered"},
    "t2": {"eval_awareness": "rejected", "grader": "rejected"},
    "t3": {"eval_awareness": "considered", "grader": "endorsed"},
    "t4": {"eval_awareness": "endorsed"},
    "t5": {"eval_awareness": "rejected", "grader": "endorsed"},
    "t7": {"eval_awareness": "rejected"},
}


def make_db() -> duckdb.DuckDBPyConnection:
    """An in-memory store with the schema of docs/schema.md and the rows above."""
    con = duckdb.connect()
    for ddl in SCHEMA:
        con.execute(ddl)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    for tid, row in TRACES.items():
        meta = None if row["metadata"] is None else json.dumps(row["metadata"])
        con.execute(
            "INSERT INTO traces (trace_id, model, channel, source_path, taxonomy, embedder, n_steps, metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [tid, row["model"], row["channel"], row["source_path"], row["taxonomy"], row["embedder"],
             row["n_steps"], meta],
        )  # fmt: skip
    for tid, metrics in METRICS.items():
        for name, value in metrics.items():
            con.execute("INSERT INTO metrics VALUES (?, ?, ?)", [tid, name, value])
    for tid, hyps in HYPOTHESES.items():
        for belief, stance in hyps.items():
            con.execute(
                "INSERT INTO hypotheses (trace_id, belief, label, family, stance) VALUES (?, ?, ?, 'x', ?)",
                [tid, belief, belief, stance],
            )
    return con


@pytest.fixture(scope="module")
def db() -> duckdb.DuckDBPyConnection:
    con = make_db()
    yield con
    con.close()


def run(con: duckdb.DuckDBPyConnection, expr: str) -> list[str]:
    compiled = compile_query(expr)
    return [r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()]


def assert_intact(con: duckdb.DuckDBPyConnection) -> None:
    """Every table is still there with all its rows."""
    assert con.execute("SELECT count(*) FROM traces").fetchone() == (len(TRACES),)
    assert con.execute("SELECT count(*) FROM metrics").fetchone() == (sum(len(m) for m in METRICS.values()),)
    assert con.execute("SELECT count(*) FROM hypotheses").fetchone() == (sum(len(h) for h in HYPOTHESES.values()),)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)


# --------------------------------------------------------------------------- Python reference answers

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def cmp(value: Any, op: str, other: Any) -> bool:
    """SQL comparison where NULL makes the atom false."""
    return value is not None and OPS[op](value, other)


def like(value: str | None, pattern: str) -> bool:
    """SQL LIKE with backslash as the escape character."""
    if value is None:
        return False
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


def metric(tid: str, name: str) -> float | None:
    return METRICS[tid].get(name)


def col(tid: str, name: str) -> Any:
    return TRACES[tid][name]


def meta(tid: str, *path: str) -> str | None:
    """What json_extract_string reads at the path."""
    node: Any = TRACES[tid]["metadata"]
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if node is None:
        return None
    return node if isinstance(node, str) else json.dumps(node)


def meta_num(tid: str, *path: str) -> float | None:
    text = meta(tid, *path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def stance(tid: str, belief: str) -> str | None:
    return HYPOTHESES.get(tid, {}).get(belief)


def explored(tid: str, belief: str) -> bool:
    return metric(tid, f"{belief}_explored") == 1


def final(tid: str, belief: str) -> bool:
    return metric(tid, f"{belief}_final") == 1


def _deepseek(t: str) -> bool:
    return col(t, "model") == "deepseek-r1"


def _full(t: str) -> bool:
    return col(t, "channel") == "full"


def _long(t: str) -> bool:
    return cmp(col(t, "n_steps"), ">", 100)


CASES: list[tuple[str, Callable[[str], bool]]] = [
    # belief functions
    ("explored(eval_awareness)", lambda t: explored(t, "eval_awareness")),
    ("explored(grader)", lambda t: explored(t, "grader")),
    ("final(eval_awareness)", lambda t: final(t, "eval_awareness")),
    ("final(grader) = false", lambda t: metric(t, "grader_final") == 0),
    ("explored(grader) != true", lambda t: metric(t, "grader_explored") == 0),
    ("first(eval_awareness) < 0.3", lambda t: cmp(metric(t, "eval_awareness_first"), "<", 0.3)),
    ("first(grader) >= 0.25", lambda t: cmp(metric(t, "grader_first"), ">=", 0.25)),
    ("dwell(eval_awareness) >= 0.1", lambda t: cmp(metric(t, "eval_awareness_dwell"), ">=", 0.1)),
    ("dwell(grader) = 0.1", lambda t: cmp(metric(t, "grader_dwell"), "=", 0.1)),
    ("stance(eval_awareness) = 'endorsed'", lambda t: stance(t, "eval_awareness") == "endorsed"),
    ("stance(eval_awareness) != 'rejected'", lambda t: cmp(stance(t, "eval_awareness"), "!=", "rejected")),
    ("stance(grader) in ('considered', 'endorsed')", lambda t: stance(t, "grader") in ("considered", "endorsed")),
    ("stance(grader) like 'end%'", lambda t: like(stance(t, "grader"), "end%")),
    ("not stance(grader) = 'endorsed'", lambda t: stance(t, "grader") != "endorsed"),
    # metric names
    ("failed_step_fraction > 0.2", lambda t: cmp(metric(t, "failed_step_fraction"), ">", 0.2)),
    ("failed_step_fraction <= 0.2", lambda t: cmp(metric(t, "failed_step_fraction"), "<=", 0.2)),
    ("failed_step_fraction != 0.2", lambda t: cmp(metric(t, "failed_step_fraction"), "!=", 0.2)),
    ("linearity >= 0.9", lambda t: cmp(metric(t, "linearity"), ">=", 0.9)),
    ("belief_switches = 0", lambda t: cmp(metric(t, "belief_switches"), "=", 0)),
    ("belief_switches > -1", lambda t: metric(t, "belief_switches") is not None),
    ("belief_switches in (1, 2, 3)", lambda t: metric(t, "belief_switches") in (1, 2, 3)),
    ("belief_switches not in (0, 5)", lambda t: metric(t, "belief_switches") not in (None, 0, 5)),
    ("metagaming_explored = true", lambda t: metric(t, "metagaming_explored") == 1),
    ("linearity < .75", lambda t: cmp(metric(t, "linearity"), "<", 0.75)),
    ("linearity < 75e-2", lambda t: cmp(metric(t, "linearity"), "<", 0.75)),
    ("not failed_step_fraction > 0.2", lambda t: not cmp(metric(t, "failed_step_fraction"), ">", 0.2)),
    # trace columns
    ("model = 'deepseek-r1'", lambda t: col(t, "model") == "deepseek-r1"),
    ('model = "a\'b"', lambda t: col(t, "model") == "a'b"),
    (r"model = 'a\'b'", lambda t: col(t, "model") == "a'b"),
    ("channel = 'summary'", lambda t: col(t, "channel") == "summary"),
    ("channel != 'full'", lambda t: cmp(col(t, "channel"), "!=", "full")),
    ("not channel = 'full'", lambda t: col(t, "channel") != "full"),
    ("n_steps >= 100", lambda t: cmp(col(t, "n_steps"), ">=", 100)),
    ("n_steps < 60", lambda t: cmp(col(t, "n_steps"), "<", 60)),
    ("trace_id = 't3'", lambda t: t == "t3"),
    ("trace_id > 't5'", lambda t: t > "t5"),
    ("source_path = 'runs/b.jsonl'", lambda t: col(t, "source_path") == "runs/b.jsonl"),
    ("taxonomy = 'reasoning'", lambda t: col(t, "taxonomy") == "reasoning"),
    ("embedder != 'minilm'", lambda t: cmp(col(t, "embedder"), "!=", "minilm")),
    ("model like 'qwen%'", lambda t: like(col(t, "model"), "qwen%")),
    ("model ~ '%seek%'", lambda t: like(col(t, "model"), "%seek%")),
    ("model !~ '%seek%'", lambda t: not like(col(t, "model"), "%seek%")),
    ("model not like 'qwen%'", lambda t: not like(col(t, "model"), "qwen%")),
    ("model like 'o1_mini'", lambda t: like(col(t, "model"), "o1_mini")),
    (r"model like 'o1\_mini'", lambda t: col(t, "model") == "o1_mini"),
    ("channel in ('summary', 'full')", lambda t: col(t, "channel") in ("summary", "full")),
    ("channel not in ('summary')", lambda t: col(t, "channel") not in (None, "summary")),
    ("model in ('claude', \"o1-mini\", 'nobody')", lambda t: col(t, "model") in ("claude", "o1-mini")),
    # metadata paths
    ("metadata.cue_answer = 'D'", lambda t: meta(t, "cue_answer") == "D"),
    ("meta.cue_answer != 'D'", lambda t: cmp(meta(t, "cue_answer"), "!=", "D")),
    ("meta.pn = '518'", lambda t: meta(t, "pn") == "518"),
    ("meta.pn = 518", lambda t: meta_num(t, "pn") == 518),
    ("metadata.score > 0.5", lambda t: cmp(meta_num(t, "score"), ">", 0.5)),
    ("metadata.score <= 0.5", lambda t: cmp(meta_num(t, "score"), "<=", 0.5)),
    ("metadata.score = 'high'", lambda t: meta(t, "score") == "high"),
    ("metadata.flag = true", lambda t: meta(t, "flag") == "true"),
    ("metadata.flag = false", lambda t: meta(t, "flag") == "false"),
    ("metadata.nested.k = 'v'", lambda t: meta(t, "nested", "k") == "v"),
    ("metadata.cue_answer in ('A', 'B')", lambda t: meta(t, "cue_answer") in ("A", "B")),
    ("metadata.cue_answer like '%OR%'", lambda t: like(meta(t, "cue_answer"), "%OR%")),
    ("metadata.missing = 'x'", lambda t: False),
    ("not metadata.cue_answer = 'D'", lambda t: meta(t, "cue_answer") != "D"),
    # and / or / not / parentheses / precedence
    (
        "explored(eval_awareness) and not final(eval_awareness)",
        lambda t: explored(t, "eval_awareness") and not final(t, "eval_awareness"),
    ),
    (
        "model = 'deepseek-r1' or channel = 'full' and n_steps > 100",
        lambda t: _deepseek(t) or (_full(t) and _long(t)),
    ),
    (
        "(model = 'deepseek-r1' or channel = 'full') and n_steps > 100",
        lambda t: (_deepseek(t) or _full(t)) and _long(t),
    ),
    (
        "not explored(grader) or final(grader) and failed_step_fraction > 0.3",
        lambda t: (not explored(t, "grader")) or (final(t, "grader") and cmp(metric(t, "failed_step_fraction"), ">", 0.3)),  # noqa: E501
    ),
    (
        "not (explored(grader) or final(eval_awareness))",
        lambda t: not (explored(t, "grader") or final(t, "eval_awareness")),
    ),
    ("not not model = 'claude'", lambda t: col(t, "model") == "claude"),
    ("((n_steps > 50))", lambda t: cmp(col(t, "n_steps"), ">", 50)),
    ("true", lambda t: True),
    ("false or trace_id = 't1'", lambda t: t == "t1"),
    # case-insensitive keywords, functions and columns
    ("EXPLORED(eval_awareness) AND NOT Final(eval_awareness)",
     lambda t: explored(t, "eval_awareness") and not final(t, "eval_awareness")),
    ("MODEL LIKE 'qwen%' OR Channel IN ('summary')",
     lambda t: like(col(t, "model"), "qwen%") or col(t, "channel") == "summary"),
    # hostile values bound as parameters
    ("metadata.cue_answer = \"x' OR 1=1 --\"", lambda t: t == "t6"),
    (r"model = 'x\' OR 1=1 --'", lambda t: False),
    ("model = \"a'; DROP TABLE traces; --\"", lambda t: False),
    ("stance(grader) = \"' OR '1'='1\"", lambda t: False),
]  # fmt: skip

ALWAYS_TRIVIAL = {"true", "metadata.missing = 'x'"}


@pytest.mark.parametrize(("expr", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_construct_matches_python(db: duckdb.DuckDBPyConnection, expr: str, predicate: Callable[[str], bool]) -> None:
    expected = sorted(t for t in TRACES if predicate(t))
    assert run(db, expr) == expected
    assert query_trace_ids(db, expr, check_names=False) == expected
    assert_intact(db)


def test_cases_are_informative() -> None:
    """Most cases split the traces, so a wrong translation cannot pass by accident."""
    trivial = []
    for expr, predicate in CASES:
        n = sum(1 for t in TRACES if predicate(t))
        if n in (0, len(TRACES)):
            trivial.append(expr)
    assert len(trivial) <= 8, trivial


def test_precedence_cases_differ() -> None:
    """The precedence cases above would pass with the wrong grouping only if the answers coincided."""
    a = {t for t in TRACES if _deepseek(t) or (_full(t) and _long(t))}
    b = {t for t in TRACES if (_deepseek(t) or _full(t)) and _long(t)}
    assert a != b


# --------------------------------------------------------------------------- the AST


def test_parse_precedence_ast() -> None:
    node = parse("a = 1 or b = 2 and not c = 3")
    assert node == Or(
        (
            Compare(Metric("a"), "=", 1),
            And((Compare(Metric("b"), "=", 2), Not(Compare(Metric("c"), "=", 3)))),
        )
    )


def test_parse_targets() -> None:
    assert parse("explored(grader)") == Compare(Belief("explored", "grader"), "=", True)
    assert parse("stance(grader) != 'x'") == Compare(Belief("stance", "grader"), "!=", "x")
    assert parse("Model = 'x'") == Compare(Column("model"), "=", "x")
    assert parse("meta.a.b in (1, -2.5)") == Compare(Metadata(("a", "b")), "in", (1, -2.5))
    assert parse("x <> 1") == Compare(Metric("x"), "!=", 1)
    assert parse("x == 1") == Compare(Metric("x"), "=", 1)
    assert parse("TRUE") == Const(True)
    assert Belief("first", "grader").metric == "grader_first"
    assert Metadata(("a", "b")).json_path == "$.a.b"


def test_string_escapes() -> None:
    assert parse(r"model = 'a\nb\t\\\"'") == Compare(Column("model"), "=", 'a\nb\t\\"')
    assert parse(r'model = "it\'s"') == Compare(Column("model"), "=", "it's")
    assert parse(r"model like 'a\%'") == Compare(Column("model"), "like", "a\\%")


def test_compile_node_matches_compile_query() -> None:
    expr = "explored(grader) and meta.pn = 518"
    assert compile_node(parse(expr)) == compile_query(expr)


def test_compiled_shape() -> None:
    q = compile_query("failed_step_fraction > 0.2 and metadata.cue_answer = 'D' and explored(eval_awareness)")
    assert isinstance(q, CompiledQuery)
    assert q.params == ["failed_step_fraction", 0.2, "$.cue_answer", "D", "eval_awareness_explored", 1]
    assert q.where.count("?") == len(q.params)
    assert q.sql.startswith("SELECT t.trace_id FROM traces t WHERE ")


def test_n_steps_is_the_trace_column() -> None:
    assert parse("n_steps >= 100") == Compare(Column("n_steps"), ">=", 100)


# --------------------------------------------------------------------------- syntax errors

ERRORS: list[tuple[str, int, str]] = [
    ("", 0, "empty query"),
    ("   ", 3, "empty query"),
    ("model = 'abc", 8, "unclosed string"),
    ('model = "abc\\"', 8, "unclosed string"),
    ("failed_step_fraction", 20, "expected a comparison operator after 'failed_step_fraction'"),
    ("failed_step_fraction >", 22, "expected a value after 'failed_step_fraction'"),
    ("explord(eval_awareness)", 0, "unknown function 'explord'; did you mean 'explored'?"),
    ("stanse(x) = 'a'", 0, "did you mean 'stance'?"),
    ("model = 'a' extra", 12, "expected 'and', 'or' or end of expression"),
    ("(model = 'a'", 12, "expected ')'"),
    ("model = 'a')", 11, "unbalanced ')'"),
    ("()", 1, "empty parentheses"),
    ("model = 'a' and", 15, "expected a field, a function, '(' or 'not'"),
    ("and model = 'a'", 0, "got keyword 'and'"),
    ("explored()", 9, "expected a belief id"),
    ("explored(eval-awareness)", 13, "expected ')' after explored(eval"),
    ("explored('x')", 9, "expected a belief id"),
    ("first(grader)", 13, "expected a comparison operator after 'first(grader)'"),
    ("model = 3", 8, "model is text: expected a string"),
    ("n_steps = 'ten'", 10, "n_steps is a number: expected a number"),
    ("linearity like '1%'", 10, "LIKE needs a text field"),
    ("model like 3", 11, "expected a string pattern"),
    ("model in 'a'", 9, "expected '(' after 'in'"),
    ("model in ('a' 'b')", 14, "expected ',' or ')'"),
    ("meta.x in ('a', 1)", 7, "cannot mix strings and numbers"),
    ("metadata = 'x'", 9, "expected '.' and a key after 'metadata'"),
    ("metadata.'x' = 1", 9, "expected a field name"),
    ("model.x = 'a'", 0, "only metadata fields have dotted paths"),
    ("model ! 'a'", 7, "expected '=' or '~' after '!'"),
    ("n_steps > 10abc", 10, "bad number"),
    ("n_steps > 1e999", 10, "number out of range"),
    ("linearity < true", 12, "true and false can only be compared with = or !="),
    ("model not = 'a'", 10, "expected 'like' or 'in' after 'not'"),
    ("explored(x) = 1", 14, "expected true or false"),
    (r"model like 'abc\\\'", 11, "unclosed string"),
    (r"model like 'abc\\'", 11, "cannot end with a lone backslash"),
    ("model; DROP TABLE traces", 5, "expected a comparison operator after 'model', got ';'"),
    ("model = 'a' -- comment", 12, "got '-'"),
    ("mödel = 'a'", 1, "got 'ö'"),
    ("1 = 1", 0, "expected a field, a function, '(' or 'not', got '1'"),
    ("(" * 200 + "true" + ")" * 200, 64, "nested more than 64 deep"),
    ("not " * 200 + "true", 256, "nested more than 64 deep"),
]


@pytest.mark.parametrize(("expr", "position", "message"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_syntax_errors(expr: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        compile_query(expr)
    err = info.value
    assert message in str(err)
    assert err.position == position, str(err)
    assert err.expected
    assert isinstance(err, ValueError)
    # the message shows the expression and a caret under the position
    lines = str(err).split("\n")
    assert lines[1] == "  " + expr
    assert lines[2] == "  " + " " * position + "^"


def test_error_attributes() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("failed_step_fraction")
    assert info.value.expected.startswith("a comparison operator")
    assert info.value.message == "expected a comparison operator after 'failed_step_fraction', got end of expression"
    assert info.value.expr == "failed_step_fraction"


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- known names


def test_known_metrics_suggest() -> None:
    known = [name for m in METRICS.values() for name in m]
    with pytest.raises(
        QuerySyntaxError, match="unknown metric 'failed_step_fracton'; did you mean 'failed_step_fraction'"
    ):
        compile_query("n_steps > 1 and failed_step_fracton > 0.2", known_metrics=known)
    with pytest.raises(
        QuerySyntaxError, match="unknown belief 'gradr' in explored\\(\\); did you mean 'grader'"
    ) as info:
        compile_query("explored(gradr)", known_metrics=known)
    assert info.value.position == 0
    with pytest.raises(QuerySyntaxError, match="unknown belief 'metagaming' in first"):
        compile_query("first(metagaming) < 0.5", known_metrics=known)
    with pytest.raises(QuerySyntaxError, match="unknown belief 'eval' in stance"):
        compile_query("stance(eval) = 'endorsed'", known_metrics=known)
    # known names pass; trace columns and metadata are never checked against metrics
    compile_query("explored(metagaming) and first(grader) < 1 and model = 'x' and meta.q = 1", known_metrics=known)


def test_query_trace_ids_checks_names(db: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QuerySyntaxError, match="did you mean 'linearity'"):
        query_trace_ids(db, "linearty > 0.5")
    assert query_trace_ids(db, "linearty > 0.5", check_names=False) == []
    assert query_trace_ids(db, "linearity > 0.92") == ["t2", "t4"]


def test_query_trace_ids_empty_store() -> None:
    con = duckdb.connect()
    for ddl in SCHEMA:
        con.execute(ddl)
    assert query_trace_ids(con, "failed_step_fraction > 0.2 and explored(grader)") == []


# --------------------------------------------------------------------------- hostile input

HOSTILE = [
    "model = 'x'' OR 1=1 --'",
    "model = 'x' OR 1=1 --",
    "model = 'a'; DROP TABLE traces; --'",
    "model; DROP TABLE traces",
    "model = 'a' or trace_id = trace_id",
    "model = 'a' union select 1",
    "failed_step_fraction; DELETE FROM metrics",
    "failed_step_fraction > 0 OR 1=1",
    "metadata.cue_answer') = 'x' OR ('1' = '1",
    'metadata."cue_answer" = 1',
    "metadata['cue_answer'] = 'D'",
    "metadata.cue_answer[0] = 'D'",
    "metadata.a'b = 'x'",
    "metadata.$ = 1",
    "metadata.* = 1",
    "meta.a..b = 1",
    "explored('grader')",
    "explored(grader' OR '1'='1)",
    "explored(grader); DROP TABLE traces",
    "stance(\"grader\") = 'endorsed'",
    "stance(grader) = 'endorsed' /* */",
    "first(grader) < 1; DROP TABLE metrics",
    "n_steps > 0x10",
    "model = `a`",
    "model = 'a' \\",
    "model = 'a'\x00",
]


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_input_is_rejected(db: duckdb.DuckDBPyConnection, expr: str) -> None:
    with pytest.raises(QuerySyntaxError):
        compile_query(expr)
    assert_intact(db)


BOUND = [
    ('model = "a\'; DROP TABLE traces; --"', []),
    (r"model = 'x\' OR \'1\'=\'1'", []),
    ("model like \"%' OR '1'='1\"", []),
    ('metadata.cue_answer = "x\' OR 1=1 --"', ["t6"]),
    ('model = "a\'b"', ["t6"]),
    ("stance(grader) = '\\'; DELETE FROM hypotheses; --'", []),
    ("channel in ('); DROP TABLE traces; --', 'summary')", ["t2", "t4", "t8"]),
    ("explored(grader_explored__DROP_TABLE_traces)", []),
    ("metadata.DROP.TABLE.traces = 'x'", []),
    ("trace_id = 't1\x00' or trace_id = '%'", []),
]


@pytest.mark.parametrize(("expr", "expected"), BOUND, ids=[b[0][:40] for b in BOUND])
def test_hostile_values_are_bound(db: duckdb.DuckDBPyConnection, expr: str, expected: list[str]) -> None:
    compiled = compile_query(expr)
    assert_no_user_text(compiled)
    assert run(db, expr) == expected
    assert_intact(db)


# --------------------------------------------------------------------------- property tests

# Every word, string literal and symbol the compiler may emit: anything else in ``where`` came from the input.
SQL_VOCABULARY = {
    "EXISTS", "SELECT", "1", "FROM", "metrics", "m", "WHERE", "AND", "OR", "NOT", "hypotheses", "h",
    "m.trace_id", "t.trace_id", "m.name", "m.value", "h.trace_id", "h.belief", "h.stance",
    "COALESCE", "FALSE", "TRUE", "IN", "LIKE", "ESCAPE", "'\\'", "TRY_CAST", "json_extract_string",
    "t.metadata", "AS", "DOUBLE", "?", "(", ")", ",", "=", "<>", "<", "<=", ">", ">=",
    *(f"t.{c}" for c in COLUMNS),
}  # fmt: skip
_SQL_TOKEN = re.compile(r"\s+|'[^']*'|[A-Za-z_][A-Za-z0-9_.]*|\d+|<>|<=|>=|[?(),=<>]")


def assert_no_user_text(compiled: CompiledQuery) -> None:
    """``where`` is made only of the compiler's own fragments, with one parameter per placeholder."""
    pos, where = 0, compiled.where
    while pos < len(where):
        m = _SQL_TOKEN.match(where, pos)
        assert m is not None, f"unexpected SQL text at {pos}: {where[pos:]!r}"
        if not m.group().isspace():
            assert m.group() in SQL_VOCABULARY, f"{m.group()!r} in {where!r}"
        pos = m.end()
    assert where.count("?") == len(compiled.params)


def check_expression(con: duckdb.DuckDBPyConnection, expr: str) -> None:
    try:
        compiled = compile_query(expr)
    except QuerySyntaxError as err:
        assert 0 <= err.position <= len(expr)
        assert err.expected
        return
    assert_no_user_text(compiled)
    for value in compiled.params:
        if isinstance(value, str) and len(value) > 3 and value not in SQL_VOCABULARY:
            assert value not in compiled.where
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    assert {r[0] for r in rows} <= set(TRACES)
    assert_intact(con)


SHARED_DB = make_db()

_ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
_text = st.text(max_size=20)


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


_literal = st.one_of(
    _text.map(_quote),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false"]),
)
_field = st.one_of(
    st.sampled_from(sorted(COLUMNS)),
    _ident,
    st.lists(_ident, min_size=1, max_size=3).map(lambda p: "metadata." + ".".join(p)),
    st.tuples(st.sampled_from(["explored", "final", "first", "dwell", "stance"]), _ident).map("{0[0]}({0[1]})".format),
)  # fmt: skip
_op = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "like", "~", "not like", "in", "not in", ""])


@st.composite
def _atom(draw: st.DrawFn) -> str:
    op = draw(_op)
    fld = draw(_field)
    if op in ("in", "not in"):
        return f"{fld} {op} ({', '.join(draw(st.lists(_literal, min_size=1, max_size=3)))})"
    if op == "":
        return fld
    return f"{fld} {op} {draw(_literal)}"


_expr = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(" ".join),
        inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_arbitrary_text_is_safe(expr: str) -> None:
    check_expression(SHARED_DB, expr)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expr)
def test_generated_queries_are_safe(expr: str) -> None:
    check_expression(SHARED_DB, expr)


@settings(max_examples=200, deadline=None)
@given(_text)
def test_any_string_value_round_trips(value: str) -> None:
    """Whatever a quoted value holds, it is bound unchanged and matches exactly the rows that hold it."""
    compiled = compile_query(f"model = {_quote(value)} or metadata.cue_answer = {_quote(value)}")
    assert compiled.params == [value, "$.cue_answer", value]
    assert_no_user_text(compiled)
    expected = sorted(t for t in TRACES if col(t, "model") == value or meta(t, "cue_answer") == value)
    assert [r[0] for r in SHARED_DB.execute(compiled.sql, compiled.params).fetchall()] == expected

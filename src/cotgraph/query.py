"""A small expression language for choosing traces in the corpus store, compiled to parameterised SQL.

Examples::

    explored(eval_awareness) and not final(eval_awareness)
    stance(grader) = 'endorsed' or first(reward_hack) < 0.3
    failed_step_fraction > 0.2 and n_steps >= 100
    model like 'qwen%' and channel in ('summary', 'full')
    metadata.cue_answer = 'D' and not meta.pn = 518

Grammar (keywords and function names are case-insensitive)::

    query      = expr EOF
    expr       = and_expr { "or" and_expr }
    and_expr   = not_expr { "and" not_expr }
    not_expr   = "not" not_expr | primary
    primary    = "(" expr ")" | "true" | "false"
               | bool_call [ ("=" | "!=") bool ]
               | value_call condition
               | field condition
    bool_call  = ("explored" | "final") "(" IDENT ")"
    value_call = ("first" | "dwell" | "stance") "(" IDENT ")"
    field      = IDENT { "." IDENT }
    condition  = op literal
               | [ "not" ] ( "like" | "~" ) STRING | "!~" STRING
               | [ "not" ] "in" "(" literal { "," literal } ")"
    op         = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    literal    = STRING | NUMBER | bool
    bool       = "true" | "false"

A field is a trace column (``model``, ``channel``, ``n_steps``, …), a metadata path (``metadata.a.b`` or
``meta.a.b``) or else a metric name (``failed_step_fraction``). Every atom is true or false, never NULL: a
missing metric, metadata key or column value makes the atom false (so ``x != 1`` is false where ``x`` is
missing, while ``not x = 1`` is true), and ``not`` is the plain complement.

Safety: no text of the expression ever reaches the SQL. The compiler emits only fixed fragments of its own
(column names come from a fixed table, never from the input) and ``?`` placeholders; metric names, belief ids,
JSON paths and values are all bound parameters.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "And",
    "Belief",
    "Column",
    "Compare",
    "CompiledQuery",
    "Const",
    "Metadata",
    "Metric",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "compile_node",
    "compile_query",
    "parse",
    "query_trace_ids",
]

MAX_DEPTH = 64
"""Deepest nesting of parentheses and ``not`` accepted (keeps the parser and the SQL shallow)."""

# Trace columns the language knows, and the type of value each is compared with.
COLUMNS: dict[str, Literal["text", "number"]] = {
    "trace_id": "text",
    "model": "text",
    "channel": "text",
    "question": "text",
    "source_path": "text",
    "source_record": "number",
    "source_part": "text",
    "reasoning": "text",
    "output": "text",
    "embedder": "text",
    "taxonomy": "text",
    "n_steps": "number",
    "content_hash": "text",
}
# The SQL for each column: a fixed fragment looked up by name, never built from the input.
_COLUMN_SQL: dict[str, str] = {name: f"t.{name}" for name in COLUMNS}

BOOL_FUNCTIONS = ("explored", "final")
VALUE_FUNCTIONS = ("first", "dwell", "stance")
FUNCTIONS = (*BOOL_FUNCTIONS, *VALUE_FUNCTIONS)
METADATA_ROOTS = ("metadata", "meta")
KEYWORDS = frozenset({"and", "or", "not", "like", "in", "true", "false"})

_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "like": "LIKE", "not like": "NOT LIKE"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = frozenset("0123456789")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

Value = str | int | float | bool


class QuerySyntaxError(ValueError):
    """A malformed query. ``position`` is the 0-based character offset of the problem, ``expected`` says
    what would have been valid there; ``str()`` shows the expression with a caret under the position."""

    def __init__(self, message: str, expr: str, position: int, expected: str = "") -> None:
        self.message = message
        self.expr = expr
        self.position = position
        self.expected = expected
        shown = "".join(" " if c in "\n\r\t\f\v" else c for c in expr)
        super().__init__(f"{message}\n  {shown}\n  {' ' * position}^")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ident, string, number, op, (, ), ",", ".", eof, or bad (a stray character)."""

    kind: str
    text: str
    pos: int
    value: Any = None


def tokenize(expr: str) -> list[Token]:
    """Split ``expr`` into tokens, ending with an ``eof`` token."""
    tokens: list[Token] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "(),.":
            if c == "." and i + 1 < n and expr[i + 1] in _DIGITS:
                i = _number(expr, i, tokens)
            else:
                tokens.append(Token(c, c, i))
                i += 1
        elif c in "'\"":
            i = _string(expr, i, tokens)
        elif c in _DIGITS or (c == "-" and _NUMBER.match(expr, i)):
            i = _number(expr, i, tokens)
        elif c.isascii() and (c.isalpha() or c == "_"):
            m = _IDENT.match(expr, i)
            assert m is not None
            tokens.append(Token("ident", m.group(), i))
            i = m.end()
        elif c in "=!<>~":
            two = expr[i : i + 2]
            if two in ("==", "!=", "<>", "<=", ">=", "!~"):
                tokens.append(Token("op", two, i))
                i += 2
            elif c == "!":
                raise QuerySyntaxError("expected '=' or '~' after '!'", expr, i + 1, "'=' or '~'")
            else:
                tokens.append(Token("op", c, i))
                i += 1
        else:
            # Left for the parser, which knows what was expected here; nothing after it is read.
            tokens.append(Token("bad", c, i))
            break
    tokens.append(Token("eof", "", n))
    return tokens


def _string(expr: str, start: int, tokens: list[Token]) -> int:
    quote = expr[start]
    out: list[str] = []
    i = start + 1
    while i < len(expr):
        c = expr[i]
        if c == quote:
            tokens.append(Token("string", expr[start : i + 1], start, "".join(out)))
            return i + 1
        if c == "\\" and i + 1 < len(expr):
            nxt = expr[i + 1]
            # Known escapes are decoded; any other backslash is kept (so LIKE patterns can say \% and \_).
            out.append(_ESCAPES[nxt] if nxt in _ESCAPES else "\\" + nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    raise QuerySyntaxError("unclosed string", expr, start, f"a closing {quote}")


def _number(expr: str, start: int, tokens: list[Token]) -> int:
    m = _NUMBER.match(expr, start)
    assert m is not None
    text = m.group()
    end = m.end()
    if end < len(expr) and (expr[end].isalnum() or expr[end] == "_"):
        raise QuerySyntaxError(f"bad number {expr[start : end + 1]!r}", expr, start, "a number")
    value: int | float
    if re.fullmatch(r"-?[0-9]+", text) and abs(int(text)) < 2**63:
        value = int(text)
    else:
        value = float(text)
        if not math.isfinite(value):
            raise QuerySyntaxError(f"number out of range: {text}", expr, start, "a finite number")
    tokens.append(Token("number", text, start, value))
    return end


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Column:
    """A column of ``traces``."""

    name: str


@dataclass(frozen=True)
class Metric:
    """A row of ``metrics`` by name."""

    name: str


@dataclass(frozen=True)
class Metadata:
    """A dotted path into the trace's JSON ``metadata``."""

    path: tuple[str, ...]

    @property
    def json_path(self) -> str:
        """The JSON path, e.g. ``$.cue_answer``."""
        return "$." + ".".join(self.path)


@dataclass(frozen=True)
class Belief:
    """``explored``/``first``/``dwell``/``final`` (a belief metric) or ``stance`` (a hypotheses row)."""

    func: str
    belief: str

    @property
    def metric(self) -> str:
        """The metric this function reads (not for ``stance``)."""
        return f"{self.belief}_{self.func}"


Target = Column | Metric | Metadata | Belief


@dataclass(frozen=True)
class Compare:
    """``target op value``; ``op`` is one of = != < <= > >= like, "not like", in, "not in"."""

    target: Target
    op: str
    value: Value | tuple[Value, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    """Logical complement."""

    item: Node


@dataclass(frozen=True)
class And:
    """All of ``items``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any of ``items``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Const:
    """``true`` or ``false``."""

    value: bool


Node = Compare | Not | And | Or | Const


# --------------------------------------------------------------------------- parser


def _describe(tok: Token) -> str:
    return "end of expression" if tok.kind == "eof" else repr(tok.text)


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def is_kw(self, word: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "ident" and tok.text.lower() == word

    def fail(self, message: str, expected: str, tok: Token | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.expr, (tok or self.tok).pos, expected)

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise self.fail("empty query", "an expression")
        node = self.expr_()
        if self.tok.kind != "eof":
            if self.tok.kind == ")":
                raise self.fail("unbalanced ')'", "'and', 'or' or end of expression")
            raise self.fail(
                f"expected 'and', 'or' or end of expression, got {_describe(self.tok)}",
                "'and', 'or' or end of expression",
            )
        return node

    def expr_(self) -> Node:
        items = [self.and_expr()]
        while self.is_kw("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_kw("and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def nested(self, opener: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"expression nested more than {MAX_DEPTH} deep", "a shallower expression", opener)

    def not_expr(self) -> Node:
        if self.is_kw("not"):
            self.nested(self.advance())
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "(":
            self.advance()
            self.nested(tok)
            if self.tok.kind == ")":
                raise self.fail("empty parentheses", "an expression")
            node = self.expr_()
            self.depth -= 1
            if self.tok.kind != ")":
                raise self.fail(f"expected ')' to close the '(' at {tok.pos}, got {_describe(self.tok)}", "')'")
            self.advance()
            return node
        if tok.kind != "ident":
            raise self.fail(
                f"expected a field, a function, '(' or 'not', got {_describe(tok)}",
                "a field, a function, '(' or 'not'",
            )
        word = tok.text.lower()
        if word in ("true", "false"):
            self.advance()
            return Const(word == "true")
        if word in KEYWORDS:
            raise self.fail(f"expected a field, a function, '(' or 'not', got keyword {tok.text!r}", "a field")
        if self.peek().kind == "(":
            return self.call()
        return self.field_compare()

    def call(self) -> Node:
        name_tok = self.advance()
        func = name_tok.text.lower()
        if func not in FUNCTIONS:
            raise self.fail(
                f"unknown function {name_tok.text!r}{_suggest(func, FUNCTIONS)}",
                "one of " + ", ".join(FUNCTIONS),
                name_tok,
            )
        self.advance()  # "("
        arg = self.tok
        if arg.kind != "ident" or arg.text.lower() in KEYWORDS:
            raise self.fail(
                f"expected a belief id (letters, digits, _) in {func}(), got {_describe(arg)}", "a belief id"
            )
        self.advance()
        if self.tok.kind != ")":
            raise self.fail(f"expected ')' after {func}({arg.text}, got {_describe(self.tok)}", "')'")
        self.advance()
        target = Belief(func, arg.text)
        label = f"{func}({arg.text})"
        if func in BOOL_FUNCTIONS:
            if self.tok.kind == "op" and self.tok.text in ("=", "==", "!=", "<>"):
                op_tok = self.advance()
                val = self.tok
                if not (self.is_kw("true") or self.is_kw("false")):
                    raise self.fail(f"expected true or false after {label} {op_tok.text}", "true or false")
                self.advance()
                return Compare(target, _OPS[op_tok.text], val.text.lower() == "true", name_tok.pos)
            return Compare(target, "=", True, name_tok.pos)
        return self.condition(target, label, "text" if func == "stance" else "number", name_tok.pos)

    def field_compare(self) -> Node:
        first = self.advance()
        parts = [first.text]
        while self.tok.kind == ".":
            self.advance()
            if self.tok.kind != "ident":
                raise self.fail(
                    f"expected a field name (letters, digits, _) after '.', got {_describe(self.tok)}", "a field name"
                )
            parts.append(self.advance().text)
        label = ".".join(parts)
        root = parts[0].lower()
        target: Target
        if root in METADATA_ROOTS:
            if len(parts) == 1:
                raise self.fail(f"expected '.' and a key after {first.text!r}", "'.'")
            target, kind = Metadata(tuple(parts[1:])), "any"
        elif len(parts) > 1:
            raise self.fail(
                f"only metadata fields have dotted paths (metadata.{label}?)", "a comparison operator", first
            )
        elif root in COLUMNS:
            target, kind = Column(root), COLUMNS[root]
        else:
            target, kind = Metric(parts[0]), "number"
        return self.condition(target, label, kind, first.pos)

    def condition(self, target: Target, label: str, kind: str, pos: int) -> Compare:
        tok = self.tok
        negate = False
        if self.is_kw("not"):
            negate = True
            self.advance()
            tok = self.tok
        if self.is_kw("like") or (tok.kind == "op" and tok.text in ("~", "!~")):
            self.advance()
            negate = negate or tok.text == "!~"
            if kind == "number":
                raise self.fail(f"{label} is a number: LIKE needs a text field", "a comparison operator", tok)
            val = self.tok
            if val.kind != "string":
                raise self.fail(f"expected a string pattern after {tok.text!r}", "a string")
            self.advance()
            trailing = len(val.value) - len(val.value.rstrip("\\"))
            if trailing % 2:
                raise self.fail("a LIKE pattern cannot end with a lone backslash", "a pattern", val)
            return Compare(target, "not like" if negate else "like", val.value, pos)
        if self.is_kw("in"):
            self.advance()
            if self.tok.kind != "(":
                raise self.fail(f"expected '(' after 'in', got {_describe(self.tok)}", "'('")
            self.advance()
            values = [self.literal(label, kind, "=")]
            while self.tok.kind == ",":
                self.advance()
                values.append(self.literal(label, kind, "="))
            if self.tok.kind != ")":
                raise self.fail(f"expected ',' or ')' in the list, got {_describe(self.tok)}", "',' or ')'")
            self.advance()
            if len({type(v) is str for v in values}) > 1:
                raise self.fail("a list cannot mix strings and numbers", "values of one type", tok)
            return Compare(target, "not in" if negate else "in", tuple(values), pos)
        if negate:
            raise self.fail("expected 'like' or 'in' after 'not'", "'like' or 'in'")
        if tok.kind != "op" or tok.text not in _OPS:
            raise self.fail(
                f"expected a comparison operator after {label!r}, got {_describe(tok)}",
                "a comparison operator (=, !=, <, <=, >, >=, like, ~, in)",
            )
        self.advance()
        op = _OPS[tok.text]
        return Compare(target, op, self.literal(label, kind, op), pos)

    def literal(self, label: str, kind: str, op: str) -> Value:
        tok = self.tok
        value: Value
        if tok.kind in ("string", "number"):
            value = tok.value
        elif self.is_kw("true") or self.is_kw("false"):
            value = tok.text.lower() == "true"
        else:
            raise self.fail(f"expected a value after {label!r}, got {_describe(tok)}", "a string, number or boolean")
        if kind == "text" and not isinstance(value, str):
            raise self.fail(f"{label} is text: expected a string, got {tok.text}", "a string")
        if kind == "number" and isinstance(value, str):
            raise self.fail(f"{label} is a number: expected a number, got {tok.text}", "a number")
        if isinstance(value, bool) and op not in ("=", "!="):
            raise self.fail(f"true and false can only be compared with = or !=, not {op!r}", "a number")
        self.advance()
        return value


def parse(expr: str) -> Node:
    """Parse ``expr`` into an AST, or raise :class:`QuerySyntaxError`."""
    if not isinstance(expr, str):
        raise TypeError(f"expected a str, got {type(expr).__name__}")
    return _Parser(expr).parse()


# --------------------------------------------------------------------------- compiler


@dataclass(frozen=True)
class CompiledQuery:
    """A SQL boolean expression over ``traces t`` using only ``?`` placeholders, and its parameters."""

    where: str
    params: list[object]

    @property
    def sql(self) -> str:
        """The full statement: the matching trace ids, in order."""
        return f"SELECT t.trace_id FROM traces t WHERE {self.where} ORDER BY t.trace_id"


_METRIC_SQL = "EXISTS (SELECT 1 FROM metrics m WHERE m.trace_id = t.trace_id AND m.name = ? AND m.value {cond})"
_STANCE_SQL = "EXISTS (SELECT 1 FROM hypotheses h WHERE h.trace_id = t.trace_id AND h.belief = ? AND h.stance {cond})"
_META_TEXT = "json_extract_string(t.metadata, ?)"
_META_NUMBER = "TRY_CAST(json_extract_string(t.metadata, ?) AS DOUBLE)"


def _condition(op: str, value: Value | tuple[Value, ...], params: list[object]) -> str:
    """``<op> ?`` (or ``IN (?, …)``) with the values appended to ``params``; booleans bind as 1/0."""

    def bind(v: Value) -> None:
        params.append(int(v) if isinstance(v, bool) else v)

    if op in ("in", "not in"):
        assert isinstance(value, tuple)
        for v in value:
            bind(v)
        return ("NOT IN" if op == "not in" else "IN") + " (" + ", ".join("?" for _ in value) + ")"
    assert not isinstance(value, tuple)
    bind(value)
    return f"{_SQL_OPS[op]} ?" + (" ESCAPE '\\'" if op in ("like", "not like") else "")


def _compile(node: Node, params: list[object], known: _Known | None) -> str:
    if isinstance(node, Const):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, Not):
        return f"(NOT {_compile(node.item, params, known)})"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_compile(item, params, known) for item in node.items) + ")"
    target = node.target
    if known is not None:
        known.check(node)
    if isinstance(target, Column):
        column = _COLUMN_SQL[target.name]
        return f"COALESCE({column} {_condition(node.op, node.value, params)}, FALSE)"
    if isinstance(target, Metadata):
        params.append(target.json_path)
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        if all(isinstance(v, str) for v in values):
            return f"COALESCE({_META_TEXT} {_condition(node.op, node.value, params)}, FALSE)"
        if all(isinstance(v, bool) for v in values):
            # JSON true/false read back as the strings 'true'/'false'.
            as_text = tuple("true" if v else "false" for v in values)
            value = as_text if isinstance(node.value, tuple) else as_text[0]
            return f"COALESCE({_META_TEXT} {_condition(node.op, value, params)}, FALSE)"
        return f"COALESCE({_META_NUMBER} {_condition(node.op, node.value, params)}, FALSE)"
    if isinstance(target, Belief) and target.func == "stance":
        params.append(target.belief)
        return _STANCE_SQL.format(cond=_condition(node.op, node.value, params))
    name = target.metric if isinstance(target, Belief) else target.name
    params.append(name)
    return _METRIC_SQL.format(cond=_condition(node.op, node.value, params))


class _Known:
    """Known metric names, to reject misspelt metrics and beliefs with a suggestion."""

    def __init__(self, expr: str, metrics: Collection[str]) -> None:
        self.expr = expr
        self.metrics = set(metrics)
        self.beliefs = {m[: -len("_explored")] for m in self.metrics if m.endswith("_explored")}

    def check(self, node: Compare) -> None:
        target = node.target
        if isinstance(target, Metric) and target.name not in self.metrics:
            raise QuerySyntaxError(
                f"unknown metric {target.name!r}{_suggest(target.name, self.metrics)}",
                self.expr,
                node.pos,
                "a metric name or a trace column",
            )
        if isinstance(target, Belief):
            if target.func == "stance":
                ok, choices = target.belief in self.beliefs, self.beliefs
            else:
                suffix = "_" + target.func
                ok = target.metric in self.metrics
                choices = {m[: -len(suffix)] for m in self.metrics if m.endswith(suffix)}
            if not ok:
                raise QuerySyntaxError(
                    f"unknown belief {target.belief!r} in {target.func}(){_suggest(target.belief, choices)}",
                    self.expr,
                    node.pos,
                    "a belief id",
                )


def compile_node(node: Node) -> CompiledQuery:
    """Compile a parsed AST (see :func:`parse`)."""
    params: list[object] = []
    return CompiledQuery(_compile(node, params, None), params)


def compile_query(expr: str, known_metrics: Collection[str] | None = None) -> CompiledQuery:
    """Parse and compile ``expr`` to a WHERE clause over ``traces t`` and its parameters.

    With ``known_metrics`` (e.g. ``SELECT DISTINCT name FROM metrics``), metric names and belief ids that
    are not among them are rejected with a suggestion instead of silently matching nothing.
    """
    node = parse(expr)
    known = _Known(expr, known_metrics) if known_metrics is not None else None
    params: list[object] = []
    return CompiledQuery(_compile(node, params, known), params)


def query_trace_ids(con: Any, expr: str, *, check_names: bool = True) -> list[str]:
    """Run ``expr`` on a DuckDB connection to a corpus store: the matching trace ids, sorted.

    With ``check_names`` (and a store that has metrics at all), unknown metric names and belief ids raise
    :class:`QuerySyntaxError` instead of matching nothing.
    """
    known: list[str] | None = None
    if check_names:
        known = [r[0] for r in con.execute("SELECT DISTINCT name FROM metrics").fetchall()] or None
    compiled = compile_query(expr, known)
    return [r[0] for r in con.execute(compiled.sql, compiled.params).fetchall()]

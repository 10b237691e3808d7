"""Outcomes read from input records: what the model then did, kept beside its trace.

An outcome is a yes/no or a number the record already holds (``passed``, ``harmful``, a score),
named with ``--outcome-field`` (a dotted path), or a comparison of two fields named with
``--outcome-expr`` (``answer == cue_answer``, ``followed_hint=answer == cue_answer`` to name it).
Inspect logs need neither: each scorer's value is the sample's outcome under the scorer's name.
:mod:`cotgraph.outcomes` links outcomes to the beliefs a trace explored.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OutcomeValue = bool | float
"""A yes/no outcome stays a bool; every other outcome is a float."""

_TRUE = {"true", "yes", "y", "pass", "passed", "correct"}
_FALSE = {"false", "no", "n", "fail", "failed", "incorrect"}
_INSPECT_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
"""Inspect's letter scores, as its ``value_to_float`` reads them: correct, incorrect, partial,
no answer."""

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<right>.+?)\s*$")
_NAMED = re.compile(r"^\s*(?P<name>[A-Za-z_][\w.-]*)\s*=(?!=)\s*(?P<expr>.+)$")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")


class OutcomeSpecError(ValueError):
    """An ``--outcome-expr`` that is not ``FIELD OP FIELD`` (or a literal on one side)."""


def outcome_value(value: Any) -> OutcomeValue | None:
    """A record's value as an outcome: bools stay bools, numbers become floats, the words
    true/false, yes/no, pass/fail become bools; anything else (a missing field, free text, a list)
    is ``None``: the trace has no value for that outcome."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        try:
            number = float(word)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def inspect_score_value(value: Any) -> OutcomeValue | None:
    """An Inspect ``Score.value`` as an outcome: ``C``/``I``/``P``/``N`` are 1, 0, 0.5, 0 (as
    Inspect's ``value_to_float``); bools, numbers and yes/no words as :func:`outcome_value`."""
    if isinstance(value, str) and value.strip() in _INSPECT_LETTERS:
        return _INSPECT_LETTERS[value.strip()]
    return outcome_value(value)


def inspect_scores(scores: Any) -> dict[str, OutcomeValue]:
    """The outcomes of an Inspect sample's ``scores``: each scorer's value under its name; a scorer
    whose value is a dict gives one outcome per key (``scorer.key``)."""
    found: dict[str, OutcomeValue] = {}
    if not isinstance(scores, Mapping):
        return found
    for name, score in scores.items():
        value = score.get("value") if isinstance(score, Mapping) else score
        if isinstance(value, Mapping):
            for key, inner in value.items():
                converted = inspect_score_value(inner)
                if converted is not None:
                    found[f"{name}.{key}"] = converted
            continue
        converted = inspect_score_value(value)
        if converted is not None:
            found[str(name)] = converted
    return found


def _operand(text: str) -> tuple[str, Any]:
    """``("field", dotted path)`` or ``("literal", value)``."""
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        literal = None
    else:
        if isinstance(literal, str | int | float | bool) or literal is None:
            return "literal", literal
    if text in ("true", "false"):
        return "literal", text == "true"
    if text == "null":
        return "literal", None
    if _PATH.match(text):
        return "field", text
    raise OutcomeSpecError(f"{text!r} is neither a dotted field path nor a literal (a number, 'text', true, false)")


@dataclass(frozen=True)
class OutcomeSpec:
    """One outcome to read from every record: a field, or a comparison of two operands."""

    name: str
    field: str | None = None
    op: str | None = None
    left: tuple[str, Any] | None = None
    right: tuple[str, Any] | None = None

    @classmethod
    def from_field(cls, dotted: str) -> OutcomeSpec:
        dotted = dotted.strip()
        if not _PATH.match(dotted):
            raise OutcomeSpecError(f"{dotted!r} is not a dotted field path (e.g. 'scores.passed')")
        return cls(name=dotted, field=dotted)

    @classmethod
    def from_expr(cls, text: str) -> OutcomeSpec:
        """``[NAME=]LEFT OP RIGHT`` with OP one of ``== != < <= > >=``; unnamed, the expression
        itself (spaces normalised) is the outcome's name."""
        named = _NAMED.match(text)
        name, expr = (named["name"], named["expr"]) if named else (None, text)
        found = _EXPR.match(expr)
        if not found:
            raise OutcomeSpecError(f"{text!r}: expected FIELD OP FIELD with OP one of == != < <= > >=")
        left, right = _operand(found["left"]), _operand(found["right"])
        if left[0] == "literal" and right[0] == "literal":
            raise OutcomeSpecError(f"{text!r}: compares two literals; name a field on one side")
        canonical = f"{found['left']} {found['op']} {found['right']}"
        return cls(name=name or canonical, op=found["op"], left=left, right=right)

    def read(self, record: Mapping[str, Any], get: Callable[[Any, str], Any]) -> OutcomeValue | None:
        """This outcome's value in ``record`` (``get`` reads a dotted path, raising KeyError);
        ``None`` when a field is missing or the comparison does not apply (text against a number)."""
        if self.field is not None:
            try:
                return outcome_value(get(record, self.field))
            except KeyError:
                return None
        values = []
        for kind, operand in (self.left, self.right):  # type: ignore[misc]
            if kind == "literal":
                values.append(operand)
                continue
            try:
                values.append(get(record, operand))
            except KeyError:
                return None
        a, b = values
        if a is None or b is None:
            return None if self.op not in ("==", "!=") else _OPERATORS[self.op](a, b)  # type: ignore[index]
        if isinstance(a, str) != isinstance(b, str):
            # a number read as text on one side ('4' vs 4): compare as numbers when both are
            a, b = outcome_value(a), outcome_value(b)
            if a is None or b is None or isinstance(a, bool) != isinstance(b, bool):
                return None
        try:
            return bool(_OPERATORS[self.op](a, b))  # type: ignore[index]
        except TypeError:
            return None


def parse_outcome_specs(fields: tuple[str, ...] | list[str], exprs: tuple[str, ...] | list[str]) -> list[OutcomeSpec]:
    """The specs of ``--outcome-field`` and ``--outcome-expr``; raises :class:`OutcomeSpecError`
    on a bad one or on two outcomes with the same name."""
    specs = [OutcomeSpec.from_field(f) for f in fields] + [OutcomeSpec.from_expr(e) for e in exprs]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise OutcomeSpecError(f"outcome named twice: {', '.join(repeated)}")
    return specs

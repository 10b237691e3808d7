"""Belief taxonomies: YAML files that name the beliefs a step of reasoning can carry.

A taxonomy is a YAML file that a user can write. Two ship with the package, ``metagaming`` and
``reasoning`` (``cotgraph/beliefs/data/*.yaml``); :func:`load_taxonomy` takes either one of those
names or a path. The file is validated on load and every problem is reported at once, each line
naming the file, the belief (position and id) and the key, and the line of the YAML it came from::

    my.yaml: belief 3 (id 'grader'): examples: at least 3 are required, got 2 (line 41)

File shape (``rejects``, ``cues``, ``counter_cues`` and the top-level ``version`` and
``description`` are optional; any other key is an error, to catch typos)::

    name: metagaming            # taxonomy id, lower_snake_case
    version: 1                  # a positive integer (default 1)
    description: ...
    beliefs:
      - id: eval_awareness      # lower_snake_case, unique in the file
        label: Evaluation awareness
        family: evaluation      # a grouping used for reporting, lower_snake_case
        description: ...        # the decision test in one or two sentences
        examples:               # at least 3 example phrasings, each a short step-like sentence
          - ...
        cues:                   # lexical cues: a phrase (matched case-insensitively, as whole tokens)
          - being tested        #   or a spaCy Matcher token pattern
          - {pattern: [{LOWER: testing}, {LOWER: {IN: [me, us]}}]}
        counter_cues:           # phrases or patterns that reject this belief in the same step (the traps)
          - unit test
        rejects: []             # ids of beliefs this one rejects when endorsed

Cues are matched on spaCy's blank English tokenizer (``spacy.blank("en")``, no trained pipeline), so
a token pattern may only use attributes the tokenizer sets (``ORTH``, ``TEXT``, ``LOWER``, ``NORM``,
``LENGTH``, ``IS_*``, ``LIKE_*``, ``SHAPE``, ``PREFIX``, ``SUFFIX``, with ``IN``/``NOT_IN``/``REGEX``
and ``OP``); a pattern that needs a tagger or parser (``POS``, ``LEMMA``, ``DEP``...) would never
match and is rejected at load. A phrase cue is tokenized the same way and becomes a pattern of
``LOWER`` tokens (:meth:`Cue.to_pattern`): ``"red-team"`` is the three tokens ``red``, ``-``,
``team``, and ``"hidden test"`` does not match "hidden tests" (use a pattern with ``IN`` for that).

Loaded taxonomies are shared (the shipped ones are cached): treat them as read-only, and use
``model_copy(deep=True)`` for a copy to change.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from spacy.matcher import Matcher
    from spacy.tokenizer import Tokenizer
    from spacy.vocab import Vocab

__all__ = [
    "MIN_EXAMPLES",
    "SHIPPED",
    "Belief",
    "Cue",
    "Taxonomy",
    "TaxonomyError",
    "load_taxonomy",
    "parse_taxonomy",
    "shipped_taxonomies",
]

MIN_EXAMPLES = 3
"""The fewest example phrasings a belief may have (they anchor the embedding similarity)."""

SHIPPED: tuple[str, ...] = ("metagaming", "reasoning")
"""The taxonomies that ship with the package, by name."""

_DATA_PACKAGE = "cotgraph.beliefs"
_DATA_DIR = "data"

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")

# Token attributes that only a trained pipeline (or a registered extension) sets: on the blank
# tokenizer cotgraph matches with they are empty, so a pattern using them can never match.
_PIPELINE_ATTRS = frozenset(
    {
        "POS",
        "TAG",
        "MORPH",
        "LEMMA",
        "DEP",
        "HEAD",
        "ENT_TYPE",
        "ENT_IOB",
        "ENT_ID",
        "ENT_KB_ID",
        "SENT_START",
        "IS_SENT_START",
        "_",
    }
)


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used: missing, not YAML, or not a valid taxonomy.

    ``str(error)`` is one line per problem, each starting with the file; ``problems`` holds those
    lines and ``path`` the file as given.
    """

    def __init__(self, path: str, problems: Iterable[str]) -> None:
        self.path = path
        self.problems = [f"{path}: {p}" for p in problems]
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------------------------
# spaCy helpers


@cache
def _blank():  # -> spacy.language.Language
    import spacy

    return spacy.blank("en")


def _tokenizer() -> Tokenizer:
    return _blank().tokenizer


def _vocab() -> Vocab:
    return _blank().vocab


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _spacy_error_text(exc: Exception) -> str:
    """spaCy's pattern errors are several lines; keep the ones that say what is wrong."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    details = [ln[2:] for ln in lines if ln.startswith("- ")]
    return "; ".join(details) if details else " ".join(lines)


def _is_optional(token: dict[str, Any]) -> bool:
    op = token.get("OP")
    if op in ("?", "*", "!"):
        return True
    return isinstance(op, str) and bool(re.fullmatch(r"\{0?,\d*\}|\{0(,\d*)?\}", op.replace(" ", "")))


def _attrs(token: dict[str, Any]) -> set[str]:
    return {str(k).upper() for k in token if str(k).upper() != "OP"}


def _check_pattern(pattern: Any) -> list[dict[str, Any]]:
    """Validate one spaCy Matcher token pattern; raise ValueError naming it."""
    from spacy.matcher import Matcher

    shown = _short(pattern)
    if not isinstance(pattern, list) or not pattern:
        raise ValueError(f"pattern must be a non-empty list of token objects, got {shown}")
    for k, token in enumerate(pattern, 1):
        if not isinstance(token, dict):
            raise ValueError(f"{shown}: token {k} must be a mapping like {{LOWER: word}}")
        needs = sorted(_attrs(token) & _PIPELINE_ATTRS)
        if needs:
            raise ValueError(
                f"{shown}: token {k} uses {', '.join(needs)}, which needs a trained spaCy pipeline; "
                "cues are matched on the blank English tokenizer (use LOWER, TEXT, ORTH, NORM, REGEX, IS_* ...)"
            )
        for attr, value in token.items():
            values = value.get("IN", value.get("NOT_IN")) if isinstance(value, dict) else value
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, bool) and str(attr).upper() in _STRING_ATTRS:
                    raise ValueError(
                        f"{shown}: token {k}: {attr} has the boolean {v}; YAML reads on/off/yes/no as "
                        "booleans (also true/false), so quote the word"
                    )
    try:
        Matcher(_vocab(), validate=True).add("cue", [pattern])
    except Exception as exc:  # MatchPatternError, ValueError, re.error, KeyError from spaCy
        raise ValueError(f"invalid spaCy pattern {shown}: {_spacy_error_text(exc)}") from None
    if all(_is_optional(t) for t in pattern):
        raise ValueError(f"{shown}: every token is optional, so it could match nothing")
    return pattern


_STRING_ATTRS = frozenset({"ORTH", "TEXT", "LOWER", "NORM", "SHAPE", "PREFIX", "SUFFIX"})


def _nonblank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _snake_id(value: str) -> str:
    value = value.strip()
    if not _ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not lower_snake_case "
            "(lowercase letters, digits and single underscores, starting with a letter)"
        )
    return value


Text = Annotated[str, AfterValidator(_nonblank)]
Id = Annotated[str, AfterValidator(_snake_id)]


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


# --------------------------------------------------------------------------------------------
# Models


class Cue(BaseModel):
    """A lexical cue: a plain ``phrase`` or a spaCy Matcher token ``pattern`` (exactly one).

    In YAML a bare string is a phrase; ``{pattern: [...]}`` is a pattern (``{phrase: ...}`` works
    too). A phrase is matched case-insensitively as whole tokens.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    phrase: str | None = None
    pattern: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"phrase": data}
        if data is None:
            raise ValueError("a cue must be a phrase or a mapping {pattern: [...]}, got an empty entry")
        return data

    @field_validator("phrase")
    @classmethod
    def _phrase(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("pattern", mode="before")
    @classmethod
    def _pattern(cls, value: Any) -> Any:
        return None if value is None else _check_pattern(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Cue:
        if (self.phrase is None) == (self.pattern is None):
            raise ValueError("a cue needs exactly one of 'phrase' and 'pattern'")
        return self

    @property
    def text(self) -> str:
        """The phrase, or the pattern as compact JSON (for reports and evidence)."""
        return self.phrase if self.phrase is not None else json.dumps(self.pattern, ensure_ascii=False)

    def __str__(self) -> str:
        return self.text

    def to_pattern(self) -> list[dict[str, Any]]:
        """A spaCy Matcher token pattern for this cue (a phrase becomes one ``LOWER`` per token)."""
        if self.pattern is not None:
            return [dict(t) for t in self.pattern]
        assert self.phrase is not None
        return [{"LOWER": t.lower_} for t in _tokenizer()(self.phrase) if not t.is_space]

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> str:
        return _norm(self.phrase) if self.phrase is not None else json.dumps(self.pattern, sort_keys=True)


class Belief(BaseModel):
    """One belief (hypothesis) a step can carry, with the material the tagger matches against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    label: Text
    family: Id
    description: Text = Field(description="The decision test, in one or two sentences.")
    examples: list[Text] = Field(description=f"Example phrasings, at least {MIN_EXAMPLES}.")
    cues: list[Cue] = Field(default_factory=list)
    counter_cues: list[Cue] = Field(default_factory=list)
    rejects: list[Id] = Field(default_factory=list)

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        if len(value) < MIN_EXAMPLES:
            raise ValueError(f"at least {MIN_EXAMPLES} are required, got {len(value)}")
        seen: dict[str, int] = {}
        for k, example in enumerate(value, 1):
            if (first := seen.setdefault(_norm(example), k)) != k:
                raise ValueError(f"example {k} repeats example {first}: {example!r}")
        return value

    @field_validator("cues", "counter_cues")
    @classmethod
    def _no_repeats(cls, value: list[Cue]) -> list[Cue]:
        seen: dict[str, int] = {}
        for k, cue in enumerate(value, 1):
            if (first := seen.setdefault(cue._key(), k)) != k:
                raise ValueError(f"cue {k} repeats cue {first}: {cue.text!r}")
        return value

    @field_validator("rejects")
    @classmethod
    def _rejects_unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({v for v in value if value.count(v) > 1})
        if dupes:
            raise ValueError(f"lists {', '.join(map(repr, dupes))} more than once")
        return value

    def __hash__(self) -> int:
        return hash((self.id, self.label, self.family, tuple(self.examples)))

    @model_validator(mode="after")
    def _consistent(self) -> Belief:
        if self.id in self.rejects:
            raise _EntryProblems([(("rejects",), f"a belief cannot reject itself ({self.id!r})")])
        both = {c._key() for c in self.cues} & {c._key() for c in self.counter_cues}
        if both:
            shown = ", ".join(repr(c.text) for c in self.cues if c._key() in both)
            raise _EntryProblems([(("counter_cues",), f"also listed as cues: {shown}")])
        return self


class _EntryProblems(ValueError):
    """Problems raised by a model-level check, each with the location it belongs to.

    Raised inside a pydantic validator it ends up in the error's ``ctx``; :func:`_problems` unpacks
    it so each problem is reported at its own location (the belief it names, with its line).
    """

    def __init__(self, items: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.items = items
        super().__init__("; ".join(_render_loc(loc, None) + msg for loc, msg in items))


class Taxonomy(BaseModel):
    """A set of beliefs, as loaded from one YAML file.

    ``beliefs`` keeps the file's order; ``get(id)`` finds one, ``ids`` lists them, ``families``
    maps each family to the ids in it, and ``source`` is the file it came from (``None`` when it
    was built in Python or parsed from a string).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Id
    version: int = Field(default=1, ge=1, strict=True)
    description: str = ""
    beliefs: list[Belief]

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("beliefs")
    @classmethod
    def _some(cls, value: list[Belief]) -> list[Belief]:
        if not value:
            raise ValueError("at least one belief is required")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Taxonomy:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        first_at: dict[str, int] = {}
        for i, belief in enumerate(self.beliefs):
            j = first_at.setdefault(belief.id, i)
            if j != i:
                problems.append((("beliefs", i, "id"), f"duplicate id {belief.id!r} (first used by belief {j + 1})"))
        known = set(first_at)
        for i, belief in enumerate(self.beliefs):
            for r in belief.rejects:
                if r not in known:
                    hint = difflib.get_close_matches(r, sorted(known), n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    problems.append((("beliefs", i, "rejects"), f"{r!r} is not a belief id in this file{extra}"))
        example_at: dict[str, int] = {}
        for i, belief in enumerate(self.beliefs):
            for k, example in enumerate(belief.examples):
                j = example_at.setdefault(_norm(example), i)
                if j != i:
                    other = self.beliefs[j]
                    problems.append(
                        (
                            ("beliefs", i, "examples", k),
                            f"{example!r} is also an example of belief {j + 1} (id {other.id!r}); "
                            "an example must point to one belief",
                        )
                    )
        if problems:
            raise _EntryProblems(problems)
        return self

    def __hash__(self) -> int:
        # Equal taxonomies have equal names, versions and ids; the lists inside are not hashable.
        return hash((self.name, self.version, tuple(b.id for b in self.beliefs)))

    # -- access -------------------------------------------------------------------------------

    @property
    def source(self) -> Path | None:
        """The file this taxonomy was loaded from."""
        return self._source

    @property
    def ids(self) -> list[str]:
        """Belief ids, in file order."""
        return [b.id for b in self.beliefs]

    @property
    def families(self) -> dict[str, list[str]]:
        """Family name → ids of its beliefs, both in file order (iterate it for the family names)."""
        out: dict[str, list[str]] = {}
        for b in self.beliefs:
            out.setdefault(b.family, []).append(b.id)
        return out

    def get(self, belief_id: str) -> Belief:
        """The belief with this id; ``KeyError`` (with the closest ids) when there is none."""
        for b in self.beliefs:
            if b.id == belief_id:
                return b
        hint = difflib.get_close_matches(belief_id, self.ids, n=3)
        extra = f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""
        raise KeyError(f"taxonomy {self.name!r} has no belief {belief_id!r}{extra}")

    def __contains__(self, belief_id: object) -> bool:
        return any(b.id == belief_id for b in self.beliefs)

    def build_matcher(self, vocab: Vocab | None = None) -> Matcher:
        """A spaCy ``Matcher`` over every belief's cues and counter-cues.

        Rule names: ``"<belief id>"`` for its cues and ``"<belief id>:counter"`` for its counter-cues
        (read them back with ``vocab.strings[match_id]``). ``vocab`` defaults to that of
        ``spacy.blank("en")``; the text must be tokenized with a tokenizer sharing it.
        """
        from spacy.matcher import Matcher

        matcher = Matcher(vocab if vocab is not None else _vocab())
        for b in self.beliefs:
            if b.cues:
                matcher.add(b.id, [c.to_pattern() for c in b.cues])
            if b.counter_cues:
                matcher.add(f"{b.id}:counter", [c.to_pattern() for c in b.counter_cues])
        return matcher


# --------------------------------------------------------------------------------------------
# Loading


class _Loader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys in a mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            if isinstance(key, (str, int, float, bool)):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    what = f"{context}: {problem}" if context and "duplicate key" not in problem else problem
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"not valid YAML: {where}{what}"


def _node_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """The deepest YAML node along ``loc`` (mapping keys and list indexes), for its line number."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _key_node(root: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """For an unknown key: the key's own node, so the line points at the typo."""
    parent = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == loc[-1]:
                return key_node
    return parent


def _render_loc(loc: tuple[str | int, ...], data: Any) -> str:
    """``('beliefs', 2, 'examples', 0)`` → ``"belief 3 (id 'grader'): examples, item 1: "``."""
    parts: list[str] = []
    rest = list(loc)
    if len(rest) >= 2 and rest[0] == "beliefs" and isinstance(rest[1], int):
        i = rest[1]
        label = f"belief {i + 1}"
        raw = data.get("beliefs") if isinstance(data, dict) else None
        entry = raw[i] if isinstance(raw, list) and 0 <= i < len(raw) else None
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"].strip():
            label += f" (id {entry['id'].strip()!r})"
        parts.append(label)
        rest = rest[2:]
    if rest:
        parts.append(", ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in rest))
    return "".join(p + ": " for p in parts)


_FIELDS_BY_DEPTH = {
    0: sorted(Taxonomy.model_fields),
    2: sorted(Belief.model_fields),
    4: sorted(Cue.model_fields),
}


def _problems(exc: ValidationError, data: Any, root: yaml.Node | None) -> list[str]:
    """One line per problem, in the order of the file (problems without a line keep their place last)."""
    found: list[tuple[str, yaml.Node | None]] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _EntryProblems):
            for sub_loc, msg in ctx_error.items:
                full = loc + sub_loc
                found.append((_render_loc(full, data) + msg, _node_at(root, full)))
            continue
        kind = err["type"]
        if kind == "extra_forbidden" and loc:
            key = str(loc[-1])
            known = _FIELDS_BY_DEPTH.get(len(loc) - 1, [])
            hint = difflib.get_close_matches(key, known, n=1)
            msg = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            if known:
                msg += f"; allowed keys: {', '.join(known)}"
            found.append((_render_loc(loc[:-1], data) + msg, _key_node(root, loc)))
        elif kind == "missing" and loc:
            msg = f"missing required key {str(loc[-1])!r}"
            found.append((_render_loc(loc[:-1], data) + msg, _node_at(root, loc[:-1])))
        else:
            msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if kind == "model_type" and len(loc) == 2 and loc[0] == "beliefs":
                msg = "each belief must be a mapping of keys (id, label, family, description, examples, ...)"
            found.append((_render_loc(loc, data) + msg, _node_at(root, loc)))
    lines = [(node.start_mark.line if node is not None else float("inf"), k) for k, (_, node) in enumerate(found)]
    return [_with_line(*found[k]) for _, k in sorted(lines)]


def _with_line(text: str, node: yaml.Node | None) -> str:
    return f"{text} (line {node.start_mark.line + 1})" if node is not None else text


def parse_taxonomy(text: str, source: str | Path = "<string>") -> Taxonomy:
    """Parse and validate a taxonomy from YAML text; error messages name ``source``.

    ``source`` becomes :attr:`Taxonomy.source` unless it is the default ``"<string>"``.
    """
    taxonomy = _parse(text, str(source))
    if source != "<string>":
        taxonomy._source = Path(source)
    return taxonomy


def _parse(text: str, where: str) -> Taxonomy:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise TaxonomyError(where, [_yaml_problem(exc)]) from None
    finally:
        loader.dispose()
    if data is None:
        raise TaxonomyError(where, ["the file is empty; expected a mapping with keys name, beliefs, ..."])
    if not isinstance(data, dict):
        raise TaxonomyError(
            where, [f"the top level must be a mapping with keys name, beliefs, ..., got a {type(data).__name__}"]
        )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise TaxonomyError(where, _problems(exc, data, root)) from None


def _read(path: Path, where: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        shipped = ", ".join(SHIPPED)
        raise TaxonomyError(where, [f"file not found (the shipped taxonomies are: {shipped})"]) from None
    except IsADirectoryError:
        raise TaxonomyError(where, ["is a directory, not a taxonomy file"]) from None
    except OSError as exc:
        raise TaxonomyError(where, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaxonomyError(where, [f"not UTF-8 text (byte {exc.start})"]) from None


def shipped_taxonomies() -> tuple[str, ...]:
    """Names of the taxonomies that ship with the package."""
    return SHIPPED


@cache
def _load_shipped(name: str) -> Taxonomy:
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(f"{name}.yaml")
    where = f"{name}.yaml (shipped)"
    try:
        text = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        raise TaxonomyError(where, ["package data missing: reinstall cotgraph"]) from None
    taxonomy = _parse(text, where)
    taxonomy._source = Path(str(resource))
    return taxonomy


def load_taxonomy(name_or_path: str | Path | Taxonomy) -> Taxonomy:
    """Load a taxonomy: a shipped name (``"metagaming"``, ``"reasoning"``) or a path to a YAML file.

    A plain string that is a shipped name loads the shipped file (cached: repeated calls return the
    same object); anything else is read as a path, every call. A :class:`Taxonomy` is returned
    as is. Raises :class:`TaxonomyError` naming the file and the entry for every problem.
    """
    if isinstance(name_or_path, Taxonomy):
        return name_or_path
    if isinstance(name_or_path, str) and name_or_path in SHIPPED:
        return _load_shipped(name_or_path)
    where = str(name_or_path)
    path = Path(name_or_path).expanduser()
    taxonomy = _parse(_read(path, where), where)
    taxonomy._source = path
    return taxonomy

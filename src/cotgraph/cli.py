"""The ``cotgraph`` command: a thin typer app over the library; it formats, it does not decide.

Exit codes (the same for every command that reads traces):

- 0: every input record was analysed;
- 1: nothing usable: no trace at all could be read (or a fatal error);
- 2: some records were skipped (each is reported with its file, record and reason);
- 64: the command line itself is wrong (unknown option, bad value).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cotgraph import __version__
from cotgraph.io import FILE_FORMATS, DuplicateTraceIdError, LoadOptions, iter_load
from cotgraph.model import Analysis, Skipped, Trace

if typing.TYPE_CHECKING:
    from cotgraph.engine import AnalyzeConfig
from cotgraph.segment import Granularity, SegmentConfig, segment

EXIT_OK = 0
EXIT_NOTHING = 1
EXIT_PARTIAL = 2
EXIT_USAGE = 64

app = typer.Typer(
    name="cotgraph",
    help="Turn chain-of-thought traces into search graphs and ask what the model explored.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
if not out.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    out = Console(soft_wrap=True, width=200)

# --- the input options every reading command shares ------------------------------------------

Inputs = Annotated[list[str], typer.Argument(help="Files or folders of traces.", show_default=False)]
FormatOpt = Annotated[
    str | None,
    typer.Option("--format", help=f"Force the file format: {', '.join(FILE_FORMATS)}.", show_default=False),
]
TextFieldOpt = Annotated[
    str | None, typer.Option("--text-field", help="Dotted path to the reasoning text in each record.")
]
ModelFieldOpt = Annotated[str | None, typer.Option("--model-field", help="Dotted path to the model name.")]
IdFieldOpt = Annotated[str | None, typer.Option("--id-field", help="Dotted path to the record's id.")]
QuestionFieldOpt = Annotated[
    str | None, typer.Option("--question-field", help="Dotted path to the question or prompt.")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name for traces whose source does not name one.")]
ModelFromPathOpt = Annotated[
    str | None,
    typer.Option(
        "--model-from-path",
        help="Regex searched in each file path; its group 'model' names the model, other named groups become metadata.",
    ),
]
KeepAnnotationsOpt = Annotated[
    bool,
    typer.Option("--keep-annotations", help="Keep data-set annotation tags (Thoughtology's <BLOOM>…) in the text."),
]
OutcomeFieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--outcome-field",
        help="Dotted path to an outcome in each record (bool or number: passed, harmful, a score); repeatable.",
        show_default=False,
    ),
]
OutcomeExprOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--outcome-expr",
        help="An outcome from two fields: '[NAME=]LEFT OP RIGHT' ('followed_hint=answer == cue_answer'); repeatable.",
        show_default=False,
    ),
]
GranularityOpt = Annotated[str, typer.Option("--granularity", "-g", help="sentence, step or paragraph.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (see docs/cli.md).")]


_INPUT_PARAMS: list[tuple[str, Any, Any]] = [
    ("fmt", FormatOpt, None),
    ("text_field", TextFieldOpt, None),
    ("model_field", ModelFieldOpt, None),
    ("id_field", IdFieldOpt, None),
    ("question_field", QuestionFieldOpt, None),
    ("model", ModelOpt, None),
    ("model_from_path", ModelFromPathOpt, None),
    ("keep_annotations", KeepAnnotationsOpt, False),
    ("outcome_fields", OutcomeFieldOpt, None),
    ("outcome_exprs", OutcomeExprOpt, None),
]


def _load_options(values: dict[str, Any]) -> LoadOptions:
    fmt = values["fmt"]
    if fmt is not None and fmt not in FILE_FORMATS:
        raise typer.BadParameter(
            f"unknown format '{fmt}'; choose one of {', '.join(FILE_FORMATS)}", param_hint="--format"
        )
    if values["model_from_path"] is not None:
        try:
            re.compile(values["model_from_path"])
        except re.error as exc:
            raise typer.BadParameter(f"not a regular expression: {exc}", param_hint="--model-from-path") from None
    from cotgraph.io.outcome_fields import OutcomeSpecError, parse_outcome_specs

    fields, exprs = tuple(values["outcome_fields"] or ()), tuple(values["outcome_exprs"] or ())
    try:
        parse_outcome_specs(fields, exprs)
    except OutcomeSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--outcome-field/--outcome-expr") from None
    rest = {k: v for k, v in values.items() if k not in ("fmt", "outcome_fields", "outcome_exprs")}
    return LoadOptions(format=fmt, outcome_fields=fields, outcome_exprs=exprs, **rest)


def _resolve(annotation: Any, command: Callable[..., None]) -> Any:
    """A string annotation (``from __future__ import annotations``) evaluated in the command's
    module, so that typer sees the real ``Annotated[...]`` type."""
    return eval(annotation, command.__globals__) if isinstance(annotation, str) else annotation


def _option_group(
    target: str, group: list[tuple[str, Any, Any]], build: Callable[[dict[str, Any]], Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator that shows the options of ``group`` on the command line in place of the
    command's parameter ``target``, and hands the command ``build(their values)`` as ``target``."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command)
        params = [
            p.replace(annotation=_resolve(p.annotation, command))
            for p in signature.parameters.values()
            if p.name != target
        ]
        shared = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            for name, annotation, default in group
        ]
        names = {name for name, _, _ in group}

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            values = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            command(**{target: build(values)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*params, *shared])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*params, *shared]}
        return wrapper

    return decorate


reads_traces = _option_group("options", _INPUT_PARAMS, _load_options)
"""Every command that reads traces declares ``options: LoadOptions`` and gets ``--format``,
``--text-field`` … in its place."""


def _granularity(value: str) -> Granularity:
    if value not in ("sentence", "step", "paragraph"):
        raise typer.BadParameter(f"'{value}' is not one of sentence, step, paragraph", param_hint="--granularity")
    return value  # type: ignore[return-value]


def _progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} traces"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )


def _read(
    inputs: list[str], options: LoadOptions, skipped: list[Skipped], *, show_progress: bool = True
) -> Iterator[Trace]:
    """Traces in input order, collecting skipped records; a progress line on a terminal."""
    with _progress(show_progress and err.is_terminal) as progress:
        task = progress.add_task("reading", total=None)
        try:
            for item in iter_load(inputs, options):
                if isinstance(item, Skipped):
                    skipped.append(item)
                else:
                    progress.advance(task)
                    yield item
        except DuplicateTraceIdError as exc:
            progress.stop()
            _error(exc)
            raise typer.Exit(EXIT_NOTHING) from None


def _where(s: Skipped) -> str:
    return s.path if s.record is None else f"{s.path} record {s.record}"


def _report_skipped(skipped: list[Skipped], limit: int | None = 20) -> None:
    from rich.markup import escape

    shown = skipped if limit is None else skipped[:limit]
    for s in shown:
        err.print(f"[yellow]skipped[/yellow] {escape(_where(s))}: {escape(s.reason)}", highlight=False)
    if limit is not None and len(skipped) > limit:
        err.print(f"… and {len(skipped) - limit} more skipped records (`cotgraph inspect` lists them all)")


def _exit_code(n_traces: int, skipped: list[Skipped]) -> int:
    if n_traces == 0:
        return EXIT_NOTHING
    return EXIT_PARTIAL if skipped else EXIT_OK


def _error(message: object) -> None:
    """One red ``error:`` line; the message is printed as it is (a trace id or path holding
    ``[/red]`` is text, not markup)."""
    from rich.markup import escape

    err.print(f"[red]error:[/red] {escape(str(message))}", highlight=False)


def _json_line(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# --- commands --------------------------------------------------------------------------------


@app.command("inspect")
@reads_traces
def inspect_cmd(
    inputs: Inputs,
    options: LoadOptions,
    granularity: GranularityOpt = "step",
    as_json: JsonOpt = False,
) -> None:
    """List the traces found (id, model, channel, characters, steps) and every skipped record."""
    config = SegmentConfig(granularity=_granularity(granularity))
    skipped: list[Skipped] = []
    rows = [
        {
            "trace_id": t.id,
            "model": t.model,
            "channel": t.channel,
            "chars": len(t.reasoning),
            "steps": len(segment(t, config)),
        }
        for t in _read(inputs, options, skipped)
    ]
    if as_json:
        _json_line({"traces": rows, "skipped": [s.model_dump() for s in skipped]})
    else:
        table = Table(title=f"{len(rows)} traces", title_justify="left")
        for col, justify in (
            ("trace_id", "left"),
            ("model", "left"),
            ("channel", "left"),
            ("chars", "right"),
            ("steps", "right"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in rows:
            table.add_row(r["trace_id"], r["model"] or "-", r["channel"], str(r["chars"]), str(r["steps"]))
        out.print(table)
        if skipped:
            skipped_table = Table(title=f"{len(skipped)} skipped records", title_justify="left")
            for col in ("path", "record", "reason"):
                skipped_table.add_column(col, overflow="fold")
            for s in skipped:
                skipped_table.add_row(s.path, "-" if s.record is None else str(s.record), s.reason)
            out.print(skipped_table)
    raise typer.Exit(_exit_code(len(rows), skipped))


@app.command("segment")
@reads_traces
def segment_cmd(
    inputs: Inputs,
    options: LoadOptions,
    granularity: GranularityOpt = "step",
    as_json: JsonOpt = False,
) -> None:
    """Print the steps of every trace, with their character offsets and opening markers."""
    config = SegmentConfig(granularity=_granularity(granularity))
    skipped: list[Skipped] = []
    n = 0
    for trace in _read(inputs, options, skipped):
        n += 1
        steps = segment(trace, config)
        if as_json:
            _json_line(
                {
                    "trace_id": trace.id,
                    "model": trace.model,
                    "reasoning": trace.reasoning,
                    "steps": [
                        {"idx": s.idx, "start": s.start, "end": s.end, "text": s.text, "markers": s.markers}
                        for s in steps
                    ],
                }
            )
            continue
        out.rule(f"{trace.id}  [dim]{trace.model or 'unknown model'} · {len(steps)} steps[/dim]")
        for s in steps:
            markers = f" [cyan]{'/'.join(s.markers)}[/cyan]" if s.markers else ""
            out.print(f"[bold]{s.idx:>4}[/bold] [dim]{s.start}-{s.end}[/dim]{markers}", highlight=False)
            out.print(s.text, markup=False, highlight=False)
    _report_skipped(skipped)
    raise typer.Exit(_exit_code(n, skipped))


EmbedderOpt = Annotated[
    str,
    typer.Option(
        "--embedder",
        help="default (all-MiniLM-L6-v2, bundled), fast (its static distillation, built once and cached), "
        "or a sentence-transformers model name or path available offline.",
    ),
]
BeliefsOpt = Annotated[
    str,
    typer.Option(
        "--beliefs",
        help="Belief taxonomy: metagaming (default), reasoning, a YAML file of your own, or 'none'.",
    ),
]
ClassifierOpt = Annotated[
    str | None,
    typer.Option(
        "--classifier",
        help="module:function of your own classifier that confirms or vetoes candidate belief tags.",
    ),
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, mps … (default: a GPU if present).")]
WeightsOpt = Annotated[
    str,
    typer.Option(
        "--belief-weights",
        help="Learned tagger weights: auto (the packaged ones for the shipped taxonomy and embedder), "
        "a .npz file from `cotgraph train-beliefs`, or 'none' for the cue + similarity rule.",
    ),
]
StatesOpt = Annotated[
    str,
    typer.Option(
        "--states",
        help="State-graph states: 'trace' (k-means per trace) or 'corpus' (k-means over all inputs; "
        "holds their embeddings in memory).",
    ),
]
KindWeightsOpt = Annotated[
    str,
    typer.Option(
        "--kind-weights",
        help="Step-kind classifier: 'auto' (the packaged weights of the bundled embedder), a .npz file from "
        "`cotgraph train-kinds`, or 'none' for the marker-and-cue rule.",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Processes to analyse in, each loading the model once; output is in input order "
        "(default: every core; 1: this process).",
        min=1,
    ),
]
MinProbOpt = Annotated[
    float,
    typer.Option("--min-prob", help="Tag a learned belief when its probability reaches this (0-1].", min=0.0, max=1.0),
]

TABLE_METRICS: dict[str, str] = {
    "n_steps": "steps",
    "depth": "depth",
    "n_branches": "branches",
    "backtrack_rate": "backtrack/step",
    "verification_rate": "verify/step",
    "revisit_rate": "revisit/step",
    "failed_step_fraction": "FSF",
    "n_cycles": "cycles",
    "small_world_index": "small-world",
    "linearity": "linearity",
}
"""The key metrics ``cotgraph metrics`` shows by default, with their column headers."""


def _states(value: str) -> str:
    if value not in ("trace", "corpus"):
        raise typer.BadParameter(f"{value!r} is not 'trace' or 'corpus'", param_hint="--states")
    return value


def _analyze_config(values: dict[str, Any]) -> AnalyzeConfig:
    from cotgraph.engine import AnalyzeConfig

    beliefs = values["beliefs"]
    from cotgraph.graph import GraphConfig

    return AnalyzeConfig(
        segment=SegmentConfig(granularity=_granularity(values["granularity"])),
        graph=GraphConfig(states=_states(values["states"])),
        embedder=values["embedder"],
        device=values["device"],
        beliefs=None if beliefs.lower() == "none" else beliefs,
        classifier=values["classifier"],
        belief_weights=values["belief_weights"],
        min_prob=values["min_prob"],
        kind_weights=values["kind_weights"],
        workers=values["workers"] or 0,  # 0: every core (the Ray engine: every CPU of the cluster)
    )


analyzes_traces = _option_group(
    "config",
    [
        ("granularity", GranularityOpt, "step"),
        ("embedder", EmbedderOpt, "default"),
        ("device", DeviceOpt, None),
        ("beliefs", BeliefsOpt, "metagaming"),
        ("classifier", ClassifierOpt, None),
        ("belief_weights", WeightsOpt, "auto"),
        ("min_prob", MinProbOpt, 0.5),
        ("kind_weights", KindWeightsOpt, "auto"),
        ("states", StatesOpt, "trace"),
        ("workers", WorkersOpt, None),
    ],
    _analyze_config,
)
"""Every command that analyses traces declares ``config: AnalyzeConfig`` and gets
``--granularity``, ``--embedder``, ``--device``, ``--beliefs``, ``--classifier``,
``--belief-weights``, ``--min-prob``, ``--kind-weights``, ``--states``, ``--workers`` in its place."""


def _analyses(
    inputs: list[str], options: LoadOptions, config: AnalyzeConfig, skipped: list[Skipped]
) -> Iterator[Analysis]:
    """Analyses in input order, with a progress bar over embedded steps on a terminal."""
    return _analyse(_read(inputs, options, skipped, show_progress=False), config)


def _analyse(traces: Iterator[Trace] | list[Trace], config: AnalyzeConfig) -> Iterator[Analysis]:
    """Analyses of the given traces, with a progress bar; a bad embedder, taxonomy or classifier
    ends the command with one line (exit 1)."""
    from cotgraph.beliefs.learned import WeightsError
    from cotgraph.beliefs.tagger import ClassifierError
    from cotgraph.beliefs.taxonomy import TaxonomyError
    from cotgraph.embed import EmbeddingError, get_embedder
    from cotgraph.engine import make_kind_model, make_tagger
    from cotgraph.kinds import KindWeightsError
    from cotgraph.workers import analyze_parallel

    try:
        model = get_embedder(config.embedder, device=config.device)
        make_tagger(config, model)  # fail now, in one line, on a bad taxonomy, classifier or weights
        make_kind_model(config, model)
    except (EmbeddingError, TaxonomyError, ClassifierError, WeightsError, KindWeightsError) as exc:
        _error(exc)
        raise typer.Exit(EXIT_NOTHING) from None
    with Progress(
        SpinnerColumn(),
        TextColumn("analysing"),
        TextColumn("{task.completed} steps embedded · {task.fields[traces]} traces"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("analyse", total=None, traces=0)

        def advance(k: int) -> None:
            progress.update(task, completed=k)

        analyses = analyze_parallel(traces, config, workers=config.workers, embedder=model, progress=advance)
        for count, analysis in enumerate(analyses, start=1):
            progress.update(task, traces=count)
            yield analysis


@app.command("analyze")
@reads_traces
@analyzes_traces
def analyze_cmd(
    inputs: Inputs,
    options: LoadOptions,
    config: AnalyzeConfig,
    out_path: Annotated[
        str | None, typer.Option("--out", "-o", help="Write the JSON contract here (JSON Lines); default: stdout.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store the analyses in this DuckDB file (resumable; docs/schema.md)."),
    ] = None,
    no_text: Annotated[
        bool,
        typer.Option(
            "--no-text",
            help="With --db or --parquet: leave the full texts out (reasoning, output, step texts).",
        ),
    ] = False,
    parquet: Annotated[
        str | None,
        typer.Option(
            "--parquet",
            help="Write the analyses into this folder as Parquet, one table per store table (docs/schema.md).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="'local': this machine, --workers processes; 'ray': a Ray cluster (pip install 'cotgraph[ray]').",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="With --engine ray: join this cluster ('auto', 'ray://host:10001')."),
    ] = None,
) -> None:
    """Build the search graph and tag the beliefs of every trace; write the JSON contract (docs/schema.md)."""
    skipped: list[Skipped] = []
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r} is not 'local' or 'ray'", param_hint="--engine")
    if ray_address is not None and engine != "ray":
        raise typer.BadParameter("--ray-address needs --engine ray", param_hint="--ray-address")
    if db is not None and parquet is not None:
        raise typer.BadParameter("write a store (--db) or Parquet (--parquet), not both", param_hint="--parquet")
    if no_text and db is None and parquet is None:
        raise typer.BadParameter(
            "--no-text leaves texts out of a store: give --db or --parquet", param_hint="--no-text"
        )
    if db is not None and engine == "local":
        raise typer.Exit(_ingest(inputs, options, config, db, skipped, text=not no_text))
    analyses = (
        _ray_analyses(inputs, options, config, skipped, ray_address)
        if engine == "ray"
        else _analyses(inputs, options, config, skipped)
    )
    if db is not None:
        raise typer.Exit(_write_store(db, analyses, skipped, text=not no_text))
    if parquet is not None:
        raise typer.Exit(_write_parquet(parquet, analyses, skipped, text=not no_text))
    n = 0
    target = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout  # noqa: SIM115
    try:
        for analysis in analyses:
            target.write(json.dumps(analysis.to_json(), ensure_ascii=False) + "\n")
            n += 1
    finally:
        if out_path:
            target.close()
    _report_skipped(skipped)
    if out_path:
        err.print(f"{n} traces analysed → {out_path}", markup=False, highlight=False)
    raise typer.Exit(_exit_code(n, skipped))


def _ray_analyses(
    inputs: list[str], options: LoadOptions, config: AnalyzeConfig, skipped: list[Skipped], address: str | None
) -> Iterator[Analysis]:
    """Analyses from the Ray engine, in input order, collecting skipped records."""
    from cotgraph.ray_engine import RayEngineError, analyze_ray

    try:
        for item in analyze_ray(inputs, options, config, address=address):
            if isinstance(item, Skipped):
                skipped.append(item)
            else:
                yield item
    except (RayEngineError, DuplicateTraceIdError) as exc:
        _error(exc)
        raise typer.Exit(EXIT_NOTHING) from None


def _write_store(db: str, analyses: Iterator[Analysis], skipped: list[Skipped], *, text: bool) -> int:
    """Write analyses into a store in batches (the Ray engine's path: every trace is analysed,
    none is skipped as already stored)."""
    from cotgraph.store import Store, StoreError

    try:
        store = Store(db)
    except StoreError as exc:
        _error(exc)
        return EXIT_NOTHING
    written = 0
    with store:
        batch: list[Analysis] = []
        for analysis in analyses:
            batch.append(analysis)
            if len(batch) >= 32:
                store.write(batch, text=text)
                written, batch = written + len(batch), []
        store.write(batch, text=text)
        written += len(batch)
        store.write_skipped(skipped)
        total = store.count()
    _report_skipped(skipped)
    err.print(f"{written} traces analysed; {total} traces in {db}", highlight=False)
    return _exit_code(written, skipped)


def _write_parquet(folder: str, analyses: Iterator[Analysis], skipped: list[Skipped], *, text: bool) -> int:
    """Write analyses as Parquet (:func:`cotgraph.store.write_parquet`)."""
    from cotgraph.store import write_parquet

    try:
        written = write_parquet(folder, analyses, skipped, text=text)
    except OSError as exc:
        _error(f"{folder}: cannot write Parquet: {exc}")
        return EXIT_NOTHING
    _report_skipped(skipped)
    err.print(f"{written} traces analysed → {folder}", markup=False, highlight=False)
    return _exit_code(written, skipped)


def _ingest(
    inputs: list[str],
    options: LoadOptions,
    config: AnalyzeConfig,
    db: str,
    skipped: list[Skipped],
    *,
    text: bool = True,
) -> int:
    """Analyse into a store: traces already stored with the same content are skipped, the rest are
    written in batches, each batch in one transaction (a killed run resumes where it stopped)."""
    import os

    from cotgraph.embed import get_embedder
    from cotgraph.engine import make_tagger
    from cotgraph.store import Store, StoreError, pending
    from cotgraph.workers import analyze_parallel

    try:
        store = Store(db)
    except StoreError as exc:
        _error(exc)
        return EXIT_NOTHING
    batch_size = max(1, int(os.environ.get("COTGRAPH_STORE_BATCH", "32")))
    with store:
        model = get_embedder(config.embedder, device=config.device)
        tagger = make_tagger(config, model)
        stored = store.stored_hashes()
        seen = 0

        def counted(traces: Iterator[Trace]) -> Iterator[Trace]:
            nonlocal seen
            for trace in traces:
                seen += 1
                yield trace

        todo = pending(
            counted(_read(inputs, options, skipped, show_progress=False)),
            stored,
            model.name,
            tagger.taxonomy.name if tagger else None,
        )
        batch: list[Analysis] = []
        written = 0
        for analysis in analyze_parallel(todo, config, workers=config.workers, embedder=model):
            batch.append(analysis)
            if len(batch) >= batch_size:
                store.write(batch, text=text)
                written += len(batch)
                batch = []
        store.write(batch, text=text)
        written += len(batch)
        store.write_skipped(skipped)
        total = store.count()
    _report_skipped(skipped)
    err.print(
        f"{written} traces analysed, {seen - written} already stored; {total} traces in {db}",
        highlight=False,
    )
    return _exit_code(seen, skipped)


@app.command("metrics")
@reads_traces
@analyzes_traces
def metrics_cmd(
    inputs: Inputs,
    options: LoadOptions,
    config: AnalyzeConfig,
    all_metrics: Annotated[bool, typer.Option("--all", help="Show every metric, not only the key ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print the graph metrics of every trace (docs/metrics.md defines each)."""
    from cotgraph.metrics import METRICS

    skipped: list[Skipped] = []
    rows = [
        {"trace_id": a.trace.id, "model": a.trace.model, **a.metrics}
        for a in _analyses(inputs, options, config, skipped)
    ]
    if as_json:
        _json_line(rows)
    else:
        columns = list(METRICS) if all_metrics else list(TABLE_METRICS)
        table = Table(title=f"{len(rows)} traces", title_justify="left")
        table.add_column("trace_id", overflow="fold")
        table.add_column("model", overflow="fold")
        for col in columns:
            table.add_column(TABLE_METRICS.get(col, col) if not all_metrics else col, justify="right")
        for r in rows:
            table.add_row(r["trace_id"], r["model"] or "-", *(_fmt(r[c]) for c in columns))
        out.print(table)
        _report_skipped(skipped)
    raise typer.Exit(_exit_code(len(rows), skipped))


@app.command("beliefs")
@reads_traces
@analyzes_traces
def beliefs_cmd(
    inputs: Inputs,
    options: LoadOptions,
    config: AnalyzeConfig,
    show_all: Annotated[bool, typer.Option("--all", help="List traces that explored no hypothesis too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Which hypotheses each trace explored: first step, stance at the end, and a short evidence quote."""
    skipped: list[Skipped] = []
    n = 0
    rows: list[dict[str, Any]] = []
    for a in _analyses(inputs, options, config, skipped):
        n += 1
        found = [
            {
                "belief": h.belief,
                "label": h.label,
                "family": h.family,
                "first_step": h.first_step,
                "first_position": round(h.first_step / (len(a.steps) - 1), 3) if len(a.steps) > 1 else 0.0,
                "steps": h.steps,
                "stance": h.stance,
                "probability": _hypothesis_probability(a, h.belief),
                "evidence": [e.model_dump() for e in h.evidence],
            }
            for h in a.hypotheses
        ]
        row = {"trace_id": a.trace.id, "model": a.trace.model, "steps": len(a.steps), "hypotheses": found}
        if as_json:
            _json_line(row)
        elif found or show_all:
            rows.append(row)
    if not as_json:
        table = Table(title=f"hypotheses explored in {n} traces", title_justify="left", show_lines=True)
        for col in ("trace_id", "model", "hypothesis", "p", "first step", "stance", "evidence"):
            table.add_column(col, overflow="fold", justify="right" if col == "p" else "left")
        for row in rows:
            if not row["hypotheses"]:
                table.add_row(row["trace_id"], row["model"] or "-", "-", "", "", "", "")
            for h in row["hypotheses"]:
                quote = h["evidence"][0]["quote"] if h["evidence"] else ""
                quote = quote if len(quote) <= 140 else quote[:137] + "…"
                table.add_row(
                    row["trace_id"],
                    row["model"] or "-",
                    h["belief"],
                    _fmt(h["probability"]) if h["probability"] is not None else "rule",
                    f"{h['first_step']} ({h['first_position']:.2f})",
                    h["stance"],
                    quote,
                )
        out.print(table)
        if not rows:
            out.print("no trace explored any hypothesis of the taxonomy")
    _report_skipped(skipped)
    raise typer.Exit(_exit_code(n, skipped))


def _hypothesis_probability(analysis: Analysis, belief: str) -> float | None:
    """The highest probability the learned tagger gave the belief in the trace (``None`` when the
    belief was tagged by the cue + similarity rule, whose score is not a probability)."""
    scores = [t.score for t in analysis.beliefs if t.belief == belief and t.via.startswith("learned:")]
    return round(max(scores), 4) if scores else None


DbOpt = Annotated[str, typer.Option("--db", help="The DuckDB store written by `cotgraph analyze --db`.")]


def _open_corpus(db: str) -> Any:
    from cotgraph.corpus import Corpus
    from cotgraph.store import StoreError

    try:
        return Corpus.open(db)
    except StoreError as exc:
        _error(exc)
        raise typer.Exit(EXIT_NOTHING) from None


def _print_rows(rows: Any, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rows.records(), ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=title, title_justify="left")
    for col in rows.columns:
        table.add_column(col, overflow="fold")
    for row in rows.rows:
        table.add_row(*(_fmt(v) for v in row))
    out.print(table)


@app.command("sql")
def sql_cmd(
    statement: Annotated[str, typer.Argument(help="A SELECT statement over the store's tables (docs/schema.md).")],
    db: DbOpt,
    as_json: JsonOpt = False,
) -> None:
    """Run read-only SQL on a store and print the rows."""
    from cotgraph.store import StoreError

    with _open_corpus(db) as corpus:
        try:
            rows = corpus.sql(statement)
        except StoreError as exc:
            _error(exc)
            raise typer.Exit(EXIT_NOTHING) from None
    _print_rows(rows, as_json, f"{len(rows)} rows")
    raise typer.Exit(EXIT_OK)


@app.command("query")
def query_cmd(
    expr: Annotated[
        str, typer.Argument(help='e.g. "explored(eval_awareness) and not explored(grader)" (docs/query.md)')
    ],
    db: DbOpt,
    steps: Annotated[bool, typer.Option("--steps", help="List the matching traces' belief-carrying steps.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the traces of a store that match a query expression."""
    from cotgraph.query import QuerySyntaxError
    from cotgraph.store import StoreError

    with _open_corpus(db) as corpus:
        try:
            rows = corpus.query(expr, steps=steps)
        except QuerySyntaxError as exc:
            err.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        except StoreError as exc:
            _error(exc)
            raise typer.Exit(EXIT_NOTHING) from None
    _print_rows(rows, as_json, f"{len(rows)} {'steps' if steps else 'traces'} match")
    raise typer.Exit(EXIT_OK)


@app.command("search")
def search_cmd(
    text: Annotated[str, typer.Argument(help="A sentence; the steps nearest to it in meaning are listed.")],
    db: DbOpt,
    top: Annotated[int, typer.Option("--top", "-k", help="How many steps.")] = 10,
    model: Annotated[str | None, typer.Option("--model", help="Only traces of this model.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the steps nearest in meaning to a sentence, across the corpus or one model."""
    from cotgraph.embed import EmbeddingError
    from cotgraph.store import StoreError

    with _open_corpus(db) as corpus:
        try:
            rows = corpus.search(text, top=top, model=model)
        except (StoreError, EmbeddingError) as exc:
            _error(exc)
            raise typer.Exit(EXIT_NOTHING) from None
    _print_rows(rows, as_json, f"{len(rows)} nearest steps")
    raise typer.Exit(EXIT_OK)


@contextmanager
def _counting(label: str) -> Iterator[Callable[[int], None]]:
    """A transient spinner on standard error (on a terminal) with a count and the time elapsed;
    yields the function that sets the count."""
    with Progress(
        SpinnerColumn(),
        TextColumn(label),
        TextColumn("{task.completed}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda k: progress.update(task, completed=k)


@app.command("train-beliefs")
def train_beliefs_cmd(
    labelled: Annotated[
        str, typer.Argument(help="Labelled steps: JSON Lines in the format of benchmarks/data/beliefs_dev.jsonl.")
    ],
    out_path: Annotated[str, typer.Option("--out", "-o", help="Write the weights here (.npz).")],
    beliefs: Annotated[
        str, typer.Option("--beliefs", help="The taxonomy the labels use: metagaming, reasoning or a YAML file.")
    ] = "metagaming",
    embedder: EmbedderOpt = "default",
    device: DeviceOpt = None,
    c: Annotated[float, typer.Option("--c", help="Inverse L2 strength of each logistic regression.", min=1e-6)] = 0.1,
    min_positive: Annotated[
        int, typer.Option("--min-positive", help="Labelled steps a belief needs to get a model.", min=1)
    ] = 20,
    min_traces: Annotated[
        int, typer.Option("--min-traces", help="Traces its positive steps must span (at least 2).", min=2)
    ] = 3,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds, grouped by trace.", min=2)] = 5,
    min_prob: MinProbOpt = 0.5,
    as_json: JsonOpt = False,
) -> None:
    """Train learned-tagger weights for a taxonomy from labelled steps, and print the scores they
    reach in cross-validation grouped by trace. Use them with `--beliefs FILE --belief-weights OUT`."""
    from cotgraph.beliefs.learned import LabelsError, train
    from cotgraph.beliefs.taxonomy import TaxonomyError, load_taxonomy
    from cotgraph.embed import EmbeddingError, get_embedder

    try:
        taxonomy = load_taxonomy(beliefs)
        model = get_embedder(embedder, device=device)
    except (TaxonomyError, EmbeddingError) as exc:
        _error(exc)
        raise typer.Exit(EXIT_NOTHING) from None
    command = " ".join(["cotgraph", "train-beliefs", *sys.argv[2:]]) if len(sys.argv) > 1 else "cotgraph train-beliefs"
    with _counting("embedding labelled steps") as done:
        try:
            result = train(
                labelled,
                taxonomy,
                model,
                C=c,
                min_positive=min_positive,
                min_traces=min_traces,
                folds=folds,
                min_prob=min_prob,
                command=command,
                progress=done,
            )
        except LabelsError as exc:
            for problem in exc.problems:
                err.print(f"error: {problem}", markup=False, highlight=False)
            raise typer.Exit(EXIT_NOTHING) from None
    result.model.save(out_path)
    m = result.model
    untrained = [b for b in m.belief_ids if b not in m.learned]
    summary = {
        "weights": out_path,
        "taxonomy": m.taxonomy,
        "embedder": m.embedder,
        "steps": m.meta["n_steps"],
        "traces": m.meta["n_traces"],
        "data_sha256": m.meta["data_sha256"],
        "learned": m.learned,
        "rule_only": {b: m.meta["positives"][b] for b in untrained},
        "cv": result.cv,
        "min_prob": min_prob,
    }
    if as_json:
        _json_line(summary)
        raise typer.Exit(EXIT_OK)
    table = Table(
        title=f"cross-validated by trace ({folds} folds), {m.meta['n_steps']} steps of {m.meta['n_traces']} traces, "
        f"tag at p >= {min_prob}",
        title_justify="left",
    )
    for col in ("belief", "positives", "precision", "recall", "F1", "AUC"):
        table.add_column(col, justify="left" if col == "belief" else "right")
    for b in m.learned:
        r = result.cv.get(b, {})
        table.add_row(b, str(r.get("positives", "-")), *(_fmt(r.get(k)) for k in ("precision", "recall", "f1", "auc")))
    out.print(table)
    if untrained:
        shown = ", ".join(f"{b} ({n})" for b, n in summary["rule_only"].items())
        out.print(
            f"too few labels to learn (positive steps), these keep the cue + similarity rule: {shown}",
            markup=False,
            highlight=False,
        )
    err.print(f"weights → {out_path}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("train-kinds")
def train_kinds_cmd(
    labelled: Annotated[
        str, typer.Argument(help="Labelled steps: JSON Lines in the format of benchmarks/data/structure_dev.jsonl.")
    ],
    out_path: Annotated[str, typer.Option("--out", "-o", help="Write the weights here (.npz).")],
    data: Annotated[
        str, typer.Option("--data", help="The folder the labelled file's relative paths are read from.")
    ] = "../shared/data",
    thought_anchors: Annotated[
        str | None,
        typer.Option(
            "--thought-anchors",
            help="Also train on Thought Anchors' tagged traces in this folder (<model>/<condition>/<problem>/).",
        ),
    ] = None,
    embedder: EmbedderOpt = "default",
    device: DeviceOpt = None,
    c: Annotated[float, typer.Option("--c", help="Inverse L2 strength of the logistic regression.", min=1e-6)] = 0.1,
    as_json: JsonOpt = False,
) -> None:
    """Train step-kind classifier weights from labelled steps (and Thought Anchors' tags). Use them
    with `--kind-weights OUT`; benchmarks/structure.py scores them leave-one-source-out."""
    from cotgraph.embed import EmbeddingError, get_embedder
    from cotgraph.kinds import KindLabelsError, train

    try:
        model = get_embedder(embedder, device=device)
    except EmbeddingError as exc:
        _error(exc)
        raise typer.Exit(EXIT_NOTHING) from None
    if thought_anchors is not None and not Path(thought_anchors).is_dir():
        _error(f"--thought-anchors {thought_anchors}: no such folder")
        raise typer.Exit(EXIT_NOTHING)
    command = " ".join(["cotgraph", "train-kinds", *sys.argv[2:]]) if len(sys.argv) > 1 else "cotgraph train-kinds"
    with _counting("embedding the steps of labelled traces") as done:
        try:
            kind_model, _ = train(
                labelled,
                data,
                model,
                thought_anchors=thought_anchors,
                C=c,
                command=command,
                progress=done,
            )
        except KindLabelsError as exc:
            for problem in exc.problems:
                err.print(f"error: {problem}", markup=False, highlight=False)
            raise typer.Exit(EXIT_NOTHING) from None
    kind_model.save(out_path)
    summary = {
        "weights": out_path,
        "embedder": kind_model.embedder,
        "steps": kind_model.meta["n_steps"],
        "sources": kind_model.meta["sources"],
        "class_counts": kind_model.meta["class_counts"],
        "data_sha256": kind_model.meta["data_sha256"],
    }
    if as_json:
        _json_line(summary)
        raise typer.Exit(EXIT_OK)
    table_out = Table(
        title=f"{summary['steps']} labelled steps, {len(summary['sources'])} sources", title_justify="left"
    )
    table_out.add_column("class")
    table_out.add_column("steps", justify="right")
    for k, v in summary["class_counts"].items():
        table_out.add_row(k, str(v))
    out.print(table_out)
    err.print(f"weights → {out_path}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("compare")
def compare_cmd(
    db: DbOpt,
    by: Annotated[
        str, typer.Option("--by", help="model, channel, taxonomy, embedder, source_path or metadata.KEY.")
    ] = "model",
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="A metric to compare (repeat); default: all but belief metrics."),
    ] = None,
    as_json: JsonOpt = False,
    csv_dir: Annotated[str | None, typer.Option("--csv", help="Write stats.csv, beliefs.csv, paired.csv here.")] = None,
    plots_dir: Annotated[str | None, typer.Option("--plots", help="Write PNG and SVG plots here.")] = None,
) -> None:
    """Compare groups of traces (by model, …): metric statistics, beliefs explored, paired differences."""
    from rich.markup import escape

    from cotgraph.compare import KEY_METRICS, compare

    with _open_corpus(db) as corpus:
        try:
            result = compare(corpus.con, by=by, metrics=metric or None)
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
    if not result.groups:
        err.print("error: the store holds no traces", highlight=False)
        raise typer.Exit(EXIT_NOTHING)
    written = result.to_csv(csv_dir) if csv_dir else []
    written += result.plot(plots_dir) if plots_dir else []
    if as_json:
        _json_line(result.to_json())
        raise typer.Exit(EXIT_OK)
    shown = (
        list(dict.fromkeys(metric))
        if metric
        else [m for m in KEY_METRICS if any(r["metric"] == m for r in result.stats)]
    )
    table = Table(title=f"metrics by {by} (mean, median, 95% bootstrap CI of the mean)", title_justify="left")
    for col in ("group", "metric", "n", "mean", "median", "95% CI"):
        table.add_column(col, overflow="fold")
    for r in (r for r in result.stats if r["metric"] in shown):
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        table.add_row(escape(r["group"]), r["metric"], str(r["n"]), _fmt(r["mean"]), _fmt(r["median"]), escape(ci))
    out.print(table)
    if result.beliefs:
        table = Table(title=f"rate of traces exploring each belief, by {by} (n traces)", title_justify="left")
        table.add_column("belief")
        for group in result.groups:
            table.add_column(escape(group), overflow="fold")
        cells = {(r["belief"], r["group"]): r for r in result.beliefs}
        for belief in dict.fromkeys(r["belief"] for r in result.beliefs):
            row = [cells.get((belief, g)) for g in result.groups]
            table.add_row(belief, *(f"{_fmt(c['rate'])} ({c['n']})" if c else "-" for c in row))
        out.print(table)
    paired = [r for r in result.paired if r["metric"] in shown]
    if paired:
        table = Table(title="paired differences over shared questions (B - A, 95% bootstrap CI)", title_justify="left")
        for col in ("group A", "group B", "metric", "questions", "mean diff", "95% CI"):
            table.add_column(col, overflow="fold")
        for r in paired:
            ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
            table.add_row(
                escape(r["group_a"]),
                escape(r["group_b"]),
                r["metric"],
                str(r["n_questions"]),
                _fmt(r["mean_diff"]),
                escape(ci),
            )
        out.print(table)
    else:
        out.print("no question was answered by more than one group")
    for path in written:
        err.print(f"wrote {path}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("outcomes")
def outcomes_cmd(
    db: DbOpt,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="The outcome to link (a name given at ingest); default: the store's only one."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Also per group: model, channel, source_path or metadata.KEY."),
    ] = None,
    belief: Annotated[
        list[str] | None, typer.Option("--belief", help="Only this belief (repeat); default: every belief explored.")
    ] = None,
    explains: Annotated[
        list[str] | None,
        typer.Option(
            "--explains",
            help="The belief that explains the outcome (repeat for several): adds the verbalisation gap.",
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="Regex (case-insensitive) finding the step that acts out the outcome: did each belief come first?",
        ),
    ] = None,
    n_boot: Annotated[int, typer.Option("--boot", min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    as_json: JsonOpt = False,
    csv_dir: Annotated[
        str | None, typer.Option("--csv", help="Write outcome_links.csv (and verbalisation_gap.csv) here.")
    ] = None,
    plots_dir: Annotated[str | None, typer.Option("--plots", help="Write the PNG and SVG plot here.")] = None,
) -> None:
    """Link beliefs to an outcome: P(outcome | explored) vs not, intervals, an exact test; the verbalisation gap."""
    from rich.markup import escape

    from cotgraph.outcomes import OutcomeError, available_outcomes, from_store, outcome_report

    with _open_corpus(db) as corpus:
        known = available_outcomes(corpus.con)
        if outcome is None:
            if len(known) != 1:
                names = ", ".join(f"{k} ({v} traces)" for k, v in known.items())
                _error(
                    f"name the outcome with --outcome: {db} holds {names}"
                    if known
                    else f"{db} holds no outcomes: ingest with --outcome-field or --outcome-expr "
                    "(an Inspect log's scores are kept without them)"
                )
                raise typer.Exit(EXIT_USAGE if known else EXIT_NOTHING)
            outcome = next(iter(known))
        try:
            data = from_store(corpus.con, outcome, by=by, action=action)
            report = outcome_report(data, beliefs=belief, explains=explains or (), n_boot=n_boot, seed=seed)
        except (OutcomeError, ValueError) as exc:
            _error(exc)
            raise typer.Exit(EXIT_USAGE) from None
    written = report.to_csv(csv_dir) if csv_dir else []
    written += report.plot(plots_dir) if plots_dir else []
    if as_json:
        _json_line(report.to_json())
        raise typer.Exit(EXIT_OK)
    stat = "P" if report.binary else "mean"
    title = (
        f"{stat}({outcome}) when a belief was explored vs not, {report.n_traces} traces"
        f"{f', {report.missing} without the outcome left out' if report.missing else ''} "
        "(95% bootstrap CI; p: Fisher exact" + (")" if report.binary else " / Mann-Whitney U)")
    )
    table = Table(title=title, title_justify="left")
    columns = ["belief", "group", "explored (n)", "95% CI", "not (n)", "95% CI", "difference", "p"]
    if action is not None:
        columns.append("before action (n)")
    for col in columns:
        table.add_column(col, overflow="fold")
    for r in report.links:
        cells = [
            r["belief"],
            escape(r["group"]),
            f"{_fmt(r['explored'])} ({r['n_explored']})",
            escape(f"[{_fmt(r['explored_ci_low'])}, {_fmt(r['explored_ci_high'])}]"),
            f"{_fmt(r['not'])} ({r['n_not']})",
            escape(f"[{_fmt(r['not_ci_low'])}, {_fmt(r['not_ci_high'])}]"),
            _fmt(r["difference"]),
            _fmt_p(r["p_value"]),
        ]
        if action is not None:
            cells.append(f"{_fmt(r['before_action'])} ({r['n_action']})")
        table.add_row(*cells)
    out.print(table)
    if report.gaps:
        table = Table(
            title=f"verbalisation gap: traces with {outcome} whose CoT never raised {', '.join(explains or ())}",
            title_justify="left",
        )
        for col in ("group", "with outcome", "silent", "gap", "95% CI"):
            table.add_column(col)
        for r in report.gaps:
            table.add_row(
                escape(r["group"]),
                str(r["n_outcome"]),
                str(r["n_silent"]),
                _fmt(r["gap"]),
                escape(f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"),
            )
        out.print(table)
    for path in written:
        err.print(f"wrote {path}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("counterfactual")
@reads_traces
@analyzes_traces
def counterfactual_cmd(
    inputs: Inputs,
    options: LoadOptions,
    config: AnalyzeConfig,
    base_field: Annotated[
        str,
        typer.Option(
            "--base-field",
            help="Dotted path to the same model's CoT without the cue, in each record.",
        ),
    ] = "base_reasoning_text",
    n_boot: Annotated[int, typer.Option("--boot", min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Pair each record's CoT with the cue and the same model's CoT without it: beliefs only with the cue, structure."""
    import dataclasses

    from cotgraph.outcomes import paired_counterfactuals

    skipped: list[Skipped] = []
    base_skipped: list[Skipped] = []
    cued = list(_analyses(inputs, options, config, skipped))
    base_options = dataclasses.replace(options, text_field=base_field)
    base = {
        (a.trace.source.path, a.trace.source.record, a.trace.source.part): a
        for a in _analyses(inputs, base_options, config, base_skipped)
    }
    pairs = []
    for a in cued:
        key = (a.trace.source.path, a.trace.source.record, a.trace.source.part)
        if key in base:
            pairs.append((a, base[key]))
        else:
            skipped.append(
                Skipped(
                    path=a.trace.source.path,
                    record=a.trace.source.record,
                    reason=f"no CoT without the cue: no usable '{base_field}' field",
                )
            )
    _report_skipped(skipped)
    if not pairs:
        _error(f"no record holds both its CoT and a CoT without the cue ('{base_field}')")
        raise typer.Exit(EXIT_NOTHING)
    result = paired_counterfactuals(pairs, n_boot=n_boot, seed=seed)
    if as_json:
        _json_line(result)
        raise typer.Exit(_exit_code(len(pairs), skipped))
    table = Table(
        title=f"beliefs with and without the cue, {result['n_pairs']} pairs (p: exact McNemar)", title_justify="left"
    )
    for col in ("belief", "only with cue", "only without", "both", "neither", "p"):
        table.add_column(col)
    for r in result["beliefs"]:
        table.add_row(
            r["belief"],
            str(r["only_with_cue"]),
            str(r["only_without_cue"]),
            str(r["both"]),
            str(r["neither"]),
            _fmt_p(r["mcnemar_exact_p"]),
        )
    out.print(table)
    table = Table(
        title="structure with cue - without (mean paired difference, 95% bootstrap CI; p: Wilcoxon)",
        title_justify="left",
    )
    for col in ("metric", "with cue", "without", "difference", "95% CI", "p"):
        table.add_column(col)
    for r in result["structure"]:
        table.add_row(
            r["metric"],
            _fmt(r["with_cue"]),
            _fmt(r["without_cue"]),
            _fmt(r["mean_difference"]),
            f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
            _fmt_p(r["wilcoxon_p"]),
        )
    out.print(table)
    raise typer.Exit(_exit_code(len(pairs), skipped))


# --- rendering -----------------------------------------------------------------------------

OptionalInputs = Annotated[
    list[str] | None, typer.Argument(help="Files or folders of traces (or give --db).", show_default=False)
]


def _not_found(trace_id: str, known: list[str], where: str) -> None:
    import difflib

    close = difflib.get_close_matches(trace_id, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(known)} traces there)"
    _error(f"no trace '{trace_id}' in {where}{hint}")


@app.command("render")
@reads_traces
@analyzes_traces
def render_cmd(
    options: LoadOptions,
    config: AnalyzeConfig,
    inputs: OptionalInputs = None,
    out_path: Annotated[str, typer.Option("--out", "-o", help="The HTML file to write.")] = "trace.html",
    trace_id: Annotated[
        str | None, typer.Option("--trace", help="The trace id (`cotgraph inspect` lists them); default: the first.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Read the trace from this store instead of files.")] = None,
) -> None:
    """Write one trace as an interactive graph page: one self-contained HTML file, no network needed."""
    from cotgraph.render import write_trace_page

    if bool(inputs) == bool(db):
        err.print("error: give input files or --db (one of them)", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    skipped: list[Skipped] = []
    if db:
        with _open_corpus(db) as corpus:
            first = corpus.store.trace_ids(limit=1)
            if not first:
                err.print(f"error: {db} holds no traces", markup=False, highlight=False)
                raise typer.Exit(EXIT_NOTHING)
            try:
                analysis = corpus.analysis(trace_id if trace_id is not None else first[0])
            except KeyError:
                _not_found(str(trace_id), corpus.trace_ids(), db)
                raise typer.Exit(EXIT_NOTHING) from None
    else:
        seen: list[str] = []
        found: Trace | None = None
        for trace in _read(inputs or [], options, skipped):
            if trace_id is None or trace.id == trace_id:
                found = trace
                break
            seen.append(trace.id)
        if found is None:
            _report_skipped(skipped)
            if trace_id is None:
                err.print("error: no trace could be read from the inputs", highlight=False)
            else:
                _not_found(trace_id, seen, "the inputs")
            raise typer.Exit(EXIT_NOTHING)
        analysis = next(_analyse([found], config))
    try:
        path = write_trace_page(analysis, out_path)
    except OSError as exc:
        _error(f"cannot write {out_path}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_NOTHING) from None
    _report_skipped(skipped)
    size = path.stat().st_size
    err.print(
        f"wrote {path} (trace {analysis.trace.id}, {len(analysis.steps)} steps, {size / 1024:.0f} KB)",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(_exit_code(1, skipped))


@app.command("export")
@reads_traces
@analyzes_traces
def export_cmd(
    options: LoadOptions,
    config: AnalyzeConfig,
    inputs: OptionalInputs = None,
    docent: Annotated[
        str | None,
        typer.Option("--docent", help="Write Docent agent runs here (JSON Lines; pip install 'cotgraph[docent]')."),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Export the traces of this store instead of files.")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="With --db: only the traces matching this expression.")
    ] = None,
) -> None:
    """Export analyses for other tools: --docent writes one Docent agent run per trace, tags and metrics as metadata."""
    if docent is None:
        err.print("error: name what to export: --docent FILE", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    if bool(inputs) == bool(db):
        err.print("error: give input files or --db (one of them)", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    if query is not None and db is None:
        raise typer.BadParameter("--query needs --db", param_hint="--query")
    try:
        from cotgraph.docent_export import write_agent_runs
    except ImportError as exc:
        _error(f"--docent needs the Docent SDK: pip install 'cotgraph[docent]' ({exc})")
        raise typer.Exit(EXIT_NOTHING) from None
    skipped: list[Skipped] = []
    if db:
        with _open_corpus(db) as corpus:
            try:
                ids = corpus.store.trace_ids() if query is None else [r[0] for r in corpus.query(query).rows]
            except ValueError as exc:
                _error(exc)
                raise typer.Exit(EXIT_USAGE) from None
            try:
                n = write_agent_runs((corpus.analysis(tid) for tid in ids), docent)
            except OSError as exc:
                _error(f"cannot write {docent}: {exc.strerror or exc}")
                raise typer.Exit(EXIT_NOTHING) from None
    else:
        try:
            n = write_agent_runs(_analyses(inputs or [], options, config, skipped), docent)
        except OSError as exc:
            _error(f"cannot write {docent}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_NOTHING) from None
    _report_skipped(skipped)
    err.print(f"{n} agent runs → {docent}", markup=False, highlight=False)
    raise typer.Exit(_exit_code(n, skipped))


@app.command("report")
def report_cmd(
    db: DbOpt,
    out_dir: Annotated[str, typer.Option("--out", "-o", help="The folder to write (index.html, traces/…).")] = "report",
    by: Annotated[
        str, typer.Option("--by", help="Group the comparison by model, channel, source_path or metadata.KEY.")
    ] = "model",
    query: Annotated[
        str | None, typer.Option("--query", help="Only the traces matching this expression (docs/query.md).")
    ] = None,
    self_contained: Annotated[
        bool,
        typer.Option("--self-contained", help="Inline vis-network into every trace page (bigger, each mailable)."),
    ] = False,
) -> None:
    """Write a corpus report: comparison tables and plots, beliefs by group, and a page per trace."""
    from rich.markup import escape

    from cotgraph.query import QuerySyntaxError
    from cotgraph.render.report import write_report

    with _open_corpus(db) as corpus:
        try:
            ids = [r[0] for r in corpus.query(query).rows] if query else corpus.trace_ids()
        except QuerySyntaxError as exc:
            err.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        if not ids:
            err.print(
                "error: no trace to report" + (f" matches {query!r}" if query else f" in {db}"),
                markup=False,
                highlight=False,
            )
            raise typer.Exit(EXIT_NOTHING)
        with Progress(
            SpinnerColumn(),
            TextColumn("trace pages"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("pages", total=len(ids))
            try:
                report = write_report(
                    corpus,
                    out_dir,
                    by=by,
                    trace_ids=ids,
                    self_contained=self_contained,
                    progress=lambda done, _total: progress.update(task, completed=done),
                )
            except ValueError as exc:  # a bad --by
                err.print(f"error: {exc}", markup=False, highlight=False)
                raise typer.Exit(EXIT_USAGE) from None
            except OSError as exc:
                _error(f"cannot write {out_dir}: {exc}")
                raise typer.Exit(EXIT_NOTHING) from None
    for tid, reason in report.skipped:
        err.print(f"[yellow]no page[/yellow] for {escape(tid)}: {escape(reason)}", highlight=False)
    err.print(f"wrote {report.index} and {len(report.pages)} trace pages", markup=False, highlight=False)
    raise typer.Exit(EXIT_PARTIAL if report.skipped else EXIT_OK)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _fmt_p(value: float | None) -> str:
    from cotgraph.outcomes import format_p

    return format_p(value)


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"cotgraph {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """cotgraph: search graphs of chain-of-thought traces."""


def main() -> None:
    """Entry point: map every failure to a documented exit code and one clear line."""
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # click's UsageError, BadParameter, NoSuchOption …
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_USAGE if getattr(exc, "exit_code", 2) == 2 else EXIT_NOTHING)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a last guard: one line, never a traceback
        _error(f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_NOTHING)
    sys.exit(code if isinstance(code, int) else EXIT_OK)

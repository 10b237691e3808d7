"""The Ray engine (``--engine ray``): the pipeline on a Ray cluster, through Ray Data.

The driver lists the input files (:func:`cotgraph.io.files.expand_inputs`, cheap); Ray tasks read
them with :func:`cotgraph.io.files.read_file` (the loaders of a local run), and Ray actors, each
loading the models once, analyse batches of traces with :func:`cotgraph.engine.analyze_many`
(the pipeline of a local run). No stage has a second implementation. Ray Data keeps the input
order (``preserve_order``), and the driver gives ids the same uniqueness rule as
:func:`cotgraph.io.iter_load`, so the output is the local engine's.

Needs the optional extra: ``pip install 'cotgraph[ray]'``. ``address`` joins a running cluster
(``ray start --head`` …, or ``auto``); without it a local Ray instance is started with
``num_cpus`` CPUs and stopped at the end. Every node needs cotgraph and its models installed
(docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, TraceIds
from cotgraph.io.files import expand_inputs, read_file
from cotgraph.model import Analysis, Skipped

__all__ = ["RayEngineError", "analyze_ray"]


class RayEngineError(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _read_one(row: dict[str, Any], options: LoadOptions) -> list[dict[str, Any]]:
    """A Ray task: every trace and skipped record of one input file, each pickled in a row."""
    if row["skipped"]:
        return [{"kind": "skipped", "item": row["skipped"]}]
    path = Path(row["path"])
    if not path.is_absolute() and row["cwd"] and os.getcwd() != row["cwd"]:
        # A relative input names a file under the driver's folder; traces keep the path as given.
        os.chdir(row["cwd"])
    found = read_file(path, options, row["key"])
    return [{"kind": "skipped" if isinstance(item, Skipped) else "trace", "item": pickle.dumps(item)} for item in found]


class _Analyse:
    """A Ray actor: the models loaded once, then batches of traces analysed."""

    def __init__(self, config: AnalyzeConfig) -> None:
        from cotgraph.embed import get_embedder
        from cotgraph.engine import make_kind_model, make_tagger

        self.config = config
        self.embedder = get_embedder(config.embedder, device=config.device)
        make_tagger(config, self.embedder)
        make_kind_model(config, self.embedder)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        kinds, items = list(batch["kind"]), list(batch["item"])
        traces = [pickle.loads(item) for kind, item in zip(kinds, items, strict=True) if kind == "trace"]
        analyses = iter(analyze_many(traces, self.config, embedder=self.embedder))
        out = [
            pickle.dumps(next(analyses)) if kind == "trace" else item for kind, item in zip(kinds, items, strict=True)
        ]
        return {"kind": kinds, "item": out}


def _rename(analysis: Analysis, trace_id: str) -> Analysis:
    analysis.trace = analysis.trace.model_copy(update={"id": trace_id})
    for step in analysis.steps:
        step.trace_id = trace_id
    if analysis.graph is not None:
        analysis.graph.graph["trace_id"] = trace_id
    return analysis


def analyze_ray(
    inputs: Iterable[str | Path],
    options: LoadOptions | None = None,
    config: AnalyzeConfig | None = None,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    batch_traces: int = 16,
) -> Iterator[Analysis | Skipped]:
    """Analyses of every trace in the inputs, and every skipped record, in input order, computed
    on a Ray cluster: one actor per CPU of the cluster, or ``config.workers`` actors when that is
    above 1. ``num_cpus`` sizes a local instance started here."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayEngineError("the Ray engine needs Ray: pip install 'cotgraph[ray]'") from None
    options = options or LoadOptions()
    config = config or AnalyzeConfig()
    files: list[dict[str, Any]] = []
    for item in expand_inputs(inputs):
        if isinstance(item, Skipped):
            files.append({"path": item.path, "key": "", "skipped": pickle.dumps(item), "cwd": ""})
        else:
            files.append({"path": str(item[0]), "key": item[1], "skipped": b"", "cwd": os.getcwd()})
    if not files:
        return
    for name in ("ray", "ray.data"):  # Ray's own INFO lines would bury cotgraph's on standard error
        logging.getLogger(name).setLevel(logging.WARNING)
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayEngineError(f"cannot start or join Ray ({address or 'local'}): {exc}") from None
        started = True
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actors = max(1, min(config.workers if config.workers > 1 else cpus, cpus))
        dataset = (
            ray.data.from_items(files, override_num_blocks=max(1, -(-len(files) // 16)))  # 16 files a task
            # Reading is light: it holds no CPU (the actors hold them all), one task at a time, so that Ray
            # does not start a worker process per file.
            .flat_map(_read_one, fn_kwargs={"options": options}, num_cpus=0, concurrency=1)
            .map_batches(
                _Analyse,
                fn_constructor_args=(config,),
                batch_size=batch_traces,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=1,
            )
        )
        ids = TraceIds(options.id_field)  # the rule of iter_load, in input order, here
        for row in dataset.iter_rows():
            found = pickle.loads(row["item"])
            if isinstance(found, Analysis):
                trace_id = ids.claim(found.trace)
                if trace_id != found.trace.id:
                    found = _rename(found, trace_id)
            yield found
    finally:
        if started:
            ray.shutdown()

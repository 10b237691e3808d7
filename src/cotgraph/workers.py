"""Every core: the pipeline of :mod:`cotgraph.engine` run on chunks of traces in a process pool.

Each worker process loads the embedder, the belief tagger and the step-kind classifier once, then
analyses the chunks it is sent with :func:`cotgraph.engine.analyze_many`, the same function a
single process runs: there is no second implementation. Results come back in input order, and a
bounded number of chunks is in flight, so memory does not grow with the corpus.

Identical output: a trace's analysis depends only on the trace, except that the embedder sees a
chunk of traces per call. The static (``fast``) embedder embeds each text alone, so its output
does not depend on the chunking; MiniLM pads a batch to its longest text, which leaves the
vectors equal up to floating-point rounding. ``tests/test_workers.py`` checks that ``--workers 2``
writes byte-identical JSON to ``--workers 1`` with the fast embedder.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

from cotgraph.embed import Embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.model import Analysis, Trace

__all__ = ["WorkerPool", "analyze_parallel", "chunk_traces", "default_workers"]

CHUNK_STEPS = 2048
"""About how many steps go into one chunk (a trace's steps estimated as its characters / 80)."""
CHUNK_TRACES = 32
"""At most this many traces per chunk."""


def default_workers() -> int:
    """The cores this process may use (its CPU affinity where the platform says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_worker: dict[str, object] = {}


def _start_worker(config: AnalyzeConfig, threads: int) -> None:
    """Load the models once per worker process (the pool's initializer)."""
    from cotgraph.embed import get_embedder
    from cotgraph.engine import make_kind_model, make_tagger

    # The workers share the cores: each keeps to its share of threads (torch, BLAS/OpenMP, and the
    # tokenizers' Rust pool), or N processes × every core's threads fight over the same cores.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from threadpoolctl import threadpool_limits

    _worker["limits"] = threadpool_limits(threads)
    import torch

    torch.set_num_threads(threads)
    embedder = get_embedder(config.embedder, device=config.device)
    make_tagger(config, embedder)
    make_kind_model(config, embedder)
    _worker["config"], _worker["embedder"] = config, embedder


def _analyse_chunk(traces: list[Trace]) -> list[Analysis]:
    config = _worker["config"]
    embedder = _worker["embedder"]
    assert isinstance(config, AnalyzeConfig) and isinstance(embedder, Embedder)
    return list(analyze_many(traces, config, embedder=embedder))


def chunk_traces(traces: Iterable[Trace]) -> Iterator[list[Trace]]:
    """Consecutive traces in chunks of about :data:`CHUNK_STEPS` steps (or :data:`CHUNK_TRACES`
    traces): the unit of work a worker is sent."""
    chunk: list[Trace] = []
    size = 0
    for trace in traces:
        chunk.append(trace)
        size += len(trace.reasoning) // 80 + 1
        if size >= CHUNK_STEPS or len(chunk) >= CHUNK_TRACES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class WorkerPool:
    """A pool of worker processes, each with the models loaded once, for several runs (a
    benchmark keeps one warm; :func:`analyze_parallel` makes one per call)."""

    def __init__(self, config: AnalyzeConfig, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.config, self.workers = config, workers
        threads = max(1, default_workers() // workers)
        # spawn: a forked copy of a process that has loaded torch or started threads is unsafe.
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(config, threads)
        )

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(cancel_futures=True)

    def analyze(
        self, chunks: Iterable[list[Trace]], progress: Callable[[int], None] | None = None
    ) -> Iterator[Analysis]:
        """The analyses of every chunk's traces, in order; at most two chunks per worker in flight."""
        pending: deque[Future[list[Analysis]]] = deque()
        done = 0

        def drain() -> Iterator[Analysis]:
            nonlocal done
            for analysis in pending.popleft().result():
                done += len(analysis.steps)
                yield analysis
            if progress is not None:
                progress(done)

        for chunk in chunks:
            pending.append(self.pool.submit(_analyse_chunk, chunk))
            if len(pending) >= 2 * self.workers:
                yield from drain()
        while pending:
            yield from drain()


def analyze_parallel(
    traces: Iterable[Trace],
    config: AnalyzeConfig | None = None,
    *,
    workers: int | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Analysis]:
    """Analyse traces in ``workers`` processes (``None`` or 0: every core), yielding in input order.
    ``progress`` is called with the number of steps analysed so far. With one worker, or with
    corpus-wide states (every trace must be embedded before the first is analysed), this is
    :func:`cotgraph.engine.analyze_many` in this process, with ``embedder`` when given (the
    workers load their own); so is an input small enough for one chunk."""
    config = config or AnalyzeConfig()
    workers = workers or default_workers()  # None or 0: every core
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (or 0 for every core), got {workers}")
    if workers == 1 or config.graph.states == "corpus":
        yield from analyze_many(traces, config, embedder=embedder, progress=progress)
        return
    chunks = chunk_traces(traces)
    first, second = next(chunks, None), next(chunks, None)
    if second is None:  # one chunk: starting processes would cost more than it saves
        yield from analyze_many(first or [], config, embedder=embedder, progress=progress)
        return
    with WorkerPool(config, workers) as pool:
        yield from pool.analyze(itertools.chain([first, second], chunks), progress)

"""cotgraph: chain-of-thought traces as search graphs, with the beliefs each step entertained.

The pipeline runs one way, one module per stage: ``io`` (load) → ``segment`` → ``embed`` → ``graph``
→ ``metrics``; ``engine`` runs them over traces. Each stage is a plain function a user can call on
its own.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cotgraph.engine import AnalyzeConfig, analyze, analyze_many
from cotgraph.io import LoadOptions, LoadResult, iter_load, load
from cotgraph.model import SCHEMA_VERSION, Analysis, Edge, Skipped, Source, Step, TextPart, Trace

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "AnalyzeConfig",
    "Edge",
    "LoadOptions",
    "LoadResult",
    "Skipped",
    "Source",
    "Step",
    "TextPart",
    "Trace",
    "__version__",
    "analyze",
    "analyze_many",
    "iter_load",
    "load",
]

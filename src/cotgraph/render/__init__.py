"""The rendering stage: one trace as an interactive HTML page, a corpus as a report.

Both are built from our own templates in ``viz/`` with everything inlined or beside the pages:
no page makes a network request. ``render_trace`` / ``write_trace_page`` take an
:class:`~cotgraph.model.Analysis`; ``write_report`` takes a store.
"""

from __future__ import annotations

from cotgraph.render.page import PageOptions, page_data, render_trace, write_trace_page

__all__ = ["PageOptions", "page_data", "render_trace", "write_trace_page"]

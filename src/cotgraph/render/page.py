"""One trace as one self-contained, interactive HTML page.

The search graph's nodes, edges and vis-network options are built with pyvis and rendered over
our own template ``viz/trace.html`` with ``viz/trace.js`` and ``viz/trace.css`` and vis-network
inlined, so the file opens with no network and can be mailed. The page script lays the tree out
in lanes, folds runs of plain steps and draws the labels (``docs/rendering.md``), since that
depends on the pane's size and on what the reader opens. Safety: every piece of trace text
travels as JSON inside a ``<script type="application/json">`` element (``<``, ``>``, ``&`` and
``'`` escaped as Jinja's ``tojson`` does, by :func:`assets.json_for_html`) and reaches the DOM
only through ``textContent``; a Content-Security-Policy allows no request at all and only the
page's own scripts (by nonce).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotgraph import __version__
from cotgraph.model import EDGE_TYPES, Analysis
from cotgraph.render import assets

KIND_SHAPES: dict[str, str] = {
    "reason": "dot",
    "plan": "hexagon",
    "retrieve": "square",
    "compute": "diamond",
    "verify": "triangle",
    "backtrack": "triangleDown",
    "explore": "star",
    "conclude": "box",
}
"""vis-network shape of each step kind (``graph.STEP_KINDS``); a kind not listed is drawn as a dot."""

KIND_ICONS: dict[str, str] = {
    "reason": "•",
    "plan": "☰",
    "retrieve": "⇩",
    "compute": "∑",
    "verify": "✓",
    "backtrack": "↺",
    "explore": "✦",
    "conclude": "⚑",
}
"""The icon that opens each node's label (and the box of a ``conclude`` step): symbols that common
system fonts carry, so the page needs no font of its own."""

EDGE_STYLES: dict[str, dict[str, Any]] = {
    "next": {"color": "#9aa0a6", "width": 1.0, "dashes": False, "smooth": False},
    "branch": {"color": "#1f6fd1", "width": 2.5, "dashes": False, "smooth": False},
    "backtrack": {
        "color": "#d62728",
        "width": 2.0,
        "dashes": [8, 4],
        "smooth": {"enabled": True, "type": "curvedCW", "roundness": 0.35},
    },
    "verify": {
        "color": "#2ca02c",
        "width": 1.5,
        "dashes": [2, 4],
        "smooth": {"enabled": True, "type": "curvedCCW", "roundness": 0.35},
    },
    "revisit": {
        "color": "#9467bd",
        "width": 1.5,
        "dashes": [10, 4, 2, 4],
        "smooth": {"enabled": True, "type": "curvedCW", "roundness": 0.2},
    },
}
"""Colour, width, dash pattern and curve of each edge type. Back edges curve so that they stand
apart from the vertical line of continuations in the tree layout."""

BELIEF_PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
    "#800000", "#469990", "#000075", "#bfef45", "#808000", "#dcbeff", "#ffe119", "#aaffc3",
    "#fabed4", "#ffd8b1", "#a9a9a9", "#000000",
)  # fmt: skip
"""Distinct colours (Sasha Trubetskoy's list of 20), taken in taxonomy order."""

NO_BELIEF_COLOR = "#d5d9df"

KEY_METRICS: dict[str, str] = {
    "n_steps": "steps",
    "depth": "depth",
    "n_branches": "branches",
    "backtrack_rate": "backtracks / step",
    "verification_rate": "checks / step",
    "n_dead_end_steps": "dead-end steps",
    "failed_step_fraction": "failed-step fraction",
    "linearity": "linearity",
}
"""The metrics the page header shows, with their labels (all metrics are in a table below)."""


@dataclass(frozen=True)
class PageOptions:
    """How a trace page is built."""

    inline_vis: bool = True
    """Inline vis-network (a self-contained page). A report sets False and points ``vis_src`` at one
    shared copy beside its pages, so a thousand pages do not carry a thousand copies."""
    vis_src: str = "assets/vis-network.min.js"
    """Relative path of the shared vis-network copy, when not inlined."""
    back_link: str | None = None
    """A link shown in the header (a report's index), relative to the page."""


def tree_parents(analysis: Analysis) -> list[int]:
    """The search-tree parent of every step (-1 for the root).

    Taken from the steps (the graph stage fills ``Step.parent``); for analyses stored before that
    field existed, derived from the edges the graph stage wrote: the source of the ``next`` or
    ``branch`` edge into a step, else the target of the step's ``backtrack`` edge, else the step
    before it.
    """
    n = len(analysis.steps)
    if all(s.parent is not None for s in analysis.steps):
        return [int(s.parent) for s in analysis.steps]  # type: ignore[arg-type]
    parents = [-1] * n
    found = [False] * n
    for e in analysis.edges:
        if e.type in ("next", "branch") and 0 <= e.dst < n and not found[e.dst]:
            parents[e.dst], found[e.dst] = e.src, True
    for e in analysis.edges:
        if e.type == "backtrack" and 0 <= e.src < n and not found[e.src]:
            parents[e.src], found[e.src] = e.dst, True
    for i in range(1, n):
        if not found[i]:
            parents[i] = i - 1
    return parents


def utf16_index(text: str) -> Any:
    """A function from Python string offsets (code points) to JavaScript ones (UTF-16 code units):
    they differ after every character outside the Basic Multilingual Plane (emoji, 𝑥)."""
    astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF] if not text.isascii() else []
    if not astral:
        return lambda i: i
    return lambda i: i + bisect.bisect_left(astral, i)


def belief_legend(analysis: Analysis) -> list[dict[str, Any]]:
    """The beliefs present in a trace, in taxonomy order, each with its label, family, colour and
    the number of steps that carry it."""
    from cotgraph.beliefs.taxonomy import TaxonomyError, load_taxonomy

    order: list[str] = []
    labels: dict[str, tuple[str, str]] = {}
    if analysis.taxonomy:
        try:
            taxonomy = load_taxonomy(analysis.taxonomy)
            order = [b.id for b in taxonomy.beliefs]
            labels = {b.id: (b.label, b.family) for b in taxonomy.beliefs}
        except (TaxonomyError, OSError):
            pass  # a custom taxonomy not at hand: labels come from the hypotheses
    for h in analysis.hypotheses:
        labels.setdefault(h.belief, (h.label, h.family))
    steps_with = Counter(belief for belief, _ in {(t.belief, t.step) for t in analysis.beliefs})
    present = sorted(steps_with, key=lambda b: (order.index(b) if b in order else len(order), b))
    return [
        {
            "id": b,
            "label": labels.get(b, (b, ""))[0],
            "family": labels.get(b, (b, ""))[1],
            "color": BELIEF_PALETTE[(order.index(b) if b in order else len(order) + i) % len(BELIEF_PALETTE)],
            "steps": steps_with[b],
        }
        for i, b in enumerate(present)
    ]


def page_data(analysis: Analysis) -> dict[str, Any]:
    """Everything the page script needs, as JSON-ready data: the trace, its steps (offsets in
    UTF-16 code units, as JavaScript indexes strings), their beliefs, the legends, the hypotheses
    in the order they were first entertained, and the metrics."""
    trace = analysis.trace
    js = utf16_index(trace.reasoning)
    legend = belief_legend(analysis)
    tags: dict[int, list[dict[str, Any]]] = {}
    for t in sorted(analysis.beliefs, key=lambda t: (t.step, -t.score)):
        tags.setdefault(t.step, []).append(
            {
                "id": t.belief,
                "score": round(t.score, 3),
                "learned": t.via.startswith("learned:"),
                "stance": t.stance,
                "start": js(t.start),
                "end": js(t.end),
            }
        )
    parents = tree_parents(analysis)
    kinds = Counter(s.kind or "reason" for s in analysis.steps)
    edge_counts = Counter(e.type for e in analysis.edges)
    # JSON has no NaN or infinity (JSON.parse would reject the page): an undefined metric is left out.
    metrics = {k: v for k, v in analysis.metrics.items() if v is not None and math.isfinite(v)}
    return {
        "generator": f"cotgraph {__version__}",
        "trace": {
            "id": trace.id,
            "model": trace.model,
            "channel": trace.channel,
            "question": trace.question,
            # The file's name only: a page is meant to be sent, and a local path says too much.
            "source": {**trace.source.model_dump(), "path": Path(trace.source.path).name},
            "reasoning": trace.reasoning,
            "truncated": trace.truncated,
            "outcomes": {k: v for k, v in trace.outcomes.items() if isinstance(v, bool) or math.isfinite(v)},
            "taxonomy": analysis.taxonomy,
            "embedder": analysis.embedder,
        },
        "steps": [
            {
                "idx": s.idx,
                "start": js(s.start),
                "end": js(s.end),
                "kind": s.kind or "reason",
                "parent": parents[s.idx] if s.idx < len(parents) else -1,
                "dead_end": bool(s.dead_end),
                "state": s.state,
                "markers": s.markers,
                "beliefs": tags.get(s.idx, []),
            }
            for s in analysis.steps
        ],
        "beliefs": legend,
        "kinds": [{"kind": k, "shape": KIND_SHAPES.get(k, "dot"), "steps": kinds[k]} for k in KIND_SHAPES if kinds[k]]
        + [{"kind": k, "shape": "dot", "steps": c} for k, c in kinds.items() if k not in KIND_SHAPES],
        "edge_types": [
            {"type": t, "count": edge_counts[t], **{k: v for k, v in EDGE_STYLES[t].items() if k != "smooth"}}
            for t in EDGE_TYPES
        ],
        "hypotheses": [
            {
                "belief": h.belief,
                "label": h.label,
                "stance": h.stance,
                "first_step": h.first_step,
                "steps": len(h.steps),
            }
            for h in sorted(analysis.hypotheses, key=lambda h: (h.first_step, h.belief))
        ],
        "key_metrics": [
            {"name": k, "label": label, "value": metrics[k]} for k, label in KEY_METRICS.items() if k in metrics
        ],
        "metrics": metrics,
        "no_belief_color": NO_BELIEF_COLOR,
        "kind_icons": KIND_ICONS,
    }


def _node(data: dict[str, Any], colors: dict[str, str]) -> dict[str, Any]:
    beliefs = data["beliefs"]
    color = colors[beliefs[0]["id"]] if beliefs else NO_BELIEF_COLOR
    rejected = bool(beliefs) and beliefs[0]["stance"] == "rejected"
    shape = KIND_SHAPES.get(data["kind"], "dot")
    return {
        # a box is sized by its label (the kind's icon); other shapes by ``size``, their label drawn
        # beside them by the page script (icon and first words)
        "label": KIND_ICONS.get(data["kind"], "•") if shape == "box" else "",
        "shape": shape,
        "color": {
            "background": color,
            "border": "#2b2b2b" if beliefs else "#8a9099",
            "highlight": {"background": color, "border": "#111111"},
            "hover": {"background": color, "border": "#111111"},
        },
        "borderWidthSelected": 4,
        "borderWidth": 2 if beliefs else 1,
        "shapeProperties": {"borderDashes": [3, 3] if rejected else False},
        "opacity": 0.45 if data["dead_end"] else 1.0,
        "size": 14 if beliefs else 11,
        "font": {"size": 14},
    }


def build_network(analysis: Analysis, data: dict[str, Any]) -> Any:
    """The pyvis network of a trace: one node per step (shape by kind, colour by its strongest
    belief, faded on a dead end, dashed border when that belief is rejected), one edge per typed
    edge, physics off until the reader asks for it. The page script lays the nodes out in lanes
    and folds runs of plain steps into one node (``docs/rendering.md``), as that depends on the
    pane's size and on what the reader has expanded."""
    from pyvis.edge import Edge as PyvisEdge
    from pyvis.network import Network

    net = Network(directed=True, cdn_resources="local", height="100%", width="100%")
    colors = {b["id"]: b["color"] for b in data["beliefs"]}
    for step in data["steps"]:
        net.add_node(step["idx"], **_node(step, colors))
    # pyvis's add_edge checks both ends with a scan of the node list, which is quadratic on a long
    # trace; the graph stage's edges always join existing steps, so they are made with pyvis's Edge.
    net.edges.extend(
        PyvisEdge(
            e.src,
            e.dst,
            True,
            id=i,
            type=e.type,
            color={"color": EDGE_STYLES[e.type]["color"], "highlight": EDGE_STYLES[e.type]["color"], "opacity": 0.9},
            width=EDGE_STYLES[e.type]["width"],
            dashes=EDGE_STYLES[e.type]["dashes"],
            smooth=EDGE_STYLES[e.type]["smooth"],
        ).options
        for i, e in enumerate(analysis.edges)
    )
    large = len(analysis.steps) > 800
    net.options = {
        "autoResize": True,
        "layout": {"improvedLayout": False},
        "physics": {
            "enabled": False,
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {"gravitationalConstant": -40, "springLength": 60},
            "stabilization": {"enabled": True, "iterations": 150, "fit": True},
        },
        "interaction": {
            "hover": True,
            "tooltipDelay": 80,
            "hideEdgesOnDrag": large,
            "hideEdgesOnZoom": large,
            "multiselect": False,
            "navigationButtons": False,
            "keyboard": False,
        },
        "nodes": {"font": {"size": 10, "color": "#222", "face": "sans-serif"}},
        "edges": {"arrows": {"to": {"enabled": True, "scaleFactor": 0.5}}, "selectionWidth": 1.5},
    }
    return net


def render_trace(analysis: Analysis, options: PageOptions | None = None) -> str:
    """The HTML page of one analysed trace (a string; see :func:`write_trace_page`)."""
    options = options or PageOptions()
    misplaced = next((i for i, s in enumerate(analysis.steps) if s.idx != i), None)
    if misplaced is not None:
        raise ValueError(
            f"trace {analysis.trace.id}: step at position {misplaced} has idx {analysis.steps[misplaced].idx}; "
            "a page needs the steps numbered 0, 1, … in order"
        )
    data = page_data(analysis)
    net = build_network(analysis, data)
    nodes, edges, _heading, _height, _width, vis_options = net.get_network_data()
    for node in nodes:
        if node.get("shape") != "box":
            node.pop("label", None)  # pyvis labels every node with its id; the page draws its own
    graph = {"nodes": nodes, "edges": edges, "options": vis_options}
    script, style = assets.viz_file("trace.js"), assets.viz_file("trace.css")
    vis_js = assets.vis_network_js() if options.inline_vis else None
    template = assets.environment().get_template("trace.html")
    page_json, graph_json = assets.json_for_html(data), assets.json_for_html(graph)  # serialised once
    return template.render(
        title=f"{analysis.trace.id} · cotgraph",
        page_json=page_json,
        graph_json=graph_json,
        generator=data["generator"],
        script=script,
        style=style,
        vis_js=vis_js,
        vis_src=None if options.inline_vis else options.vis_src,
        back_link=options.back_link,
        nonce=assets.nonce_for(page_json, graph_json, script),
    )


def write_trace_page(analysis: Analysis, path: str | Path, options: PageOptions | None = None) -> Path:
    """Write the trace page of ``analysis`` to ``path`` (parent folders created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_trace(analysis, options), encoding="utf-8")
    return target

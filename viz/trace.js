/* cotgraph trace page.
 *
 * Builds the header, the legends (which are also the filters), the side panel with the whole
 * trace, and the vis-network graph from the two JSON blocks of the page. Trace text reaches the
 * DOM only through textContent, never as markup. Offsets in the data are UTF-16 code units, as
 * JavaScript indexes strings. window.cotgraph exposes the pieces for tests and for curious readers.
 */
(function () {
  "use strict";

  var page = JSON.parse(document.getElementById("cotgraph-data").textContent);
  var graph = JSON.parse(document.getElementById("cotgraph-graph").textContent);
  var options = typeof graph.options === "string" ? JSON.parse(graph.options) : graph.options;
  var text = page.trace.reasoning;
  var steps = page.steps;
  var NONE = "__none__";
  var beliefInfo = {};
  page.beliefs.forEach(function (b) { beliefInfo[b.id] = b; });
  var SVG = "http://www.w3.org/2000/svg";

  function $(id) { return document.getElementById(id); }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      if (Math.abs(value) >= 100) return value.toFixed(0);
      var shown = value.toPrecision(3);  // three significant digits; trailing zeros after a point dropped
      if (shown.indexOf("e") !== -1) return String(Number(shown));
      return shown.indexOf(".") === -1 ? shown : shown.replace(/0+$/, "").replace(/\.$/, "");
    }
    return String(value);
  }

  function stepText(s) { return text.slice(s.start, s.end); }

  function beliefLabel(id) { return beliefInfo[id] ? beliefInfo[id].label : id; }

  function beliefColor(id) { return beliefInfo[id] ? beliefInfo[id].color : page.no_belief_color; }

  function swatch(color) {
    var sw = el("span", "swatch");
    sw.style.background = color;
    return sw;
  }

  // --- header ---------------------------------------------------------------------------------

  $("trace-id").textContent = page.trace.id;
  $("trace-model").textContent = page.trace.model || "unknown model";
  $("trace-channel").textContent = page.trace.channel + (page.trace.truncated ? " · truncated" : "");
  if (page.trace.question) {
    $("trace-question").textContent = page.trace.question;
  } else {
    $("trace-question").hidden = true;
  }
  page.key_metrics.forEach(function (m) {
    var chip = el("span", "metric");
    chip.appendChild(el("span", "metric-value", fmt(m.value)));
    chip.appendChild(el("span", "metric-label", m.label));
    chip.title = m.name;
    $("key-metrics").appendChild(chip);
  });
  var hypotheses = $("hypotheses");
  if (!page.hypotheses.length) {
    hypotheses.appendChild(el("span", "muted", page.trace.taxonomy ? "none of the taxonomy's beliefs" : "beliefs were not tagged"));
  }
  page.hypotheses.forEach(function (h, i) {
    var button = el("button", "hypothesis stance-" + h.stance);
    button.type = "button";
    button.dataset.belief = h.belief;
    button.appendChild(el("span", "order", (i + 1) + "."));
    button.appendChild(swatch(beliefColor(h.belief)));
    button.appendChild(el("span", "hyp-label", h.label));
    button.appendChild(el("span", "hyp-meta", "step " + h.first_step + " · " + h.steps + " steps · " + h.stance));
    button.title = "first entertained at step " + h.first_step + "; stance at the end: " + h.stance;
    button.addEventListener("click", function () { select(h.first_step, true); });
    hypotheses.appendChild(button);
  });
  var outcomes = page.trace.outcomes || {};
  Object.keys(outcomes).sort().forEach(function (name) {
    var value = outcomes[name];
    var chip = el("span", "metric outcome");
    chip.appendChild(el("span", "metric-value", value === true ? "yes" : value === false ? "no" : fmt(value)));
    chip.appendChild(el("span", "metric-label", name));
    chip.title = "outcome kept with the trace (cotgraph outcomes links it to the beliefs)";
    $("outcomes").appendChild(chip);
    $("outcomes").hidden = false;
  });
  var metricsTable = $("metrics-table");
  Object.keys(page.metrics).sort().forEach(function (name) {
    var row = el("tr");
    row.appendChild(el("th", null, name));
    row.appendChild(el("td", null, fmt(page.metrics[name])));
    metricsTable.appendChild(row);
  });

  // --- the whole trace, one span per step -------------------------------------------------------

  var textPane = $("trace-text");
  var spans = new Array(steps.length);
  (function buildText() {
    var fragment = document.createDocumentFragment();
    var pos = 0;
    steps.forEach(function (s) {
      if (s.start > pos) fragment.appendChild(document.createTextNode(text.slice(pos, s.start)));
      var span = el("span", "step", text.slice(s.start, s.end));
      span.dataset.step = s.idx;
      span.dataset.start = s.start;
      span.dataset.end = s.end;
      if (s.beliefs.length) {
        span.classList.add("has-belief");
        span.style.setProperty("--belief", beliefColor(s.beliefs[0].id));
      }
      if (s.dead_end) span.classList.add("dead-end");
      spans[s.idx] = span;
      fragment.appendChild(span);
      pos = Math.max(pos, s.end);
    });
    if (pos < text.length) fragment.appendChild(document.createTextNode(text.slice(pos)));
    textPane.appendChild(fragment);
  })();
  textPane.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("span.step") : null;
    if (target) select(Number(target.dataset.step), true);
  });

  var selected = null;

  // --- the search tree: runs of plain steps, lanes ------------------------------------------------
  //
  // A *segment* is a maximal run of steps that simply continue one another (each step's tree parent
  // is the step before it, which has no other child, and both are alive or both on a dead end).
  // A collapsed segment is one node; an expanded one is a node per step. The visible nodes (the
  // "units") are laid out as the search tree: the line that leads to the trace's last step runs
  // down the first column, and every other child of a node (a branch, or the alternative a
  // backtrack returns to) opens a lane to the right, beside the node it leaves from.

  var LAYOUT = {
    rowHeight: 64,        // canvas units between rows
    laneWidth: 150,       // the least distance between lanes (room for a label)
    maxLaneWidth: 900,    // lanes spread up to this to use the pane's width
    fillWidth: 0.8,       // ...aiming at this fraction of it at fit
    nodeRoom: 26,         // the largest node's radius
    smallestNode: 11,     // the smallest node's radius (a step without a belief)
    minNodePx: 12,        // lanes draw closer (down to the largest node's width) to keep nodes this big at fit
    expandRows: 12,       // a trace starts expanded when, expanded, its tree has at most this many rows (or more on a tall pane)
    minimapSteps: 300,    // a minimap for traces longer than this
    fitMaxZoom: 1.5,      // fit never zooms in further than this
    labelPx: 12,          // labels are drawn at this size on screen...
    labelMinRowPx: 15     // ...when rows are at least this far apart on screen
  };
  var n = steps.length;
  var graphEdges = graph.edges;
  var stepNodes = {};
  graph.nodes.forEach(function (node) { stepNodes[node.id] = node; });

  function parentOf(i) {
    var p = steps[i].parent;
    return (typeof p === "number" && p >= 0 && p < i) ? p : -1;  // a parent always comes earlier
  }
  var kids = steps.map(function () { return []; });
  steps.forEach(function (s, i) { var p = parentOf(i); if (p >= 0) kids[p].push(i); });

  var segments = [];
  var segOf = new Array(n);
  steps.forEach(function (s, i) {
    var continues = i > 0 && parentOf(i) === i - 1 && kids[i - 1].length === 1 &&
      Boolean(steps[i - 1].dead_end) === Boolean(s.dead_end);
    if (continues) segments[segments.length - 1].last = i;
    else segments.push({ index: segments.length, first: i, last: i });
    segOf[i] = segments.length - 1;
  });

  var expanded = new Set();   // indexes of expanded segments (a one-step segment is always a step node)
  var view = null;            // { units, unitOf, byId, lanes, rows, laneWidth }

  function buildUnits() {
    var units = [];
    var unitOf = new Array(n);
    segments.forEach(function (seg) {
      var i;
      if (seg.last > seg.first && !expanded.has(seg.index)) {
        var unit = { id: "seg-" + seg.first, first: seg.first, last: seg.last, segment: seg.index, collapsed: true };
        for (i = seg.first; i <= seg.last; i++) unitOf[i] = unit;
        units.push(unit);
      } else {
        for (i = seg.first; i <= seg.last; i++) {
          unitOf[i] = { id: i, first: i, last: i, segment: seg.index, collapsed: false };
          units.push(unitOf[i]);
        }
      }
    });
    return { units: units, unitOf: unitOf };
  }

  // Rows and lanes of the units (see the comment above): chains are placed in the order they
  // start, each in the first lane right of its parent's that is free from the row before it
  // starts to the row after it ends, so nodes never share a place and lanes never touch.
  function placeLanes(units, unitOf) {
    var byId = {};
    units.forEach(function (u) { byId[u.id] = u; u.kids = []; u.latest = u.last; u.parentUnit = null; });
    units.forEach(function (u) {
      var p = parentOf(u.first);
      if (p >= 0) { u.parentUnit = unitOf[p]; u.parentUnit.kids.push(u); }
    });
    for (var k = units.length - 1; k >= 0; k--) {
      var u = units[k];
      if (u.parentUnit) u.parentUnit.latest = Math.max(u.parentUnit.latest, u.latest);
    }
    var pending = units.filter(function (u) { return !u.parentUnit; })
      .map(function (u) { return { row: 0, unit: u, minLane: 0 }; });
    var occupied = [];
    var rows = 0;
    function free(lane, r0, r1) {
      return (occupied[lane] || []).every(function (span) { return r1 + 1 < span[0] || r0 - 1 > span[1]; });
    }
    while (pending.length) {
      var best = 0;
      for (var j = 1; j < pending.length; j++) {
        var a = pending[j], b = pending[best];
        if (a.row < b.row || (a.row === b.row && a.unit.first < b.unit.first)) best = j;
      }
      var start = pending.splice(best, 1)[0];
      var chain = [start.unit];
      for (var last = start.unit; last.kids.length; last = chain[chain.length - 1]) {
        chain.push(last.kids.reduce(function (x, y) { return y.latest > x.latest ? y : x; }));
      }
      var r0 = start.row, r1 = start.row + chain.length - 1;
      var lane = start.minLane;
      while (!free(lane, r0, r1)) lane++;
      (occupied[lane] = occupied[lane] || []).push([r0, r1]);
      rows = Math.max(rows, r1 + 1);
      chain.forEach(function (u, i) {
        u.row = r0 + i;
        u.lane = lane;
        u.kids.forEach(function (kid) {
          if (chain.indexOf(kid) === -1) pending.push({ row: u.row + 1, unit: kid, minLane: lane + 1 });
        });
      });
    }
    // the next node to the right in each unit's row: its label stops short of it
    var byRow = {};
    units.forEach(function (u) { (byRow[u.row] = byRow[u.row] || []).push(u); });
    Object.keys(byRow).forEach(function (row) {
      var line = byRow[row].sort(function (a, b) { return a.lane - b.lane; });
      line.forEach(function (u, i) { u.nextInRow = i + 1 < line.length ? line[i + 1] : null; });
    });
    return { byId: byId, lanes: occupied.length, rows: rows };
  }

  function paneSize() {
    var box = $("graph").getBoundingClientRect();
    return { width: Math.max(box.width, 300), height: Math.max(box.height, 200) };
  }

  // The distance between lanes: spread so that the drawing uses most of the pane's width at the
  // zoom "fit" will choose (fit adds 10% around the drawing and never zooms in past
  // LAYOUT.fitMaxZoom), at least room for a label, but narrower when that would make the
  // smallest nodes less than LAYOUT.minNodePx across at fit (never narrower than the largest node).
  function laneWidthFor(lanes, rows) {
    if (lanes < 2) return LAYOUT.laneWidth;
    var pane = paneSize();
    var height = Math.max(rows - 1, 1) * LAYOUT.rowHeight + 2 * LAYOUT.nodeRoom;
    var scale = Math.min(LAYOUT.fitMaxZoom, pane.height / (1.1 * height));
    var wanted = (pane.width * LAYOUT.fillWidth / (1.1 * scale) - 2 * LAYOUT.nodeRoom) / (lanes - 1);
    var width = Math.min(LAYOUT.maxLaneWidth, Math.max(LAYOUT.laneWidth, wanted));
    var leastScale = LAYOUT.minNodePx / (2 * LAYOUT.smallestNode);
    var forNodes = (pane.width / (1.1 * leastScale) - 2 * LAYOUT.nodeRoom) / (lanes - 1);
    return Math.round(Math.max(2 * LAYOUT.nodeRoom + 10, Math.min(width, forNodes)));
  }

  // --- how units look -------------------------------------------------------------------------------

  var KIND_ICONS = page.kind_icons || {};

  function firstLine(s, limit) {
    var body = stepText(s).trim();
    var line = body.split("\n")[0];
    return line.length > limit ? line.slice(0, limit).replace(/\s+\S*$/, "") + " …" : line;
  }

  function unitLabel(u) {
    if (u.collapsed) return "⋯ " + (u.last - u.first + 1) + " steps · " + firstLine(steps[u.first], 80);
    var s = steps[u.first];
    return (KIND_ICONS[s.kind] || "•") + " " + s.idx + " · " + firstLine(s, 80);
  }

  // the belief carried by most of the given steps (null when none carries one)
  function mostCommonBelief(indexes) {
    var counts = {};
    var best = null;
    indexes.forEach(function (i) {
      steps[i].beliefs.forEach(function (b) {
        counts[b.id] = (counts[b.id] || 0) + 1;
        if (best === null || counts[b.id] > counts[best]) best = b.id;
      });
    });
    return best;
  }

  function stepRange(u) {
    var out = [];
    for (var i = u.first; i <= u.last; i++) out.push(i);
    return out;
  }

  function unitNode(u) {
    var dead = isDeadUnit(u);
    var node;
    if (!u.collapsed) {
      node = Object.assign({}, stepNodes[u.first]);
    } else {
      var belief = mostCommonBelief(stepRange(u));
      var color = belief === null ? page.no_belief_color : beliefColor(belief);
      node = {
        shape: "dot",
        size: Math.min(26, 13 + 3 * Math.log2(u.last - u.first + 1)),
        color: { background: color, border: "#1d2127", highlight: { background: color, border: "#000" },
          hover: { background: color, border: "#000" } },
        borderWidth: 3,
        borderWidthSelected: 5,
        shapeProperties: { borderDashes: [6, 3] }
      };
    }
    node.id = u.id;
    node.opacity = dead ? 0.35 : 1.0;
    Object.assign(node, lanePosition(u));
    node.hidden = unitHidden(u);
    node.dead = dead;
    return node;
  }

  // Edges between units: the graph's edges with both ends mapped to the units holding them;
  // edges inside one collapsed segment are not drawn (its hover counts them), and several edges
  // of one type between the same two units are one, wider, edge.
  function unitEdges(unitOf) {
    var merged = {};
    var order = [];
    graphEdges.forEach(function (e) {
      var u = unitOf[e.from], v = unitOf[e.to];
      if (!u || !v || u === v) return;
      var key = e.type + ":" + u.id + ">" + v.id;
      if (!merged[key]) {
        merged[key] = Object.assign({}, e, { id: key, from: u.id, to: v.id, members: [] });
        order.push(key);
      }
      merged[key].members.push(e.id);
    });
    return order.map(function (key) {
      var edge = merged[key];
      var count = edge.members.length;
      if (count > 1) {
        edge.width = edge.width * (1 + Math.log2(count));
        edge.title = count + " " + edge.type + " edges";
      }
      var faded = isDeadUnit(view.byId[edge.from]) && isDeadUnit(view.byId[edge.to]);
      edge.color = Object.assign({}, edge.color, { opacity: faded ? 0.3 : 0.9 });
      edge.hidden = hiddenTypes.has(edge.type);
      return edge;
    });
  }

  // a run never mixes dead and live steps (segments split there), so its first step says it
  function isDeadUnit(u) { return Boolean(steps[u.first].dead_end); }

  function lanePosition(u) { return { x: u.lane * view.laneWidth, y: u.row * LAYOUT.rowHeight }; }

  function placeInLanes() {
    nodes.update(view.units.map(function (u) { return Object.assign({ id: u.id }, lanePosition(u)); }));
  }

  // --- the graph ------------------------------------------------------------------------------------

  var hiddenBeliefs = new Set();
  var hiddenTypes = new Set();

  function stepHidden(s) {
    if (!s.beliefs.length) return hiddenBeliefs.has(NONE);
    return s.beliefs.some(function (b) { return hiddenBeliefs.has(b.id); });
  }

  function unitHidden(u) {
    for (var i = u.first; i <= u.last; i++) if (!stepHidden(steps[i])) return false;
    return true;  // a segment is hidden only when every one of its steps is
  }

  var nodes = new vis.DataSet([]);
  var edges = new vis.DataSet([]);
  var network = new vis.Network($("graph"), { nodes: nodes, edges: edges }, options);
  var outgoing = {};
  var incoming = {};
  graphEdges.forEach(function (e) {
    (outgoing[e.from] = outgoing[e.from] || []).push(e);
    (incoming[e.to] = incoming[e.to] || []).push(e);
  });
  var layoutMode = "tree";
  var labelCache = {};

  // Build the visible units, lay them out and put them in the network.
  function buildView() {
    var built = buildUnits();
    var placed = placeLanes(built.units, built.unitOf);
    view = {
      units: built.units,
      unitOf: built.unitOf,
      byId: placed.byId,
      lanes: placed.lanes,
      rows: placed.rows,
      laneWidth: laneWidthFor(placed.lanes, placed.rows)
    };
    labelCache = {};
    nodes.clear();
    edges.clear();
    nodes.add(view.units.map(unitNode));
    edges.add(unitEdges(view.unitOf));
    if (layoutMode === "physics") network.stabilize(100);
    if (selected !== null) network.selectNodes([view.unitOf[selected].id]);
  }

  // "fit": the whole drawing in the pane. Until the reader zooms or drags, the view stays at fit
  // when the pane changes size (the lanes spread again for the new shape).
  var atFit = true;
  function fitView() {
    atFit = true;
    network.fit({ animation: false, maxZoomLevel: LAYOUT.fitMaxZoom });
    if (!view || !view.units.length) return;
    // then move the drawing to the pane's left edge: labels run to the right of their nodes
    var scale = network.getScale();
    var ids = view.units.map(function (u) { return u.id; });
    var left = Infinity;
    ids.forEach(function (id) { left = Math.min(left, network.getBoundingBox(id).left); });
    var pane = paneSize();
    var centre = network.getViewPosition();
    network.moveTo({ position: { x: left - 24 / scale + pane.width / (2 * scale), y: centre.y }, scale: scale, animation: false });
  }
  network.on("zoom", function () { atFit = false; });
  network.on("dragEnd", function (params) { if (!params.nodes.length) atFit = false; });
  var lastPane = null;
  new ResizeObserver(function () {
    var pane = paneSize();
    if (!view || $("graph").hidden || (lastPane && lastPane.width === pane.width && lastPane.height === pane.height)) return;
    lastPane = pane;
    if (!atFit) return;
    if (layoutMode === "tree") {
      view.laneWidth = laneWidthFor(view.lanes, view.rows);
      labelCache = {};
      placeInLanes();
    }
    fitView();
  }).observe($("graph"));

  // Expanded, how many rows would the tree have? (decides whether a trace starts expanded)
  function expandedRows() {
    var saved = expanded;
    expanded = new Set(segments.map(function (s) { return s.index; }));
    var built = buildUnits();
    var rows = placeLanes(built.units, built.unitOf).rows;
    expanded = saved;
    return rows;
  }

  function setExpanded(indexes, anchorStep) {
    // keep the anchor step where it is on screen while the tree around it moves
    var anchor = null;
    if (anchorStep !== undefined && anchorStep !== null && view) {
      var id = view.unitOf[anchorStep].id;
      anchor = network.canvasToDOM(network.getPositions([id])[id]);
    }
    expanded = indexes;
    buildView();
    if (anchor) {
      var scale = network.getScale();
      var id2 = view.unitOf[anchorStep].id;
      var at = network.getPositions([id2])[id2];
      var pane = paneSize();
      network.moveTo({
        position: { x: at.x - (anchor.x - pane.width / 2) / scale, y: at.y - (anchor.y - pane.height / 2) / scale },
        scale: scale,
        animation: false
      });
      atFit = false;
    }
    updateExpandButtons();
  }

  function expandSegment(k, anchorStep) {
    var next = new Set(expanded);
    next.add(k);
    setExpanded(next, anchorStep);
  }

  function collapseSegment(k, anchorStep) {
    var next = new Set(expanded);
    next.delete(k);
    setExpanded(next, anchorStep);
  }

  function expandAll() { setExpanded(new Set(segments.map(function (s) { return s.index; }))); fitView(); }
  function collapseAll() { setExpanded(new Set()); fitView(); }

  function updateExpandButtons() {
    var multi = segments.filter(function (s) { return s.last > s.first; });
    var open = multi.filter(function (s) { return expanded.has(s.index); }).length;
    $("expand-all").disabled = open === multi.length;
    $("collapse-all").disabled = open === 0;
  }

  // --- labels: the kind icon and first words, drawn beside each node at a readable zoom ------------

  var labelsDrawn = [];
  var labelFont = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
  network.on("afterDrawing", function (ctx) {
    labelsDrawn = [];
    var scale = network.getScale();
    if (!view || LAYOUT.rowHeight * scale < LAYOUT.labelMinRowPx) return;
    var pane = paneSize();
    var topLeft = network.DOMtoCanvas({ x: 0, y: 0 });
    var bottomRight = network.DOMtoCanvas({ x: pane.width, y: pane.height });
    var ids = view.units.map(function (u) { return u.id; });
    var at = network.getPositions(ids);
    ctx.save();
    ctx.textBaseline = "middle";
    view.units.forEach(function (u) {
      var p = at[u.id];
      if (!p || p.y < topLeft.y - 40 || p.y > bottomRight.y + 40 || p.x > bottomRight.x) return;
      var node = nodes.get(u.id);
      if (!node || node.hidden) return;
      var box = network.getBoundingBox(u.id);
      // room: up to the next node to the right in its row, else to the pane's right edge
      var limit = bottomRight.x - 8 / scale;
      if (layoutMode === "tree" && u.nextInRow) limit = Math.min(limit, u.nextInRow.lane * view.laneWidth - LAYOUT.nodeRoom - 6);
      var roomPx = (limit - box.right - 5) * scale;
      var text = fitLabel(ctx, u, roomPx);
      if (!text) return;
      ctx.font = (LAYOUT.labelPx / scale) + "px " + labelFont;
      ctx.globalAlpha = node.dead ? 0.45 : 1;
      ctx.fillStyle = "#1d2127";
      ctx.fillText(text, box.right + 5, p.y);
      var widthPx = ctx.measureText(text).width * scale;
      labelsDrawn.push({ id: u.id, text: text, x: box.right + 5, y: p.y, widthPx: widthPx });
    });
    ctx.restore();
  });

  // the label, cut (with an ellipsis) to fit roomPx screen pixels at LAYOUT.labelPx
  function fitLabel(ctx, u, roomPx) {
    var key = u.id + "|" + Math.floor(roomPx / 8);
    if (labelCache[key] !== undefined) return labelCache[key];
    ctx.font = LAYOUT.labelPx + "px " + labelFont;
    var room = Math.floor(roomPx / 8) * 8;
    var full = unitLabel(u);
    var text = full;
    if (room < 24) text = "";
    else if (ctx.measureText(full).width > room) {
      var lo = 0, hi = full.length;
      while (lo < hi) {  // the longest prefix that fits with an ellipsis
        var mid = (lo + hi + 1) >> 1;
        if (ctx.measureText(full.slice(0, mid) + "…").width <= room) lo = mid; else hi = mid - 1;
      }
      text = lo > 1 ? full.slice(0, lo).replace(/\s+$/, "") + "…" : "";
    }
    labelCache[key] = text;
    return text;
  }

  // --- hover ----------------------------------------------------------------------------------------

  var tooltip = $("tooltip");
  function scoreText(b) {
    // A learned belief's score is a probability ("p 0.87"); a rule-based one is the cue +
    // similarity score ("score 0.80").
    return (b.learned ? "p " : "score ") + fmt(b.score);
  }

  function beliefList(tags) {
    var list = el("ul", "tip-beliefs");
    tags.forEach(function (b) {
      var item = el("li");
      item.appendChild(swatch(beliefColor(b.id)));
      item.appendChild(el("span", null, beliefLabel(b.id) + " — " + scoreText(b) + " · " + b.stance));
      list.appendChild(item);
    });
    return list;
  }

  function showTooltip(id, pointer) {
    var u = view.byId[id];
    if (!u) return;
    tooltip.textContent = "";
    if (!u.collapsed) {
      var s = steps[u.first];
      tooltip.appendChild(el("div", "tip-head", "step " + s.idx + " · " + s.kind + (s.dead_end ? " · dead end" : "")));
      if (s.markers.length) tooltip.appendChild(el("div", "tip-markers", "opens with: " + s.markers.join(", ")));
      tooltip.appendChild(el("div", "tip-text", firstLine(s, 240)));
      if (s.beliefs.length) tooltip.appendChild(beliefList(s.beliefs));
    } else {
      var count = u.last - u.first + 1;
      var kinds = {};
      var strongest = {};
      var inside = 0;
      for (var i = u.first; i <= u.last; i++) {
        kinds[steps[i].kind] = (kinds[steps[i].kind] || 0) + 1;
        steps[i].beliefs.forEach(function (b) { if (!strongest[b.id] || b.score > strongest[b.id].score) strongest[b.id] = b; });
        (outgoing[i] || []).forEach(function (e) { if (e.type !== "next" && e.to >= u.first && e.to <= u.last) inside++; });
      }
      tooltip.appendChild(el("div", "tip-head", "steps " + u.first + "–" + u.last + " · " + count + " steps" +
        (isDeadUnit(u) ? " · dead end" : "") + " · click to expand"));
      tooltip.appendChild(el("div", "tip-markers", Object.keys(kinds).sort(function (a, b) { return kinds[b] - kinds[a]; })
        .map(function (k) { return k + " " + kinds[k]; }).join(" · ") + (inside ? " · " + inside + " edges inside" : "")));
      tooltip.appendChild(el("div", "tip-text", firstLine(steps[u.first], 240)));
      var tags = Object.keys(strongest).map(function (k) { return strongest[k]; })
        .sort(function (a, b) { return b.score - a.score; });
      if (tags.length) tooltip.appendChild(beliefList(tags));
    }
    var pane = $("graph").getBoundingClientRect();
    tooltip.hidden = false;
    var x = Math.min(pointer.x + 14, pane.width - tooltip.offsetWidth - 4);
    var y = Math.min(pointer.y + 14, pane.height - tooltip.offsetHeight - 4);
    tooltip.style.left = Math.max(0, x) + "px";
    tooltip.style.top = (Math.max(0, y) + $("graph-area").offsetTop) + "px";
  }
  network.on("hoverNode", function (params) { showTooltip(params.node, params.pointer.DOM); });
  network.on("blurNode", function () { tooltip.hidden = true; });
  network.on("dragStart", function () { tooltip.hidden = true; });
  network.on("zoom", function () { tooltip.hidden = true; });

  // --- the minimap (traces of more than LAYOUT.minimapSteps steps) ---------------------------------

  var minimap = $("minimap");
  var minimapFrame = null;
  var minimapBounds = null;
  function drawMinimap() {
    minimapFrame = null;
    if (minimap.hidden || !view) return;
    var ctx = minimap.getContext("2d");
    var w = minimap.width, h = minimap.height, pad = 6;
    var ids = view.units.map(function (u) { return u.id; });
    var at = network.getPositions(ids);
    var xs = ids.map(function (id) { return at[id].x; }), ys = ids.map(function (id) { return at[id].y; });
    var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs);
    var minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
    var k = Math.min((w - 2 * pad) / Math.max(maxX - minX, 1), (h - 2 * pad) / Math.max(maxY - minY, 1));
    minimapBounds = { minX: minX, minY: minY, k: k, pad: pad };
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "rgba(255,255,255,0.92)";
    ctx.fillRect(0, 0, w, h);
    view.units.forEach(function (u) {
      var node = nodes.get(u.id);
      if (!node || node.hidden) return;
      ctx.globalAlpha = node.dead ? 0.35 : 1;
      ctx.fillStyle = node.color && node.color.background ? node.color.background : "#888";
      ctx.fillRect(pad + (at[u.id].x - minX) * k - 1.5, pad + (at[u.id].y - minY) * k - 1.5, 3, 3);
    });
    ctx.globalAlpha = 1;
    var pane = paneSize();
    var a = network.DOMtoCanvas({ x: 0, y: 0 }), b = network.DOMtoCanvas({ x: pane.width, y: pane.height });
    ctx.strokeStyle = "#1f6fd1";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(pad + (a.x - minX) * k, pad + (a.y - minY) * k, (b.x - a.x) * k, (b.y - a.y) * k);
  }
  function minimapToCanvas(event) {
    var box = minimap.getBoundingClientRect();
    var m = minimapBounds;
    return {
      x: m.minX + ((event.clientX - box.left) * (minimap.width / box.width) - m.pad) / m.k,
      y: m.minY + ((event.clientY - box.top) * (minimap.height / box.height) - m.pad) / m.k
    };
  }
  var draggingMinimap = false;
  function moveFromMinimap(event) {
    if (!minimapBounds) return;
    network.moveTo({ position: minimapToCanvas(event), scale: network.getScale(), animation: false });
  }
  minimap.addEventListener("mousedown", function (event) { draggingMinimap = true; moveFromMinimap(event); event.preventDefault(); });
  window.addEventListener("mousemove", function (event) { if (draggingMinimap) moveFromMinimap(event); });
  window.addEventListener("mouseup", function () { draggingMinimap = false; });
  minimap.hidden = n <= LAYOUT.minimapSteps;
  network.on("afterDrawing", function () {
    if (!minimap.hidden && minimapFrame === null) minimapFrame = window.requestAnimationFrame(drawMinimap);
  });

  // --- the state graph (a second tab): k-means states of the steps, linked in the order visited ----

  var stateNetwork = null;
  var stateSteps = {};
  steps.forEach(function (s) {
    if (typeof s.state === "number") (stateSteps[s.state] = stateSteps[s.state] || []).push(s.idx);
  });
  var stateIds = Object.keys(stateSteps).map(Number).sort(function (a, b) { return stateSteps[a][0] - stateSteps[b][0]; });

  function stateGraphData() {
    var transitions = {};
    var prev = null;
    steps.forEach(function (s) {
      if (typeof s.state !== "number") return;
      if (prev !== null && prev !== s.state) {
        var key = prev + ">" + s.state;
        transitions[key] = (transitions[key] || 0) + 1;
      }
      prev = s.state;
    });
    var radius = Math.max(160, 40 * stateIds.length);
    var stateNodes = stateIds.map(function (state, i) {  // a circle, in the order first visited
      var members = stateSteps[state];
      var angle = -Math.PI / 2 + 2 * Math.PI * i / stateIds.length;
      var belief = mostCommonBelief(members);
      var color = belief === null ? page.no_belief_color : beliefColor(belief);
      return {
        id: "state-" + state,
        state: state,
        label: "S" + state + " · " + members.length + (members.length === 1 ? " step" : " steps") + "\n" + firstLine(steps[members[0]], 28),
        shape: "dot",
        size: 10 + 4 * Math.sqrt(members.length),
        color: { background: color, border: "#2b2b2b" },
        x: stateIds.length > 1 ? radius * Math.cos(angle) : 0,
        y: stateIds.length > 1 ? radius * Math.sin(angle) : 0,
        font: { size: 12, color: "#222", face: "sans-serif" }
      };
    });
    var stateEdges = Object.keys(transitions).map(function (key) {
      var ends = key.split(">");
      return {
        id: "move-" + key,
        from: "state-" + ends[0],
        to: "state-" + ends[1],
        count: transitions[key],
        width: 1 + 1.5 * Math.log2(transitions[key]),
        label: transitions[key] > 1 ? String(transitions[key]) : undefined,
        color: { color: "#7b8794", opacity: 0.8 },
        smooth: { enabled: true, type: "curvedCW", roundness: 0.15 },
        arrows: { to: { enabled: true, scaleFactor: 0.6 } },
        font: { size: 10, color: "#555", strokeWidth: 3, align: "middle" }
      };
    });
    return { nodes: stateNodes, edges: stateEdges };
  }

  function showTab(name) {
    var states = name === "states";
    if (states && !stateIds.length) return;
    $("graph").hidden = states;
    $("state-graph").hidden = !states;
    $("tab-tree").classList.toggle("active", !states);
    $("tab-states").classList.toggle("active", states);
    $("tree-tools").hidden = states;
    document.body.dataset.tab = states ? "states" : "tree";
    if (states && !stateNetwork) {
      var data = stateGraphData();
      stateNetwork = new vis.Network($("state-graph"), { nodes: new vis.DataSet(data.nodes), edges: new vis.DataSet(data.edges) }, {
        autoResize: true,
        physics: { enabled: false },
        layout: { improvedLayout: false },
        interaction: { hover: true, tooltipDelay: 80, keyboard: false }
      });
      stateNetwork.on("click", function (params) {
        if (!params.nodes.length) return;
        var members = stateSteps[Number(String(params.nodes[0]).slice(6))];
        // each click on a state goes to its next step, so its steps can be walked
        var after = members.filter(function (idx) { return selected === null || idx > selected; })[0];
        select(after === undefined ? members[0] : after, true);
      });
    }
    if (states) { stateNetwork.redraw(); stateNetwork.fit({ animation: false, maxZoomLevel: 1.2 }); }
    else network.redraw();
  }
  $("tab-tree").addEventListener("click", function () { showTab("tree"); });
  $("tab-states").addEventListener("click", function () { showTab("states"); });
  if (!stateIds.length) {
    $("tab-states").disabled = true;
    $("tab-states").title = "no states: this analysis was stored before each step's state was kept";
  } else {
    $("tab-states").title = stateIds.length + " states: clusters of the steps' embeddings, linked in the order the trace visits them";
  }

  // --- selection --------------------------------------------------------------------------------



  function stepLink(idx, label) {
    var a = el("button", "step-link", label);
    a.type = "button";
    a.addEventListener("click", function () { select(idx, true); });
    return a;
  }

  var EDGE_WORDS = {
    out: { next: "continues to", branch: "branches to", backtrack: "backtracks to", verify: "checks", revisit: "restates" },
    in: { next: "continues from", branch: "branches from", backtrack: "returned to by", verify: "checked by", revisit: "restated by" }
  };

  function showDetail(idx) {
    var s = steps[idx];
    var pane = $("step-detail");
    pane.textContent = "";
    var head = el("div", "detail-head");
    head.appendChild(el("strong", null, "step " + s.idx));
    head.appendChild(el("span", "pill", s.kind));
    if (s.dead_end) head.appendChild(el("span", "pill dead", "dead end"));
    if (s.markers.length) head.appendChild(el("span", "muted", "opens with: " + s.markers.join(", ")));
    head.appendChild(el("span", "muted", "chars " + s.start + "–" + s.end));
    pane.appendChild(head);
    var moves = el("div", "moves");
    (outgoing[idx] || []).forEach(function (e) {
      if (e.type === "next") return;
      var m = el("span", "move " + e.type, EDGE_WORDS.out[e.type] + " ");
      m.appendChild(stepLink(e.to, String(e.to)));
      moves.appendChild(m);
    });
    (incoming[idx] || []).forEach(function (e) {
      if (e.type === "next") return;
      var m = el("span", "move " + e.type, EDGE_WORDS.in[e.type] + " ");
      m.appendChild(stepLink(e.from, String(e.from)));
      moves.appendChild(m);
    });
    var named = (outgoing[idx] || []).some(function (e) { return e.type === "backtrack" && e.to === s.parent; }) ||
      (incoming[idx] || []).some(function (e) { return e.type === "branch" && e.from === s.parent; });
    if (s.parent >= 0 && s.parent !== idx - 1 && !named) {
      var p = el("span", "move", "tree parent ");
      p.appendChild(stepLink(s.parent, String(s.parent)));
      moves.appendChild(p);
    }
    if (moves.childNodes.length) pane.appendChild(moves);
    if (s.beliefs.length) {
      var table = el("table", "beliefs");
      var header = el("tr");
      ["belief", "p / score", "stance", "evidence"].forEach(function (h) { header.appendChild(el("th", null, h)); });
      table.appendChild(header);
      s.beliefs.forEach(function (b) {
        var row = el("tr");
        var name = el("td");
        name.appendChild(swatch(beliefColor(b.id)));
        name.appendChild(el("span", null, beliefLabel(b.id)));
        row.appendChild(name);
        var cell = el("td", "num", scoreText(b));
        cell.title = b.learned
          ? "probability from the learned tagger (docs/beliefs.md)"
          : "cue + similarity score (no learned model for this belief)";
        row.appendChild(cell);
        row.appendChild(el("td", "stance-" + b.stance, b.stance));
        row.appendChild(el("td", "quote", text.slice(b.start, b.end)));
        table.appendChild(row);
      });
      pane.appendChild(table);
    } else {
      pane.appendChild(el("p", "muted", "no belief of the taxonomy"));
    }
    var seg = segments[segOf[idx]];
    if (seg.last > seg.first) {
      var run = el("div", "run muted", "in a run of steps " + seg.first + "–" + seg.last + " that simply continue one another ");
      var toggle = el("button", "step-link", expanded.has(seg.index) ? "collapse it" : "expand it");
      toggle.type = "button";
      toggle.id = "toggle-run";
      toggle.addEventListener("click", function () {
        if (expanded.has(seg.index)) collapseSegment(seg.index, idx); else expandSegment(seg.index, idx);
        showDetail(idx);
      });
      run.appendChild(toggle);
      pane.appendChild(run);
    }
  }

  function select(idx, moveGraph) {
    if (idx === null || idx === undefined || idx < 0 || idx >= steps.length) return;
    if (selected !== null) spans[selected].classList.remove("selected");
    selected = idx;
    spans[idx].classList.add("selected");
    spans[idx].scrollIntoView({ block: "center" });
    var id = view.unitOf[idx].id;
    network.selectNodes([id]);
    if (moveGraph && !$("graph").hidden) {
      network.focus(id, { scale: Math.max(network.getScale(), 0.9), animation: false });
      atFit = false;
    }
    showDetail(idx);
    markTimeline(idx);
    // the address keeps the step: a link to page.html#step-23 opens it
    if (window.location.hash !== "#step-" + idx) history.replaceState(null, "", "#step-" + idx);
  }

  function clearSelection() {
    if (selected !== null) spans[selected].classList.remove("selected");
    selected = null;
    network.unselectAll();
    markTimeline(null);
    if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  // the next step after the selected one (from the start when none is) that passes a test, wrapping
  function nextWhere(test) {
    var start = selected === null ? -1 : selected;
    for (var k = 1; k <= steps.length; k++) {
      var idx = (start + k) % steps.length;
      if (test(steps[idx])) return idx;
    }
    return null;
  }

  function isBacktrack(s) {
    return (outgoing[s.idx] || []).some(function (e) { return e.type === "backtrack"; }) || s.kind === "backtrack";
  }

  function stepFromHash() {
    var found = /^#step-(\d+)$/.exec(window.location.hash);
    return found ? parseInt(found[1], 10) : null;
  }

  // --- the belief timeline: one strip per hypothesis, a cell per step that carries it ---------------

  var timelineNow = [];
  (function buildTimeline() {
    if (!page.hypotheses.length) return;
    var rows = $("timeline-rows");
    var n = steps.length;
    page.hypotheses.forEach(function (h) {
      var row = el("div", "tl-row");
      row.dataset.belief = h.belief;
      var name = el("span", "tl-name");
      name.appendChild(swatch(beliefColor(h.belief)));
      name.appendChild(document.createTextNode(h.label));
      name.title = h.label + ": first at step " + h.first_step;
      row.appendChild(name);
      var track = el("div", "tl-track");
      steps.forEach(function (s) {
        var tag = s.beliefs.filter(function (b) { return b.id === h.belief; })[0];
        if (!tag) return;
        var cell = el("span", "tl-cell stance-" + tag.stance);
        cell.dataset.step = s.idx;
        cell.style.left = (100 * s.idx / n) + "%";
        cell.style.width = (100 / n) + "%";
        cell.title = "step " + s.idx + " · " + tag.stance + " · " + fmt(tag.score);
        cell.addEventListener("click", function () { select(s.idx, true); });
        track.appendChild(cell);
      });
      var now = el("span", "tl-now");
      now.hidden = true;
      track.appendChild(now);
      timelineNow.push(now);
      row.appendChild(track);
      rows.appendChild(row);
    });
    $("timeline").hidden = false;
  })();

  function markTimeline(idx) {
    timelineNow.forEach(function (now) {
      now.hidden = idx === null;
      if (idx !== null) now.style.left = (100 * (idx + 0.5) / steps.length) + "%";
    });
  }

  // --- search over the steps' text ----------------------------------------------------------------

  var matches = [];

  function runSearch() {
    var query = $("search").value.trim().toLowerCase();
    matches.forEach(function (idx) { spans[idx].classList.remove("match"); });
    matches = query ? steps.filter(function (s) { return stepText(s).toLowerCase().indexOf(query) >= 0; })
      .map(function (s) { return s.idx; }) : [];
    matches.forEach(function (idx) { spans[idx].classList.add("match"); });
    $("search-count").textContent = query ? matches.length + (matches.length === 1 ? " step" : " steps") : "";
  }

  $("search").addEventListener("input", runSearch);
  $("search").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && matches.length) {
      var set = new Set(matches);
      var idx = nextWhere(function (s) { return set.has(s.idx); });
      select(idx, true);
      $("search-count").textContent = (matches.indexOf(idx) + 1) + " / " + matches.length;
      event.preventDefault();
    }
    if (event.key === "Escape") { $("search").value = ""; runSearch(); $("search").blur(); }
  });
  window.addEventListener("hashchange", function () {
    var idx = stepFromHash();
    if (idx !== null && idx !== selected) select(idx, true);
  });

  network.on("click", function (params) {
    if (params.nodes.length) {
      var u = view.byId[params.nodes[0]];
      if (u && u.collapsed) {  // a run of steps opens where it is, and its first step is selected
        expandSegment(u.segment, u.first);
        select(u.first, false);
      } else if (u) {
        select(u.first, false);
      }
    } else if (!params.edges.length) clearSelection();
  });
  document.addEventListener("keydown", function (event) {
    if (event.target && /INPUT|TEXTAREA|SELECT/.test(event.target.tagName)) return;
    if (event.key === "j" || event.key === "ArrowDown") { select(selected === null ? 0 : selected + 1, true); event.preventDefault(); }
    if (event.key === "k" || event.key === "ArrowUp") { select(selected === null ? 0 : selected - 1, true); event.preventDefault(); }
    if (event.key === "b") { select(nextWhere(isBacktrack), true); event.preventDefault(); }
    if (event.key === "h") { select(nextWhere(function (s) { return s.beliefs.length > 0; }), true); event.preventDefault(); }
    if (event.key === "/") { $("search").focus(); event.preventDefault(); }
    if (event.key === "Escape") clearSelection();
  });

  // --- filters (the legends) ----------------------------------------------------------------------

  function applyFilters() {
    steps.forEach(function (s) { spans[s.idx].classList.toggle("filtered", stepHidden(s)); });
    nodes.update(view.units.map(function (u) { return { id: u.id, hidden: unitHidden(u) }; }));
    edges.update(edges.get().map(function (e) { return { id: e.id, hidden: hiddenTypes.has(e.type) }; }));
  }

  function checkbox(set, key, labelNodes, dataName) {
    var label = el("label", "legend-item");
    var box = el("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset[dataName] = key;
    box.addEventListener("change", function () {
      if (box.checked) set.delete(key); else set.add(key);
      applyFilters();
    });
    label.appendChild(box);
    labelNodes.forEach(function (n) { label.appendChild(n); });
    return label;
  }

  var beliefLegend = $("belief-legend");
  page.beliefs.forEach(function (b) {
    beliefLegend.appendChild(checkbox(hiddenBeliefs, b.id, [swatch(b.color), el("span", null, b.label), el("span", "count", b.steps)], "belief"));
  });
  var untagged = steps.filter(function (s) { return !s.beliefs.length; }).length;
  beliefLegend.appendChild(checkbox(hiddenBeliefs, NONE, [swatch(page.no_belief_color), el("span", null, "no belief"), el("span", "count", untagged)], "belief"));

  function edgeSample(style) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "34");
    svg.setAttribute("height", "10");
    var line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", "1"); line.setAttribute("y1", "5"); line.setAttribute("x2", "33"); line.setAttribute("y2", "5");
    line.setAttribute("stroke", style.color);
    line.setAttribute("stroke-width", String(style.width));
    if (style.dashes) line.setAttribute("stroke-dasharray", style.dashes.join(" "));
    svg.appendChild(line);
    return svg;
  }
  var edgeLegend = $("edge-legend");
  page.edge_types.forEach(function (t) {
    edgeLegend.appendChild(checkbox(hiddenTypes, t.type, [edgeSample(t), el("span", null, t.type), el("span", "count", t.count)], "edgeType"));
  });

  var SHAPES = {
    dot: function (g) { return shape(g, "circle", { cx: 8, cy: 8, r: 6 }); },
    square: function (g) { return shape(g, "rect", { x: 2, y: 2, width: 12, height: 12 }); },
    box: function (g) { return shape(g, "rect", { x: 1, y: 4, width: 14, height: 9, rx: 2 }); },
    diamond: function (g) { return shape(g, "polygon", { points: "8,1 15,8 8,15 1,8" }); },
    triangle: function (g) { return shape(g, "polygon", { points: "8,1 15,14 1,14" }); },
    triangleDown: function (g) { return shape(g, "polygon", { points: "1,2 15,2 8,15" }); },
    hexagon: function (g) { return shape(g, "polygon", { points: "4,2 12,2 15,8 12,14 4,14 1,8" }); },
    star: function (g) { return shape(g, "polygon", { points: "8,1 10,6 15,6 11,9 13,15 8,11 3,15 5,9 1,6 6,6" }); }
  };
  function shape(svg, tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    node.setAttribute("fill", "#c8ccd2");
    node.setAttribute("stroke", "#444");
    svg.appendChild(node);
    return svg;
  }
  var kindLegend = $("kind-legend");
  page.kinds.forEach(function (k) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    (SHAPES[k.shape] || SHAPES.dot)(svg);
    var item = el("span", "legend-item");
    item.appendChild(svg);
    item.appendChild(el("span", null, (KIND_ICONS[k.kind] || "•") + " " + k.kind));
    item.appendChild(el("span", "count", k.steps));
    kindLegend.appendChild(item);
  });
  var faded = el("span", "legend-item muted", "faded: dead end · dashed border: belief rejected · thick dashed ring: a run of steps (click to expand)");
  kindLegend.appendChild(faded);

  // --- layouts -------------------------------------------------------------------------------------

  function setLayout(mode) {
    layoutMode = mode;
    if (mode === "physics") {
      network.setOptions({ physics: { enabled: true } });
      network.stabilize(options.physics && options.physics.stabilization ? options.physics.stabilization.iterations : 150);
    } else {
      network.setOptions({ physics: { enabled: false } });
      placeInLanes();
      fitView();
    }
    document.body.dataset.layout = mode;
  }
  if (steps.length > 1500) {
    document.querySelector("input[name=layout][value=physics]").parentNode.title =
      "a force layout of " + steps.length + " steps takes several seconds to settle";
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[name=layout]"), function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) setLayout(radio.value); });
  });
  $("fit").addEventListener("click", fitView);
  $("expand-all").addEventListener("click", expandAll);
  $("collapse-all").addEventListener("click", collapseAll);

  // Short traces start expanded (a node per step): those whose expanded tree has no more rows than
  // fit can show with nodes LAYOUT.minNodePx across (at least LAYOUT.expandRows); longer ones start
  // with their runs folded.
  (function startExpandedIfShort() {
    var leastScale = LAYOUT.minNodePx / (2 * LAYOUT.smallestNode);
    var rowsThatFit = Math.floor((paneSize().height / (1.1 * leastScale) - 2 * LAYOUT.nodeRoom) / LAYOUT.rowHeight) + 1;
    if (expandedRows() <= Math.max(LAYOUT.expandRows, rowsThatFit)) expanded = new Set(segments.map(function (s) { return s.index; }));
  })();
  document.body.dataset.layout = "tree";
  document.body.dataset.tab = "tree";
  buildView();
  updateExpandButtons();
  network.once("afterDrawing", function () {
    window.cotgraphReadyAt = performance.now();
    document.body.dataset.ready = "1";
  });
  fitView();
  if (stepFromHash() !== null) select(stepFromHash(), true);

  // For tests and curious readers: where every visible node is, in page pixels, with its size.
  function drawing() {
    var box = $("graph").getBoundingClientRect();
    var scale = network.getScale();
    var ids = view.units.map(function (u) { return u.id; });
    var at = network.getPositions(ids);
    return {
      pane: { left: box.left, top: box.top, width: box.width, height: box.height },
      scale: scale,
      lanes: view.lanes,
      rows: view.rows,
      nodes: view.units.filter(function (u) { return !nodes.get(u.id).hidden; }).map(function (u) {
        var dom = network.canvasToDOM(at[u.id]);
        var b = network.getBoundingBox(u.id);
        return {
          id: u.id, first: u.first, last: u.last, lane: u.lane, row: u.row, collapsed: u.collapsed, dead: nodes.get(u.id).dead,
          x: box.left + dom.x, y: box.top + dom.y, width: (b.right - b.left) * scale, height: (b.bottom - b.top) * scale
        };
      })
    };
  }

  window.cotgraph = {
    page: page,
    network: network,
    nodes: nodes,
    edges: edges,
    spans: spans,
    select: select,
    setLayout: setLayout,
    selected: function () { return selected; },
    isBacktrack: isBacktrack,
    segments: segments,
    unitOf: function (idx) { return view.unitOf[idx].id; },
    expandAll: expandAll,
    collapseAll: collapseAll,
    fit: fitView,
    drawing: drawing,
    labels: function () { return labelsDrawn.slice(); },
    showTab: showTab,
    stateNetwork: function () { return stateNetwork; }
  };
})();

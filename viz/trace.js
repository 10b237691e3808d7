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

  // --- the graph --------------------------------------------------------------------------------

  var nodes = new vis.DataSet(graph.nodes);
  var edges = new vis.DataSet(graph.edges);
  var treePositions = graph.nodes.map(function (n) { return { id: n.id, x: n.x, y: n.y }; });
  var network = new vis.Network($("graph"), { nodes: nodes, edges: edges }, options);
  var outgoing = {};
  var incoming = {};
  graph.edges.forEach(function (e) {
    (outgoing[e.from] = outgoing[e.from] || []).push(e);
    (incoming[e.to] = incoming[e.to] || []).push(e);
  });

  var tooltip = $("tooltip");
  function scoreText(b) {
    // A learned belief's score is a probability ("p 0.87"); a rule-based one is the cue +
    // similarity score ("score 0.80").
    return (b.learned ? "p " : "score ") + fmt(b.score);
  }

  function showTooltip(idx, pointer) {
    var s = steps[idx];
    tooltip.textContent = "";
    var head = el("div", "tip-head", "step " + s.idx + " · " + s.kind + (s.dead_end ? " · dead end" : ""));
    tooltip.appendChild(head);
    if (s.markers.length) tooltip.appendChild(el("div", "tip-markers", "opens with: " + s.markers.join(", ")));
    var body = stepText(s);
    tooltip.appendChild(el("div", "tip-text", body.length > 600 ? body.slice(0, 600) + " …" : body));
    if (s.beliefs.length) {
      var list = el("ul", "tip-beliefs");
      s.beliefs.forEach(function (b) {
        var item = el("li");
        item.appendChild(swatch(beliefColor(b.id)));
        item.appendChild(el("span", null, beliefLabel(b.id) + " — " + scoreText(b) + " · " + b.stance));
        list.appendChild(item);
      });
      tooltip.appendChild(list);
    }
    var pane = $("graph").getBoundingClientRect();
    tooltip.hidden = false;
    var x = Math.min(pointer.x + 14, pane.width - tooltip.offsetWidth - 4);
    var y = Math.min(pointer.y + 14, pane.height - tooltip.offsetHeight - 4);
    tooltip.style.left = Math.max(0, x) + "px";
    tooltip.style.top = (Math.max(0, y) + $("graph").offsetTop) + "px";
  }
  network.on("hoverNode", function (params) { showTooltip(params.node, params.pointer.DOM); });
  network.on("blurNode", function () { tooltip.hidden = true; });
  network.on("dragStart", function () { tooltip.hidden = true; });
  network.on("zoom", function () { tooltip.hidden = true; });

  // --- selection --------------------------------------------------------------------------------

  var selected = null;

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
  }

  function select(idx, moveGraph) {
    if (idx === null || idx < 0 || idx >= steps.length) return;
    if (selected !== null) spans[selected].classList.remove("selected");
    selected = idx;
    spans[idx].classList.add("selected");
    spans[idx].scrollIntoView({ block: "center" });
    network.selectNodes([idx]);
    if (moveGraph) network.focus(idx, { scale: Math.max(network.getScale(), 0.9), animation: false });
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
    if (params.nodes.length) select(params.nodes[0], false);
    else if (!params.edges.length) clearSelection();
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

  var hiddenBeliefs = new Set();
  var hiddenTypes = new Set();

  function stepHidden(s) {
    if (!s.beliefs.length) return hiddenBeliefs.has(NONE);
    return s.beliefs.some(function (b) { return hiddenBeliefs.has(b.id); });
  }

  function applyFilters() {
    nodes.update(steps.map(function (s) {
      var hide = stepHidden(s);
      spans[s.idx].classList.toggle("filtered", hide);
      return { id: s.idx, hidden: hide };
    }));
    edges.update(graph.edges.map(function (e) { return { id: e.id, hidden: hiddenTypes.has(e.type) }; }));
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
    item.appendChild(el("span", null, k.kind));
    item.appendChild(el("span", "count", k.steps));
    kindLegend.appendChild(item);
  });
  var faded = el("span", "legend-item muted", "faded: dead end · dashed border: belief rejected");
  kindLegend.appendChild(faded);

  // --- layouts -------------------------------------------------------------------------------------

  function setLayout(mode) {
    if (mode === "physics") {
      network.setOptions({ physics: { enabled: true } });
      network.stabilize(options.physics && options.physics.stabilization ? options.physics.stabilization.iterations : 150);
    } else {
      network.setOptions({ physics: { enabled: false } });
      nodes.update(treePositions);
      network.fit({ animation: false });
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
  $("fit").addEventListener("click", function () { network.fit({ animation: false }); });

  document.body.dataset.layout = "tree";
  network.once("afterDrawing", function () {
    window.cotgraphReadyAt = performance.now();
    document.body.dataset.ready = "1";
  });
  network.fit({ animation: false });
  if (stepFromHash() !== null) select(stepFromHash(), true);

  window.cotgraph = {
    page: page,
    network: network,
    nodes: nodes,
    edges: edges,
    spans: spans,
    select: select,
    setLayout: setLayout,
    selected: function () { return selected; },
    isBacktrack: isBacktrack
  };
})();

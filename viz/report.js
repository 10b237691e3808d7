/* cotgraph report: sort the trace table by any column (click its header; again to reverse) and
 * filter its rows by text. Cells are only read and moved, never written as markup. */
(function () {
  "use strict";
  var table = document.getElementById("trace-table");
  if (!table) return;
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var rows = Array.prototype.slice.call(body.rows);
  var shown = document.getElementById("shown");

  function key(row, index, numeric) {
    var cell = row.cells[index];
    if (numeric) {
      var raw = cell.getAttribute("data-value");
      return raw === null || raw === "" ? null : Number(raw);
    }
    return cell.textContent.trim().toLowerCase();
  }

  function sortBy(index) {
    var header = headers[index];
    var numeric = header.getAttribute("data-sort") === "num";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var keyed = rows.map(function (row, i) { return { row: row, key: key(row, index, numeric), i: i }; });
    keyed.sort(function (a, b) {
      if (a.key === null && b.key === null) return a.i - b.i;
      if (a.key === null) return 1;  // missing values last, either way
      if (b.key === null) return -1;
      var c = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      return (ascending ? c : -c) || a.i - b.i;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (k) { fragment.appendChild(k.row); });
    body.appendChild(fragment);
  }

  headers.forEach(function (header, index) {
    header.tabIndex = 0;
    header.addEventListener("click", function () { sortBy(index); });
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") sortBy(index); });
  });

  var filter = document.getElementById("filter");
  function applyFilter() {
    var needle = filter.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var match = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1 ||
        Array.prototype.some.call(row.querySelectorAll("[title]"), function (n) {
          return n.getAttribute("title").toLowerCase().indexOf(needle) !== -1;
        });
      row.hidden = !match;
      if (match) count += 1;
    });
    shown.textContent = count + " of " + rows.length + " traces shown";
  }
  filter.addEventListener("input", applyFilter);
  applyFilter();
  document.body.setAttribute("data-ready", "1");
})();

(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  each(document.querySelectorAll(".js-only"), function (el) { el.hidden = false; });

  function value(row, i, kind) {
    var cell = row.cells[i];
    var v = cell.getAttribute("data-value");
    if (v === null) { v = cell.textContent.trim(); }
    if (kind === "num") {
      var n = parseFloat(v);
      return isNaN(n) ? -Infinity : n;
    }
    return v.toLowerCase();
  }

  each(document.querySelectorAll("table.sortable"), function (table) {
    var headers = table.tHead.rows[0].cells;
    each(headers, function (th, i) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var now = th.getAttribute("aria-sort");
        var asc = now === "descending" ? true : now === "ascending" ? false : th.dataset.first !== "desc";
        each(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var kind = th.dataset.sort || "text";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a, i, kind), y = value(b, i, kind);
          var r = x < y ? -1 : x > y ? 1 : 0;
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  var filter = document.getElementById("paper-filter");
  function applyFilter() {
    var paper = filter.value;
    var shown = 0;
    each(document.querySelectorAll("section.board"), function (s) {
      s.hidden = !!paper && s.dataset.paper !== paper;
      if (!s.hidden) { shown++; }
    });
    document.body.dataset.paper = paper;
    document.body.dataset.boards = String(shown);
  }
  if (filter) {
    filter.addEventListener("change", applyFilter);
    applyFilter();
  }
  document.body.dataset.ready = "1";
})();

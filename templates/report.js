(function () {
  "use strict";
  var tree = document.getElementById("tree");
  var leaves = Array.prototype.slice.call(tree.querySelectorAll("details.leaf"));
  var nodes = Array.prototype.slice.call(tree.querySelectorAll("details.node:not(.leaf)"));
  var verdictSel = document.getElementById("verdict");
  var categorySel = document.getElementById("category");
  var search = document.getElementById("search");
  var status = document.getElementById("status");
  var texts = leaves.map(function (l) { return l.textContent.toLowerCase(); });
  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) { el.hidden = false; });

  function filtering() { return !!(verdictSel.value || categorySel.value || search.value.trim()); }

  function apply(openMatches) {
    var v = verdictSel.value, c = categorySel.value, q = search.value.trim().toLowerCase();
    var shown = 0;
    leaves.forEach(function (leaf, i) {
      var ok = (!v || leaf.dataset.verdict === v) && (!c || leaf.dataset.cat === c) && (!q || texts[i].indexOf(q) >= 0);
      leaf.hidden = !ok;
      if (ok) { shown++; }
    });
    nodes.forEach(function (node) {
      var any = node.querySelector("details.leaf:not([hidden])") !== null;
      node.hidden = !any;
      if (openMatches && any && filtering()) { node.open = true; }
    });
    status.textContent = shown + " of " + leaves.length + " requirements shown";
    status.dataset.shown = String(shown);
    writeHash();
  }

  function setAll(open) {
    nodes.concat(leaves).forEach(function (d) { if (!d.hidden) { d.open = open; } });
  }

  function expand(id) {
    var target = null;
    nodes.concat(leaves).some(function (d) { if (d.dataset.id === id) { target = d; return true; } return false; });
    if (!target) { return false; }
    for (var d = target; d && d !== tree; d = d.parentElement) {
      if (d.tagName === "DETAILS") { d.open = true; d.hidden = false; }
    }
    target.classList.add("target");
    if (target.scrollIntoView) { target.scrollIntoView(); }
    return true;
  }

  var reading = false;
  function writeHash() {
    if (reading || !window.history || !history.replaceState) { return; }
    var p = [];
    if (verdictSel.value) { p.push("verdict=" + encodeURIComponent(verdictSel.value)); }
    if (categorySel.value) { p.push("category=" + encodeURIComponent(categorySel.value)); }
    if (search.value.trim()) { p.push("q=" + encodeURIComponent(search.value.trim())); }
    try { history.replaceState(null, "", p.length ? "#" + p.join("&") : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
  }

  function expandElement(id) {
    var target = document.getElementById(id);
    if (!target || target.tagName !== "DETAILS") { return false; }
    for (var d = target; d && d !== tree; d = d.parentElement) {
      if (d.tagName === "DETAILS") { d.open = true; d.hidden = false; }
    }
    target.classList.add("target");
    if (target.scrollIntoView) { target.scrollIntoView(); }
    return true;
  }

  function readHash() {
    if (/^#n[0-9]+$/.test(location.hash)) { expandElement(location.hash.slice(1)); document.body.dataset.ready = "1"; return; }
    reading = true;
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      if (!kv) { return; }
      var i = kv.indexOf("=");
      var k = i < 0 ? kv : kv.slice(0, i), val = i < 0 ? "" : kv.slice(i + 1);
      try { params[decodeURIComponent(k)] = decodeURIComponent(val.replace(/\+/g, " ")); } catch (e) { /* ignore */ }
    });
    var verdict = params.verdict || params.filter || "";
    if (["pass", "fail", "invalid"].indexOf(verdict) >= 0) { verdictSel.value = verdict; }
    if (params.category) { categorySel.value = params.category; }
    if (params.q) { search.value = params.q; }
    apply(true);
    if (params.expand === "all") { setAll(true); }
    else if (params.expand) { expand(params.expand); }
    reading = false;
    document.body.dataset.ready = "1";
  }

  verdictSel.addEventListener("change", function () { apply(true); });
  categorySel.addEventListener("change", function () { apply(true); });
  search.addEventListener("input", function () { apply(true); });
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });
  window.addEventListener("hashchange", readHash);
  readHash();
})();

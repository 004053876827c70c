// Slipway admin page: live machine status over Server-Sent Events, and
// confirmation prompts. No framework, no build step.
"use strict";
(function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
  var table = document.getElementById("machines");
  if (!table || !window.EventSource) return;
  var body = table.tBodies[0];
  var state = document.getElementById("live-state");
  var es = new EventSource(table.dataset.live);
  function cell(tr, text) { var td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; }
  function render(r, known) {
    var tr = document.createElement("tr");
    tr.dataset.id = r.id;
    if (!known) tr.className = "fresh";
    var badge = document.createElement("span");
    badge.className = "badge " + r.status;
    badge.textContent = r.status;
    cell(tr, "").appendChild(badge);
    var a = document.createElement("a");
    a.href = "/admin/machines/" + encodeURIComponent(r.id);
    a.textContent = r.hostname;
    cell(tr, "").appendChild(a);
    cell(tr, r.os); cell(tr, r.agentVersion); cell(tr, r.tenant); cell(tr, r.lastSeen);
    return tr;
  }
  es.addEventListener("machines", function (ev) {
    var u = JSON.parse(ev.data);
    var known = {};
    Array.prototype.forEach.call(body.rows, function (tr) { if (tr.dataset.id) known[tr.dataset.id] = true; });
    var rows = document.createDocumentFragment();
    var shown = {};
    // Machines registered since the page opened come first, then the page.
    u.fresh.concat(u.rows).forEach(function (r) {
      if (shown[r.id]) return;
      shown[r.id] = true;
      rows.appendChild(render(r, known[r.id]));
    });
    if (u.rows.length || u.fresh.length) { body.replaceChildren(rows); }
    if (u.counts) {
      ["Machines", "Online", "Stale", "Offline"].forEach(function (k) {
        var el = document.getElementById("count-" + k.toLowerCase());
        if (el) el.textContent = u.counts[k] + " " + k.toLowerCase();
      });
    }
    if (state) state.textContent = "live · updated " + new Date().toLocaleTimeString();
  });
  es.onerror = function () { if (state) state.textContent = "reconnecting…"; };
})();

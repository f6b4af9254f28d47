// The onboarding progress page (admin): polls the run's status and shows the result.
(function () {
  const url = document.getElementById("content-main").dataset.statusUrl;
  const bar = document.querySelector("#ob-bar > div");
  function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
  function show(s) {
    document.getElementById("ob-status").textContent = s.status_label;
    document.getElementById("ob-step").textContent = s.step;
    bar.style.width = (s.status === "done" ? 100 : s.total ? Math.round(100 * s.done / s.total) : 0) + "%";
    if (s.status === "failed") {
      const e = document.getElementById("ob-error"); e.hidden = false; e.textContent = s.error;
    }
    if (s.status === "done") {
      document.getElementById("ob-result").hidden = false;
      const body = document.querySelector("#ob-table tbody"); body.textContent = "";
      for (const [layer, v] of Object.entries(s.layers)) {
        const tr = document.createElement("tr"); cell(tr, layer);
        for (const k of ["read", "loadable", "repaired", "rejected"]) cell(tr, v[k]);
        body.appendChild(tr);
      }
      document.getElementById("ob-apply").hidden = s.apply;
      document.getElementById("ob-applied").hidden = !(s.applied || s.already_applied);
    }
    return s.status === "queued" || s.status === "running";
  }
  async function poll() {
    try {
      const r = await fetch(url, { credentials: "same-origin" });
      if (r.ok && show(await r.json())) setTimeout(poll, 1500);
    } catch (e) { setTimeout(poll, 3000); }
  }
  poll();
})();

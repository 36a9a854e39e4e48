// Live leaderboard: polls the board's JSON with the last change token and redraws the table
// only when the server says it changed. Text goes in through textContent, never as HTML.
(function () {
  "use strict";

  function buildBody(data, seen) {
    const body = document.createElement("tbody");
    const columnClasses = data.classes || [];
    if (data.rows.length === 0) {
      const tr = body.insertRow();
      tr.className = "empty";
      const td = tr.insertCell();
      td.colSpan = data.columns.length;
      td.textContent = "No scored submission yet.";
      return body;
    }
    for (const row of data.rows) {
      const tr = body.insertRow();
      tr.dataset.id = String(row.id);
      const classes = [];
      if (row.move) classes.push(row.move);
      if (seen.size > 0 && !seen.has(row.id)) classes.push("new");
      tr.className = classes.join(" ");
      row.cells.forEach(function (text, index) {
        const td = tr.insertCell();
        if (columnClasses[index]) td.className = columnClasses[index];
        if (row.href && index === data.link_column) {
          const link = document.createElement("a");
          link.href = row.href;
          link.textContent = text;
          td.appendChild(link);
        } else {
          td.textContent = text;
        }
      });
    }
    return body;
  }

  function render(container, data) {
    const table = container.querySelector("table.board");
    const seen = new Set();
    table.querySelectorAll("tbody tr[data-id]").forEach(function (tr) {
      seen.add(Number(tr.dataset.id));
    });
    const head = document.createElement("thead");
    const headRow = head.insertRow();
    const columnClasses = data.classes || [];
    data.columns.forEach(function (label, index) {
      const th = document.createElement("th");
      if (columnClasses[index]) th.className = columnClasses[index];
      th.textContent = label;
      headRow.appendChild(th);
    });
    table.replaceChildren(head, buildBody(data, seen));
  }

  function start(container) {
    const url = container.dataset.url;
    const interval = Number(container.dataset.interval) || 1000;
    const status = document.querySelector("[data-board-status]");
    let token = container.dataset.token;
    let failures = 0;

    function setStatus(text, stale) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("stale", stale);
    }

    async function tick() {
      // A hidden tab polls less often; the server stays cheap either way.
      let delay = document.hidden ? interval * 5 : interval;
      try {
        const separator = url.includes("?") ? "&" : "?";
        const response = await fetch(url + separator + "since=" + encodeURIComponent(token), {
          cache: "no-store",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const data = await response.json();
        if (data.changed) {
          render(container, data);
          token = data.token;
        }
        failures = 0;
        setStatus("Updates live · checked " + new Date().toLocaleTimeString(), false);
      } catch (error) {
        failures += 1;
        delay = Math.min(30000, interval * 2 ** failures);
        setStatus("Connection lost, retrying (" + error.message + ")", true);
      }
      window.setTimeout(tick, delay);
    }

    window.setTimeout(tick, interval);
  }

  document.querySelectorAll("[data-live-board]").forEach(start);
})();

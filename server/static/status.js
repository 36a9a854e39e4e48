// Follows a running submission: polls its status.json and reloads the page once it is final,
// so that scores, the preview and the traceback appear without a manual refresh.
(function () {
  "use strict";
  var status = document.getElementById("status");
  if (!status || status.dataset.final === "true") return;
  var badge = status.querySelector("[data-state]");
  var log = document.getElementById("log-tail");
  var lastState = null;

  function poll() {
    fetch(status.dataset.url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (data.is_final) { window.location.reload(); return; }
        badge.textContent = data.label;
        badge.className = "badge state-" + data.state;
        var position = status.querySelector("[data-position]");
        if (position) {
          position.textContent = data.queue_position ? "#" + data.queue_position + " in the queue" : "";
        }
        log.textContent = data.log_tail; // textContent: the log is never parsed as HTML
        if (lastState !== null && lastState !== data.state) log.scrollTop = log.scrollHeight;
        lastState = data.state;
      })
      .catch(function () { /* a missed poll is retried on the next tick */ })
      .finally(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 5000);
})();

// Keeps the board current without a reload: every 30 seconds the list is fetched
// again with the same filters (they are in the URL) and swapped in if it changed.
// Without JavaScript the "Refresh" link does the same. No update while the keyboard
// focus is inside the list, so nobody loses their place; none while the tab is hidden.
(function () {
  "use strict";
  var EVERY_MS = 30000;
  var box = document.getElementById("board-list");
  var status = document.getElementById("refresh-status");
  if (!box || !status || !window.fetch || !window.DOMParser) return;

  var timer = null;

  function current() {
    return document.getElementById("board-list-content");
  }

  function stop() {
    window.clearInterval(timer);
    status.textContent = box.dataset.stoppedText;
  }

  function refresh() {
    if (document.hidden) return;
    var old = current();
    if (old && old.contains(document.activeElement)) return;
    window
      .fetch(box.dataset.refreshUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        redirect: "manual",
      })
      .then(function (response) {
        // Signed out (a redirect to the sign-in page) or no longer allowed:
        // stop, and let the person reload with the Refresh link.
        if (response.type === "opaqueredirect" || response.status === 403) {
          stop();
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("board-list-content");
        if (!fresh) throw new Error("no list in the response");
        old = current();
        if (old && old.contains(document.activeElement)) return;
        if (old && old.dataset.signature === fresh.dataset.signature) {
          if (status.textContent === box.dataset.failedText) status.textContent = "";
          return;
        }
        if (old) old.replaceWith(document.importNode(fresh, true));
        else box.appendChild(document.importNode(fresh, true));
        status.textContent = box.dataset.updatedText;
      })
      .catch(function () {
        // Most likely a phone between networks: say so, and try again next time.
        status.textContent = box.dataset.failedText;
      });
  }

  timer = window.setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();

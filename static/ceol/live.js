/* Keeps the header dot and the LIVE NOW badges current without a reload.
 *
 * Polls the JSON API every data-poll-ms milliseconds (60 s by default):
 *   GET /api/person/<me>/active_session       -> the header dot and its popup
 *   GET /api/session/<id>/active_instance     -> a badge in each [data-session-id]
 * A failed request leaves the page as it is until the next poll.
 */
(function () {
  "use strict";

  const body = document.body;
  const pollMs = Number(body.dataset.pollMs) > 0 ? Number(body.dataset.pollMs) : 60000;

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": " + r.status); }
      return r.json();
    });
  }

  function setField(popup, name, text) {
    const element = popup.querySelector('[data-field="' + name + '"]');
    if (element) { element.textContent = text; }
  }

  function showLocation(live) {
    const dot = document.getElementById("active-session-dot");
    if (!dot) { return; }
    if (!live) {
      dot.hidden = true;
      dot.removeAttribute("aria-label");
      return;
    }
    const popup = document.getElementById("active-session-popup");
    dot.href = live.url;
    dot.setAttribute("aria-label",
      "You are at " + live.session_name + ", " + (live.location_override || live.venue_name) + ", " + live.city + ": open the session");
    setField(popup, "session_name", live.session_name);
    setField(popup, "place", (live.location_override || live.venue_name) + ", " + live.city);
    setField(popup, "when",
      live.date + " · " + (live.start_time || "?") + "–" + (live.end_time || "?") + " local time");
    dot.hidden = false;
  }

  function refreshDot() {
    const personId = body.dataset.personId;
    if (!personId) { return Promise.resolve(); }
    return getJSON("/api/person/" + personId + "/active_session").then(function (data) {
      showLocation(data.active_session);
    });
  }

  function showBadge(holder, live) {
    const badge = holder.querySelector(".live-now");
    if (live && !badge) {
      const created = document.createElement("span");
      created.className = "live-now";
      created.textContent = "LIVE NOW";
      (holder.querySelector(".live-slot") || holder).appendChild(created);
    } else if (!live && badge) {
      badge.remove();
    }
  }

  function refreshBadges() {
    const holders = Array.from(document.querySelectorAll("[data-session-id]"));
    const ids = Array.from(new Set(holders.map(function (h) { return h.dataset.sessionId; })));
    return Promise.all(ids.map(function (id) {
      return getJSON("/api/session/" + id + "/active_instance").then(function (data) {
        const live = data.active_instance_ids.length > 0;
        holders.filter(function (h) { return h.dataset.sessionId === id; })
          .forEach(function (h) { showBadge(h, live); });
      }).catch(function () { /* keep the badge as it is until the next poll */ });
    }));
  }

  function poll() {
    Promise.allSettled([refreshDot(), refreshBadges()]).then(function () {
      window.setTimeout(poll, pollMs);
    });
  }

  window.setTimeout(poll, pollMs);
})();

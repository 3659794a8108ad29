/* Keeps every page's live state current without a reload, with ONE request per poll:
 *
 *   GET /api/live?sessions=<the ids on the page>
 *
 * (never the paginated list of every live instance: a page asks about what it shows; in
 * the unlikely case of more than 500 ids on one page, one request per 500 ids),
 * and from its answer refreshes every LIVE NOW badge (.live-now inside each
 * [data-session-id]), the "here now" counts ([data-here-count] in an element with
 * data-instance-id), the instance page's state (#instance-state), and the header dot
 * #active-session-dot with its popup (the "me" part of the answer). When something
 * changed it dispatches "ceol:active-session-updated" on document (detail: the answer).
 * It polls every data-poll-ms (60 s by default) and pauses while the tab is hidden.
 * The browser revalidates with the ETag (304 when nothing changed).
 *
 * Also: times in <time data-zone> get the viewer's own time when their zone differs,
 * and the "Near me" button sorts the home page by distance from the browser's location.
 */
(function () {
  "use strict";

  const body = document.body;
  const pollMs = Number(body.dataset.pollMs) > 0 ? Number(body.dataset.pollMs) : 60000;
  const MAX_IDS = 500;
  let lastText = null;
  let timer = null;

  function pageSessionIds() {
    const ids = new Set();
    document.querySelectorAll("[data-session-id]").forEach(function (h) { ids.add(h.dataset.sessionId); });
    return Array.from(ids).sort();
  }

  function liveUrls() {
    const ids = pageSessionIds();
    const urls = [];
    for (let start = 0; start === 0 || start < ids.length; start += MAX_IDS) {
      urls.push("/api/live?sessions=" + ids.slice(start, start + MAX_IDS).join(","));
    }
    return urls;
  }

  function fetchLive(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("/api/live: " + r.status); }
        return r.text();
      });
  }

  function setField(popup, name, text) {
    const element = popup && popup.querySelector('[data-field="' + name + '"]');
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
    setField(popup, "when", live.when);
    dot.hidden = false;
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

  function apply(data) {
    const liveSessions = new Map();
    const liveInstances = new Map();
    data.live.forEach(function (row) {
      liveSessions.set(String(row.session_id), row);
      liveInstances.set(String(row.instance_id), row);
    });
    document.querySelectorAll("[data-session-id]").forEach(function (holder) {
      const instanceId = holder.dataset.instanceId;
      // A holder of one instance shows that instance's state; others the session's.
      const live = instanceId ? liveInstances.has(instanceId) : liveSessions.has(holder.dataset.sessionId);
      showBadge(holder, live);
    });
    document.querySelectorAll("[data-here-count]").forEach(function (count) {
      const holder = count.closest("[data-instance-id]");
      const row = holder && liveInstances.get(holder.dataset.instanceId);
      count.textContent = row ? String(row.people_here) : "0";
    });
    const state = document.getElementById("instance-state");
    if (state) {
      const nowLive = liveInstances.has(state.dataset.instanceId);
      const wasLive = state.dataset.state === "live";
      document.querySelectorAll("[data-live-only]").forEach(function (e) { e.hidden = !nowLive; });
      const notice = state.querySelector("[data-live-changed]");
      if (notice) { notice.hidden = nowLive === wasLive; }
    }
    if (data.me) { showLocation(data.me.active_session); }
  }

  function poll() {
    timer = null;
    if (document.hidden) { return; }
    Promise.all(liveUrls().map(fetchLive))
      .then(function (texts) {
        const text = texts.join("\n");
        if (text === lastText) { return; }
        const first = lastText === null;
        lastText = text;
        // One answer, or the parts of one (same evaluated_at and me, their live rows).
        const parts = texts.map(function (t) { return JSON.parse(t); });
        const data = parts[0];
        data.live = [].concat.apply([], parts.map(function (part) { return part.live; }));
        apply(data);
        if (!first) {
          document.dispatchEvent(new CustomEvent("ceol:active-session-updated", { detail: data }));
        }
      })
      .catch(function () { /* keep the page as it is until the next poll */ })
      .finally(schedule);
  }

  function schedule() {
    if (timer === null && !document.hidden) { timer = window.setTimeout(poll, pollMs); }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
    } else if (timer === null) {
      poll();  // back on the tab: catch up at once, then poll on
    }
  });

  // --- the viewer's own time next to the session's ------------------------------
  function viewerZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return null; }
  }

  function addViewerTimes() {
    const zone = viewerZone();
    document.querySelectorAll("time[data-zone]").forEach(function (t) {
      if (!zone || t.dataset.zone === zone || t.querySelector(".your-time")) { return; }
      const instant = new Date(t.getAttribute("datetime"));
      if (isNaN(instant.getTime())) { return; }
      const offsetThere = t.getAttribute("datetime").slice(-6);
      const mine = -instant.getTimezoneOffset();
      const sign = mine >= 0 ? "+" : "-";
      const abs = Math.abs(mine);
      const offsetHere = sign + String(Math.floor(abs / 60)).padStart(2, "0") + ":" + String(abs % 60).padStart(2, "0");
      if (offsetHere === offsetThere) { return; }
      const text = new Intl.DateTimeFormat(undefined, {
        weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
      }).format(instant);
      const span = document.createElement("span");
      span.className = "your-time";
      span.textContent = " (" + text + " your time)";
      t.appendChild(span);
    });
  }

  // --- near me -----------------------------------------------------------------
  function setUpNearMe() {
    const button = document.getElementById("near-me");
    if (!button || !navigator.geolocation) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        const params = new URLSearchParams();
        params.set("lat", position.coords.latitude.toFixed(4));
        params.set("lon", position.coords.longitude.toFixed(4));
        window.location.href = "/?" + params.toString();
      }, function () {
        button.disabled = false;
        button.textContent = "Near me (location not available)";
      }, { timeout: 10000 });
    });
  }

  addViewerTimes();
  setUpNearMe();
  schedule();
})();

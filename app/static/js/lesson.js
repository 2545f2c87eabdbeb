/* The lesson page's player (app/templates/shop/learn.html): Plyr on the page's <video>, resume at
 * the saved position, progress reported every 15 s while playing and on pause, end and leaving
 * the page, and a fresh signed URL when the one the page came with has expired.
 *
 * Without this script the <video controls> plays by itself. Everything it needs comes from the
 * video's data- attributes; nothing is inline (the Content-Security-Policy allows none). */
(function () {
  "use strict";

  var REPORT_EVERY_MS = 15000;
  var video = document.querySelector("video.lesson-video");
  if (!video) return;

  var data = video.dataset;
  var saved = parseFloat(data.position || "0") || 0;
  var duration = parseFloat(data.duration || "0") || 0;
  var status = document.querySelector(".lesson-status");
  var lastSent = -1;
  var completedSent = false;
  var timer = null;
  var renewing = false;

  function labels() {
    try {
      return JSON.parse(data.labels || "{}");
    } catch (e) {
      return {};
    }
  }

  var player = null;
  if (window.Plyr) {
    player = new window.Plyr(video, {
      iconUrl: data.iconUrl,
      blankVideo: "",
      loadSprite: true,
      speed: { selected: 1, options: [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2] },
      keyboard: { focused: true, global: true },
      seekTime: 10,
      invertTime: false,
      i18n: labels(),
      controls: [
        "play-large", "rewind", "play", "fast-forward", "progress", "current-time",
        "duration", "mute", "volume", "settings", "pip", "fullscreen"
      ],
      settings: ["speed"]
    });
  }

  function markCompleted(sectionId) {
    var item = document.querySelector('.chapter-sections li[data-section-id="' + sectionId + '"]');
    if (!item || item.classList.contains("is-completed")) return;
    item.classList.add("is-completed");
    var mark = item.querySelector(".completion-mark");
    if (mark) mark.textContent = "\u2713";
  }

  function report(options) {
    if (!data.progressUrl) return; // a visitor on a free trial: nothing is kept
    var position = Math.floor(video.currentTime || 0);
    var completed = !!(options && options.completed);
    if (!completed && position === lastSent) return;
    if (completed && completedSent) return;
    lastSent = position;
    if (completed) completedSent = true;
    var form = new FormData();
    form.append("csrf_token", data.csrf || "");
    form.append("position_s", String(position));
    if (completed) form.append("completed", "1");
    if (options && options.leaving && navigator.sendBeacon) {
      navigator.sendBeacon(data.progressUrl, form);
      return;
    }
    fetch(data.progressUrl, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": data.csrf || "", Accept: "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (answer && answer.completed) markCompleted(answer.id);
    }).catch(function () { /* the next report tries again */ });
  }

  function startReporting() {
    if (timer === null) timer = window.setInterval(report, REPORT_EVERY_MS);
  }

  function stopReporting() {
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
  }

  function resume() {
    var end = video.duration || duration;
    // Not at the very end: a finished lesson starts again from the beginning.
    if (saved > 0 && (!end || saved < end - 2)) {
      video.currentTime = saved;
    }
  }

  if (video.readyState >= 1) {
    resume();
  } else {
    video.addEventListener("loadedmetadata", resume, { once: true });
  }

  video.addEventListener("play", startReporting);
  video.addEventListener("pause", function () {
    stopReporting();
    report();
  });
  video.addEventListener("ended", function () {
    stopReporting();
    report({ completed: true });
  });
  window.addEventListener("pagehide", function () {
    if (!video.paused) report({ leaving: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && !video.paused) report({ leaving: true });
  });

  // A signed URL lives MEDIA_URL_TTL_SECONDS: a page left open longer asks for a new one and
  // goes on where it was.
  video.addEventListener("error", function () {
    if (renewing || !data.renewUrl) return;
    renewing = true;
    var at = video.currentTime || saved;
    fetch(data.renewUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (answer) {
        saved = at;
        video.src = answer.url;
        video.addEventListener("loadedmetadata", resume, { once: true });
        video.load();
      })
      .catch(function () {
        if (status) status.textContent = status.dataset.failed || "";
      })
      .then(function () {
        window.setTimeout(function () { renewing = false; }, 5000);
      });
  }, true);

  window.luffyLesson = { player: player, report: report };
}());

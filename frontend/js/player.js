// The persistent mini-player: one <audio> element for the whole app, a queue, and play recording.
import { me } from "./api.js";
import { emit } from "./events.js";
import { formatTime, h, icon, mount, songArtist, songTitle } from "./dom.js";
import { cover } from "./components/cover.js";
import { toast } from "./components/toast.js";
import * as session from "./session.js";

/** A play is recorded once this many seconds have been heard (or half of a shorter song); a song left before is
 * reported as a skip (a negative signal for later lists, not a play). */
export const PLAY_THRESHOLD_S = 30;

const listeners = new Set();
const state = {
  song: null, // SongOut being played
  queue: [], // playable SongOut list
  index: -1,
  context: "", // "Radio: …", "Search results" …
  playing: false,
  loading: false,
  currentTime: 0,
  duration: 0,
  error: "",
};

let audio = null;
let ui = null;
let heard = 0; // seconds actually heard of the current load
let lastTime = 0;
let recorded = false;
let pendingStart = null;

export function getState() {
  return state;
}

/** Call fn(state) on every change (and now); returns an unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

function notify() {
  if (ui) ui.render();
  for (const fn of listeners) {
    try {
      fn(state);
    } catch (err) {
      console.error(err);
    }
  }
  markCurrent();
}

/** Cards and rows of the song being played get .is-current (and .is-playing). */
function markCurrent() {
  const id = state.song ? String(state.song.id) : null;
  for (const el of document.querySelectorAll("[data-song-id]")) {
    const current = el.dataset.songId === id;
    el.classList.toggle("is-current", current);
    el.classList.toggle("is-playing", current && state.playing);
  }
}

export function isCurrent(songId) {
  return state.song !== null && state.song.id === songId;
}

/** Play one song; `queue` (songs) and `startAt` (seconds) are optional. */
export function playSong(song, { queue, context = "", startAt = 0 } = {}) {
  if (!song || !song.has_audio || !song.audio_url) {
    toast(`“${songTitle(song)}” has no recording to play.`, "warn");
    return;
  }
  if (isCurrent(song.id)) {
    if (!startAt) toggle();
    else {
      seek(startAt);
      if (audio.paused) audio.play().catch(() => {});
    }
    return;
  }
  const playable = (queue || [song]).filter((s) => s && s.has_audio && s.audio_url);
  let index = playable.findIndex((s) => s.id === song.id);
  if (index < 0) {
    playable.unshift(song);
    index = 0;
  }
  state.queue = playable;
  state.context = context;
  load(index, startAt);
}

/** Play a list from its first playable song (radio, a chart…); returns false when none has audio. */
export function playQueue(songs, { context = "", startIndex = 0 } = {}) {
  const playable = songs.filter((s) => s && s.has_audio && s.audio_url);
  if (!playable.length) {
    toast("None of these songs has a recording available to play.", "warn");
    return false;
  }
  state.queue = playable;
  state.context = context;
  load(Math.min(startIndex, playable.length - 1), 0);
  return true;
}

function load(index, startAt) {
  leaveCurrent();
  state.index = index;
  state.song = state.queue[index];
  state.error = "";
  state.loading = true;
  state.currentTime = startAt || 0;
  state.duration = state.song.duration_s || 0;
  heard = 0;
  lastTime = startAt || 0;
  recorded = false;
  pendingStart = startAt > 0 ? startAt : null;
  audio.src = state.song.audio_url;
  if (pendingStart === null) audio.currentTime = 0;
  showPlayer();
  updateMediaSession();
  const started = audio.play();
  if (started && typeof started.catch === "function") {
    started.catch((err) => {
      if (err && err.name === "AbortError") return; // replaced by another load
      state.loading = false;
      state.error = err && err.name === "NotAllowedError" ? "Press play to start." : "Could not play this song.";
      notify();
    });
  }
  notify();
}

export function toggle() {
  if (!state.song) return;
  if (audio.paused) {
    audio.play().catch(() => {});
  } else {
    audio.pause();
  }
}

export function next() {
  if (state.index + 1 < state.queue.length) load(state.index + 1, 0);
}

export function prev() {
  if (audio.currentTime > 3 || state.index <= 0) {
    seek(0);
  } else {
    load(state.index - 1, 0);
  }
}

export function seek(seconds) {
  if (!state.song) return;
  const t = Math.max(0, Math.min(seconds, state.duration || seconds));
  if (audio.readyState >= 1) audio.currentTime = t;
  else pendingStart = t;
  lastTime = t;
  state.currentTime = t;
  notify();
}

function threshold() {
  const d = audio.duration;
  return Number.isFinite(d) && d > 0 ? Math.min(PLAY_THRESHOLD_S, d / 2) : PLAY_THRESHOLD_S;
}

async function recordPlay(song, how = {}) {
  if (!session.user()) return;
  try {
    await me.listened(song.id, { played_ms: Math.round(heard * 1000), ...how });
    emit("listening-changed", { songId: song.id, what: "play" });
  } catch (err) {
    console.warn("recording the play failed", err);
  }
}

/** Leaving a song before it counted as a play (next, previous, another song) is a skip. */
function leaveCurrent() {
  if (!state.song || recorded || state.error || heard <= 0) return;
  recorded = true;
  const song = state.song;
  const playedMs = Math.round(heard * 1000);
  if (!session.user()) return;
  me.listened(song.id, { played_ms: playedMs, skipped: true })
    .then(() => emit("listening-changed", { songId: song.id, what: "skip" }))
    .catch((err) => console.warn("recording the skip failed", err));
}

function onTimeUpdate() {
  const t = audio.currentTime;
  const delta = t - lastTime;
  if (delta > 0 && delta < 2 && !audio.paused) heard += delta; // seeks do not count as listening
  lastTime = t;
  state.currentTime = t;
  if (!recorded && state.song && heard >= threshold()) {
    recorded = true;
    recordPlay(state.song);
  }
  updateTimes();
}

// --- the mini-player's own DOM -------------------------------------------------------------------

function showPlayer() {
  if (ui.root.hidden) {
    ui.root.hidden = false;
    document.body.classList.add("has-player");
  }
}

function buildUi(root) {
  const title = h("a", { class: "mp-title", href: "#/home" });
  const artist = h("span", { class: "mp-artist" });
  const art = h("div", { class: "mp-cover" });
  const context = h("span", { class: "mp-context" });
  const playBtn = h("button", { type: "button", class: "mp-play round-button", "aria-label": "Play" }, icon("play", 24));
  const prevBtn = h("button", { type: "button", class: "icon-button", "aria-label": "Previous" }, icon("prev"));
  const nextBtn = h("button", { type: "button", class: "icon-button", "aria-label": "Next" }, icon("next"));
  const seekBar = h("input", {
    type: "range",
    class: "seek mp-seek",
    min: "0",
    max: "0",
    step: "0.1",
    value: "0",
    "aria-label": "Seek",
  });
  const elapsed = h("span", { class: "mp-time", "aria-hidden": "true", text: "0:00" });
  const total = h("span", { class: "mp-time", "aria-hidden": "true", text: "0:00" });
  const status = h("span", { class: "mp-status", role: "status" });
  const queueBtn = h(
    "button",
    { type: "button", class: "icon-button", "aria-label": "Queue", "aria-expanded": "false", "aria-controls": "mp-queue" },
    icon("queue"),
  );
  const queuePanel = h("div", { class: "mp-queue", id: "mp-queue", hidden: true });

  playBtn.addEventListener("click", toggle);
  prevBtn.addEventListener("click", prev);
  nextBtn.addEventListener("click", next);
  let dragging = false;
  seekBar.addEventListener("input", () => {
    dragging = true;
    elapsed.textContent = formatTime(Number(seekBar.value));
  });
  seekBar.addEventListener("change", () => {
    dragging = false;
    seek(Number(seekBar.value));
  });
  queueBtn.addEventListener("click", () => {
    const open = queuePanel.hidden;
    queuePanel.hidden = !open;
    queueBtn.setAttribute("aria-expanded", String(open));
    if (open) renderQueue();
  });

  function renderQueue() {
    mount(
      queuePanel,
      h("h2", { class: "mp-queue-title", text: state.context || "Queue" }),
      h(
        "ol",
        { class: "mp-queue-list" },
        state.queue.map((song, i) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: ["mp-queue-item", i === state.index && "is-current"],
                "aria-current": i === state.index ? "true" : false,
                on: { click: () => load(i, 0) },
              },
              h("span", { class: "mp-queue-n", text: String(i + 1) }),
              h("span", { class: "mp-queue-t", text: `${songTitle(song)} — ${songArtist(song)}` }),
            ),
          ),
        ),
      ),
    );
  }

  mount(
    root,
    audio,
    h(
      "div",
      { class: "mp-inner" },
      h("div", { class: "mp-meta" }, art, h("div", { class: "mp-text" }, title, artist, context)),
      h(
        "div",
        { class: "mp-center" },
        h("div", { class: "mp-buttons" }, prevBtn, playBtn, nextBtn),
        h("div", { class: "mp-progress" }, elapsed, seekBar, total),
      ),
      h("div", { class: "mp-side" }, status, queueBtn),
    ),
    queuePanel,
  );

  return {
    root,
    render() {
      const song = state.song;
      if (!song) return;
      title.textContent = songTitle(song);
      title.href = `#/song/${song.id}`;
      artist.textContent = songArtist(song);
      context.textContent = state.context;
      context.hidden = !state.context;
      if (art.dataset.coverOf !== String(song.id)) {
        art.dataset.coverOf = String(song.id);
        mount(art, cover(song, "sm"));
      }
      const label = state.playing ? "Pause" : "Play";
      if (playBtn.getAttribute("aria-label") !== label || !playBtn.firstChild) {
        mount(playBtn, icon(state.playing ? "pause" : "play", 24));
        playBtn.setAttribute("aria-label", label);
      }
      prevBtn.disabled = false;
      nextBtn.disabled = state.index + 1 >= state.queue.length;
      status.textContent = state.error || (state.loading && state.playing ? "Loading…" : "");
      status.classList.toggle("is-error", Boolean(state.error));
      if (!queuePanel.hidden) renderQueue();
      this.times();
    },
    times() {
      const d = state.duration || 0;
      seekBar.max = String(d);
      if (!dragging) {
        seekBar.value = String(state.currentTime);
        elapsed.textContent = formatTime(state.currentTime);
      }
      total.textContent = formatTime(d);
      seekBar.setAttribute("aria-valuetext", `${formatTime(state.currentTime)} of ${formatTime(d)}`);
      seekBar.style.setProperty("--progress", d ? `${(100 * state.currentTime) / d}%` : "0%");
    },
  };
}

let timesQueued = false;
function updateTimes() {
  if (timesQueued) return;
  timesQueued = true;
  requestAnimationFrame(() => {
    timesQueued = false;
    ui.times();
    for (const fn of listeners) fn(state);
  });
}

function updateMediaSession() {
  if (!("mediaSession" in navigator) || !state.song || typeof window.MediaMetadata !== "function") return;
  navigator.mediaSession.metadata = new window.MediaMetadata({
    title: songTitle(state.song),
    artist: songArtist(state.song),
    album: state.song.release || state.song.collection || "",
  });
}

/** Wire the <audio> element inside #player; call once at start-up. */
export function init() {
  const root = document.getElementById("player");
  audio = document.getElementById("audio");
  ui = buildUi(root);
  audio.addEventListener("play", () => {
    state.playing = true;
    notify();
  });
  audio.addEventListener("playing", () => {
    state.loading = false;
    state.error = "";
    notify();
  });
  audio.addEventListener("waiting", () => {
    state.loading = true;
    notify();
  });
  audio.addEventListener("pause", () => {
    state.playing = false;
    notify();
  });
  audio.addEventListener("loadedmetadata", () => {
    if (Number.isFinite(audio.duration)) state.duration = audio.duration;
    if (pendingStart !== null) {
      audio.currentTime = Math.min(pendingStart, audio.duration || pendingStart);
      lastTime = audio.currentTime;
      pendingStart = null;
    }
    notify();
  });
  audio.addEventListener("timeupdate", onTimeUpdate);
  audio.addEventListener("ended", () => {
    if (!recorded && state.song) {
      recorded = true; // a short song heard to its end is a play
      recordPlay(state.song, { ended: true });
    }
    if (state.index + 1 < state.queue.length) next();
    else {
      state.playing = false;
      notify();
    }
  });
  audio.addEventListener("error", () => {
    if (!state.song) return;
    state.loading = false;
    state.playing = false;
    state.error = "Could not load this recording.";
    notify();
  });
  if ("mediaSession" in navigator) {
    const ms = navigator.mediaSession;
    const safe = (action, fn) => {
      try {
        ms.setActionHandler(action, fn);
      } catch {
        /* unsupported action */
      }
    };
    safe("play", toggle);
    safe("pause", toggle);
    safe("nexttrack", next);
    safe("previoustrack", prev);
  }
}

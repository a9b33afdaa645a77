// Search by sound: drop or pick a clip (or record one), then show the matching songs and segments. Two modes:
// music playing (sound-alike songs and where) and humming or singing a tune (songs whose melody it follows).
import { ApiError, audioQuery, humQuery } from "../api.js";
import { formatTime, h, icon, mount, plural, songArtist, songTitle } from "../dom.js";
import * as player from "../player.js";
import { cover } from "../components/cover.js";
import { playButton } from "../components/songCard.js";
import { degradedNames, describeError, empty, loading } from "../components/states.js";

const MAX_BYTES = 20 * 1024 * 1024;
const RECORD_S = 12;
const MODES = {
  sound: { label: "Music playing", intro: "Play us a few seconds of music and we will find the songs in the catalog that sound like it, and where.", recording: "Recording… hold your device near the music.", busy: "Listening to your clip…" },
  hum: { label: "Hum or sing", intro: "Hum, sing or whistle a tune for 5-15 seconds, in any key and at your own pace: we find the songs whose melody it follows.", recording: "Recording… hum or sing the tune.", busy: "Following your melody…" },
};

/** A hum answer in the shape of a sound answer: the matched passage as the one segment. */
function humAsMatches(data) {
  return {
    degraded: data.degraded || [],
    items: (data.items || []).map((it) => ({
      song: it.song,
      score: it.score,
      segments: [{ query_start: 0, query_end: data.sung_s || 0, song_start: it.song_start, song_end: it.song_end, score: it.score }],
    })),
  };
}

function recordingSupport() {
  if (!window.isSecureContext) return "Recording needs a secure (https or localhost) page.";
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.MediaRecorder !== "function")
    return "This browser cannot record audio.";
  const policy = document.permissionsPolicy || document.featurePolicy;
  if (policy && typeof policy.allowsFeature === "function" && !policy.allowsFeature("microphone"))
    return "This site does not allow microphone access.";
  return null;
}

function percent(score) {
  const s = Number(score);
  if (!Number.isFinite(s)) return 0;
  return Math.round(Math.max(0, Math.min(1, s)) * 100);
}

function segmentButton(song, seg) {
  const label = `your clip ${formatTime(seg.query_start)}–${formatTime(seg.query_end)} ≈ ${formatTime(seg.song_start)}–${formatTime(seg.song_end)}`;
  const btn = h(
    "button",
    {
      type: "button",
      class: "segment",
      title: song.has_audio ? "Play the song from here" : "No recording to play",
      "aria-label": `${label} of ${songTitle(song)}${song.has_audio ? ", play from " + formatTime(seg.song_start) : ""}`,
      disabled: !song.has_audio,
    },
    icon("play", 14),
    h("span", { text: label }),
    Number.isFinite(seg.score) ? h("span", { class: "segment-score", text: `${percent(seg.score)}%` }) : null,
  );
  btn.addEventListener("click", () => player.playSong(song, { startAt: seg.song_start, context: "Sound match" }));
  return btn;
}

function matchRow(item, rank) {
  const song = item.song;
  const pct = percent(item.score);
  const meter = h("span", { class: "meter-fill" });
  meter.style.setProperty("--value", `${pct}%`);
  const segments = Array.isArray(item.segments) ? item.segments : [];
  return h(
    "li",
    { class: "match", dataset: { songId: String(song.id) } },
    h("span", { class: "rank", text: String(rank) }),
    h("div", { class: "row-art" }, cover(song, "sm"), playButton(song, { size: "sm", context: "Sound match", startAt: segments.length ? segments[0].song_start : 0 })),
    h(
      "div",
      { class: "match-body" },
      h("a", { class: "row-title", href: `#/song/${song.id}`, text: songTitle(song) }),
      h("span", { class: "row-sub", text: songArtist(song) }),
      h(
        "div",
        { class: "similarity" },
        h("span", { class: "meter", role: "img", "aria-label": `Similarity ${pct}%` }, meter),
        h("span", { class: "similarity-value", text: `${pct}% similar` }),
      ),
      segments.length
        ? h("ul", { class: "segments", "aria-label": "Matched segments" }, segments.slice(0, 4).map((seg) => h("li", {}, segmentButton(song, seg))))
        : null,
    ),
  );
}

function uploadError(err) {
  if (err instanceof ApiError) {
    if (err.status === 413) return "This clip is too large. The limit is 20 MB.";
    if (err.status === 429) return `Too many sound searches from your address. Try again in ${err.retryAfter || 60} s.`;
    if (err.code === "bad_audio" || err.status === 415) return `We could not read this audio: ${err.message}. Try an MP3, OGG, WAV or FLAC file.`;
  }
  return describeError(err, "sound search");
}

export async function render(root, ctx) {
  ctx.setTitle("Search by sound");
  const dom = draw();
  const state = { previewUrl: null, busy: false, mode: ctx.query.get("mode") === "hum" ? "hum" : "sound" };
  const intro = h("p", { class: "muted", id: "sound-intro" });
  const modes = h(
    "div",
    { class: "mode-switch", role: "radiogroup", "aria-label": "What are you playing?" },
    Object.entries(MODES).map(([key, m]) => {
      const btn = h("button", { type: "button", role: "radio", class: "chip", id: `mode-${key}`, text: m.label });
      btn.addEventListener("click", () => setMode(key));
      return btn;
    }),
  );
  function setMode(mode) {
    state.mode = mode;
    intro.textContent = MODES[mode].intro;
    dom.state = state;
    for (const key of Object.keys(MODES)) modes.querySelector(`#mode-${key}`).setAttribute("aria-checked", String(key === mode));
    ctx.setQuery(mode === "hum" ? { mode } : {});
  }
  ctx.onCleanup(() => state.previewUrl && URL.revokeObjectURL(state.previewUrl));
  const search = (blob, name) => load(state, dom, ctx, blob, name);
  bindFiles(dom, search);
  bindMicrophone(dom, ctx, search);
  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Search by sound" }), intro),
    modes,
    dom.drop,
    dom.clipBox,
    dom.results,
  );
  setMode(state.mode);
}

// --- draw: the drop zone, the clip preview, the results area ----------------------------------------

function draw() {
  const fileInput = h("input", { type: "file", id: "sound-file", accept: "audio/*,.ogg,.oga,.mp3,.wav,.flac,.m4a,.opus,.webm", class: "visually-hidden" });
  const pick = h("button", { type: "button", class: "button" }, icon("upload", 18), "Choose a clip");
  const recordBtn = h("button", { type: "button", class: "button button-ghost", id: "record-button" }, icon("mic", 18), h("span", { text: "Record" }));
  const recordNote = h("p", { class: "muted small" });
  const drop = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("span", { class: "dropzone-icon", "aria-hidden": "true" }, icon("music", 36)),
    h("p", { class: "dropzone-title", text: "Drop an audio clip here" }),
    h("p", { class: "muted", text: "A few seconds are enough · MP3, OGG, WAV, FLAC · up to 20 MB" }),
    h("div", { class: "dropzone-actions" }, pick, recordBtn),
    recordNote,
    fileInput,
  );
  return {
    drop,
    fileInput,
    pick,
    recordBtn,
    recordNote,
    clipBox: h("div", { class: "clip-box", hidden: true }),
    results: h("section", { class: "sound-results", "aria-live": "polite", "aria-labelledby": "sound-results-title" }),
  };
}

function drawMatches(results, data, mode = "sound") {
  const items = (data && data.items) || [];
  const degraded = (data && data.degraded) || [];
  if (!items.length) {
    const hint = mode === "hum" ? "Hum a little longer (5-15 s), one clear note at a time." : "Try a longer or clearer clip.";
    mount(results, h("h2", { id: "sound-results-title", text: "Matches" }), empty("No matching songs", degraded.length ? "Sound matching is limited right now. Try again later." : hint));
    return;
  }
  mount(
    results,
    h("div", { class: "shelf-head" }, h("h2", { id: "sound-results-title", text: "Matches" }), h("p", { class: "muted", text: plural(items.length, "song") })),
    degraded.length ? h("p", { class: "section-note", text: `Limited results: ${degradedNames(degraded)} unavailable right now.` }) : null,
    h("ol", { class: "match-list" }, items.map((it, i) => matchRow(it, i + 1))),
  );
}

function drawError(results, err) {
  mount(
    results,
    h("h2", { id: "sound-results-title", class: "visually-hidden", text: "Matches" }),
    h(
      "div",
      { class: "state state-error", role: "alert" },
      h("span", { class: "state-icon", "aria-hidden": "true" }, icon("warning", 28)),
      h("p", { class: "state-title", text: uploadError(err) }),
      err instanceof ApiError && err.status ? h("p", { class: "state-text", text: `Error ${err.status} · ${err.code}` }) : null,
    ),
  );
}

// --- load: send the clip, show what matched ------------------------------------------------------

async function load(state, dom, ctx, blob, name) {
  const { clipBox, results } = dom;
  if (state.busy) return;
  if (blob.size > MAX_BYTES) {
    mount(results, h("div", { class: "state state-error", role: "alert" }, h("p", { class: "state-title", text: "This clip is too large. The limit is 20 MB." })));
    return;
  }
  if (!blob.size) {
    mount(results, h("div", { class: "state state-error", role: "alert" }, h("p", { class: "state-title", text: "This file is empty." })));
    return;
  }
  state.busy = true;
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = URL.createObjectURL(blob);
  clipBox.hidden = false;
  mount(
    clipBox,
    h("div", { class: "clip-info" }, icon("music", 20), h("span", { class: "clip-name", text: name }), h("span", { class: "muted", text: `${(blob.size / 1024 / 1024).toFixed(1)} MB` })),
    h("audio", { controls: true, src: state.previewUrl, class: "clip-audio", "aria-label": "Your clip" }),
  );
  const mode = state.mode;
  mount(results, loading(MODES[mode].busy));
  try {
    const data = mode === "hum" ? humAsMatches(await humQuery(blob, name)) : await audioQuery(blob, name);
    if (ctx.isActive()) drawMatches(results, data, mode);
  } catch (err) {
    if (ctx.isActive()) drawError(results, err);
  } finally {
    state.busy = false;
  }
}

// --- bind: file picker, drag and drop, the microphone ----------------------------------------------

function bindFiles({ drop, pick, fileInput }, search) {
  pick.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    if (file) search(file, file.name);
    fileInput.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("is-over");
    });
  }
  for (const type of ["dragleave", "dragend"]) drop.addEventListener(type, () => drop.classList.remove("is-over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("is-over");
    const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
    if (file) search(file, file.name);
  });
}

function bindMicrophone(dom, ctx, search) {
  const { recordBtn, recordNote } = dom;
  const unsupported = recordingSupport();
  if (unsupported) {
    recordBtn.disabled = true;
    recordBtn.title = unsupported;
    recordNote.textContent = `Recording is unavailable: ${unsupported}`;
  }
  let recorder = null;
  let stopTimer = null;
  let tick = null;
  const label = recordBtn.querySelector("span");
  function stopRecording() {
    clearTimeout(stopTimer);
    clearInterval(tick);
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }
  ctx.onCleanup(stopRecording);
  recordBtn.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") {
      stopRecording();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      recordNote.textContent = err && err.name === "NotAllowedError" ? "Microphone access was denied." : "No microphone could be opened.";
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => e.data && e.data.size && chunks.push(e.data));
    recorder.addEventListener("stop", () => {
      for (const track of stream.getTracks()) track.stop();
      recordBtn.classList.remove("is-recording");
      mount(recordBtn, icon("mic", 18), label);
      label.textContent = "Record";
      const type = recorder.mimeType || "audio/webm";
      const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      if (chunks.length && ctx.isActive()) search(new Blob(chunks, { type }), `recording.${ext}`);
    });
    recorder.start();
    let left = RECORD_S;
    recordBtn.classList.add("is-recording");
    mount(recordBtn, icon("stop", 18), label);
    label.textContent = `Stop (${left} s)`;
    recordNote.textContent = MODES[(dom.state && dom.state.mode) || "sound"].recording;
    tick = setInterval(() => {
      left -= 1;
      label.textContent = `Stop (${Math.max(left, 0)} s)`;
    }, 1000);
    stopTimer = setTimeout(stopRecording, RECORD_S * 1000);
  });
}

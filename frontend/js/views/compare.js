// Compare two recordings (the plagiarism check): pick a second song or upload a clip, then see the key and tempo
// between them, the cross-similarity picture with the matched passages, and both timelines; play either song from
// a match.
import { ApiError, compareRecordings, songs as songsApi } from "../api.js";
import { debounce, formatTime, h, icon, mount, songArtist, songTitle } from "../dom.js";
import * as player from "../player.js";
import { cover } from "../components/cover.js";
import { degradedNames, describeError, empty, loading } from "../components/states.js";

const MAX_BYTES = 20 * 1024 * 1024;
const PASSAGE_COLOURS = ["#e4572e", "#17bebb", "#ffc914", "#76b041", "#a06cd5"];

function songLabel(song, fallback) {
  return song ? `${songTitle(song)} – ${songArtist(song)}` : fallback;
}

/** "3 semitones higher and 10 % slower" from b's transposition and speed relative to a. */
export function describeShift(semitones, ratio) {
  const key = semitones === 0 ? "in the same key" : `${Math.abs(semitones)} semitone${Math.abs(semitones) === 1 ? "" : "s"} ${semitones > 0 ? "higher" : "lower"}`;
  const pct = Math.round(Math.abs(ratio - 1) * 100);
  const tempo = pct < 2 ? "at the same tempo" : `${pct} % ${ratio > 1 ? "faster" : "slower"}`;
  return `${key}, ${tempo}`;
}

/** The cross-similarity matrix as a heat map, matched passages drawn as diagonal lines on top. */
function matrixPicture(result) {
  const rows = result.matrix.length;
  const cols = rows ? result.matrix[0].length : 0;
  const size = 320;
  const canvas = h("canvas", {
    width: String(size),
    height: String(size),
    class: "compare-matrix",
    role: "img",
    "aria-label": `Cross-similarity of the two recordings: ${result.passages.length} matched passage${result.passages.length === 1 ? "" : "s"}`,
  });
  const g = canvas.getContext("2d");
  if (!g || !rows || !cols) return canvas;
  const cw = size / cols;
  const ch = size / rows;
  for (let i = 0; i < rows; i += 1) {
    for (let j = 0; j < cols; j += 1) {
      const v = Math.max(0, Math.min(1, result.matrix[i][j]));
      const light = Math.round(8 + 80 * Math.pow(v, 3));
      g.fillStyle = `hsl(220, 60%, ${light}%)`;
      g.fillRect(j * cw, i * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
  // Rows are a's time, columns b's (both recordings' whole length).
  const ax = (t) => (t / Math.max(result.a_duration_s, 1e-6)) * size;
  const bx = (t) => (t / Math.max(result.b_duration_s, 1e-6)) * size;
  result.passages.forEach((p, k) => {
    g.strokeStyle = PASSAGE_COLOURS[k % PASSAGE_COLOURS.length];
    g.lineWidth = 3;
    g.beginPath();
    g.moveTo(bx(p.b_start), ax(p.a_start));
    g.lineTo(bx(p.b_end), ax(p.a_end));
    g.stroke();
  });
  return canvas;
}

function timeline(label, duration, passages, side) {
  const bar = h("div", { class: "timeline-bar", role: "img", "aria-label": `${label}: matched passages on its timeline` });
  passages.forEach((p, k) => {
    const start = side === "a" ? p.a_start : p.b_start;
    const end = side === "a" ? p.a_end : p.b_end;
    const seg = h("span", { class: "timeline-seg", title: `${formatTime(start)}–${formatTime(end)}` });
    seg.style.left = `${(100 * start) / Math.max(duration, 1e-6)}%`;
    seg.style.width = `${Math.max(1, (100 * (end - start)) / Math.max(duration, 1e-6))}%`;
    seg.style.background = PASSAGE_COLOURS[k % PASSAGE_COLOURS.length];
    bar.append(seg);
  });
  return h("div", { class: "timeline" }, h("span", { class: "timeline-label", text: label }), bar, h("span", { class: "time", text: formatTime(duration) }));
}

function playFrom(song, at, label, onPlay) {
  const btn = h("button", { type: "button", class: "segment", disabled: !song, "aria-label": `Play ${label} from ${formatTime(at)}` }, icon("play", 14), h("span", { text: `${label} ${formatTime(at)}` }));
  btn.addEventListener("click", () => onPlay(song, at));
  return btn;
}

function resultView(result, onPlay) {
  const a = songLabel(result.a, "your clip (a)");
  const b = songLabel(result.b, "your clip (b)");
  if (result.degraded && result.degraded.length) {
    return empty("Comparison unavailable", `${degradedNames(result.degraded)} is not answering right now. Try again in a moment.`);
  }
  const same = result.verdict === "same music";
  const summary = same
    ? `They share music: best passage ${Math.round(result.similarity * 100)} % alike; b plays it ${describeShift(result.transpose_semitones, result.tempo_ratio)}.`
    : "No passage of one plays the music of the other (melody and harmony compared, in any key and tempo).";
  const list = h(
    "ol",
    { class: "passages", id: "compare-passages" },
    result.passages.map((p, k) => {
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = PASSAGE_COLOURS[k % PASSAGE_COLOURS.length];
      return h(
        "li",
        { class: "passage" },
        swatch,
        h("span", { text: `a ${formatTime(p.a_start)}–${formatTime(p.a_end)} ≈ b ${formatTime(p.b_start)}–${formatTime(p.b_end)} · ${Math.round(p.score * 100)} %` }),
        playFrom(result.a, p.a_start, "a", onPlay),
        playFrom(result.b, p.b_start, "b", onPlay),
      );
    }),
  );
  return h(
    "div",
    { class: "compare-result", id: "compare-result", dataset: { verdict: result.verdict } },
    h("p", { class: same ? "verdict verdict-same" : "verdict", text: summary }),
    h("div", { class: "compare-picture" }, matrixPicture(result), h("p", { class: "muted", text: `Down: ${a}. Across: ${b}. Bright diagonal lines are passages both play.` })),
    timeline("a", result.a_duration_s, result.passages, "a"),
    timeline("b", result.b_duration_s, result.passages, "b"),
    result.passages.length ? list : null,
  );
}

/** A search box that offers songs with recordings; calls onPick(song). */
function songPicker(onPick) {
  const input = h("input", { type: "search", class: "input", placeholder: "Search a song to compare with", "aria-label": "Search a song to compare with", id: "compare-search" });
  const results = h("ul", { class: "picker-results", id: "compare-picks" });
  const run = debounce(async () => {
    const q = input.value.trim();
    if (!q) {
      mount(results);
      return;
    }
    try {
      const data = await songsApi.search(q, { per_page: 20 });
      const playable = (data.items || []).filter((s) => s.has_audio).slice(0, 8);
      mount(
        results,
        playable.length
          ? playable.map((s) => {
              const btn = h("button", { type: "button", class: "picker-item", dataset: { songId: String(s.id) } }, cover(s, "sm"), h("span", { text: songLabel(s) }));
              btn.addEventListener("click", () => onPick(s));
              return h("li", {}, btn);
            })
          : h("li", { class: "muted", text: "No song with a recording matches." }),
      );
    } catch (err) {
      mount(results, h("li", { class: "muted", text: describeError(err, "the search") }));
    }
  }, 250);
  input.addEventListener("input", run);
  return h("div", { class: "picker" }, input, results);
}

export async function render(root, ctx) {
  ctx.setTitle("Compare recordings");
  const aId = Number(ctx.query.get("a"));
  const bId = Number(ctx.query.get("b"));
  let songA = null;
  let songB = null;
  try {
    if (aId) songA = await songsApi.get(aId, ctx.signal);
    if (bId) songB = await songsApi.get(bId, ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
  }
  const out = h("div", { class: "compare-out", "aria-live": "polite" });
  const onPlay = (song, at) => song && player.playSong(song, { startAt: at, context: "Compare" });

  async function run(sideB) {
    mount(out, loading("Comparing the recordings… (a few seconds)"));
    try {
      const result = await compareRecordings(songA ? songA.id : null, sideB.song ? sideB.song.id : null, sideB.file || null);
      mount(out, resultView(result, onPlay));
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(out, empty("Could not compare", err instanceof ApiError ? err.message : describeError(err, "the comparison")));
    }
  }

  const upload = h("input", { type: "file", accept: "audio/*", id: "compare-file", "aria-label": "Upload a clip to compare with" });
  upload.addEventListener("change", () => {
    const file = upload.files && upload.files[0];
    if (!file) return;
    if (file.size > MAX_BYTES) {
      mount(out, empty("Clip too large", "Choose a clip under 20 MB."));
      return;
    }
    songB = null;
    mount(chosenB, `your clip: ${file.name || "clip"}`);
    run({ file });
  });

  const picker = songPicker((s) => {
    songB = s;
    mount(chosenB, songLabel(s));
    ctx.setQuery({ a: String(songA.id), b: String(s.id) });
    run({ song: s });
  });
  const chosenB = h("strong", { id: "compare-b", text: songB ? songLabel(songB) : "—" });

  if (!songA) {
    mount(root, h("h1", { text: "Compare recordings" }), empty("Pick a song first", "Open a song and choose “Compare with…”.", h("a", { class: "button", href: "#/search", text: "Search songs" })));
    return;
  }
  mount(
    root,
    h("h1", { text: "Compare recordings" }),
    h("p", { class: "muted", text: "Do two recordings play the same music? The melody and harmony are compared in every key and at tempos from 0.8× to 1.25×." }),
    h(
      "div",
      { class: "compare-sides" },
      h("p", {}, h("span", { class: "badge", text: "a" }), " ", h("strong", { id: "compare-a", text: songLabel(songA) })),
      h("p", {}, h("span", { class: "badge", text: "b" }), " ", chosenB),
      picker,
      h("label", { class: "upload-line" }, icon("upload", 16), h("span", { text: "…or upload a clip: " }), upload),
    ),
    out,
  );
  if (songB) run({ song: songB });
}

// DOM helpers: every text goes through textContent, never innerHTML.

/**
 * Create an element. `attrs` keys: `class`, `text`, `dataset` (object), `on` (object of listeners),
 * boolean attributes (true/false), `hidden`, anything else set with setAttribute.
 * Children may be nodes, strings (as text), arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element (for icons), built with createElementNS. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// --- icons (inline SVG built from path data, no markup strings) ----------------------------

const ICONS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  next: "M16 6h2v12h-2zM4 6v12l10-6z",
  prev: "M6 6h2v12H6zM20 6v12l-10-6z",
  heart: "M12 20.5s-8-4.9-8-11A4.5 4.5 0 0112 6.6a4.5 4.5 0 018 2.9c0 6.1-8 11-8 11z",
  ban: "M12 3a9 9 0 100 18 9 9 0 000-18zm0 2a7 7 0 015.6 11.2L7.8 6.4A7 7 0 0112 5zm0 14a7 7 0 01-5.6-11.2l9.8 9.8A7 7 0 0112 19z",
  radio: "M12 10a2 2 0 100 4 2 2 0 000-4zM7.05 7.05a7 7 0 000 9.9l1.41-1.41a5 5 0 010-7.08zm9.9 0l-1.41 1.41a5 5 0 010 7.08l1.41 1.41a7 7 0 000-9.9zM4.22 4.22a11 11 0 000 15.56l1.41-1.41a9 9 0 010-12.74zm15.56 0l-1.41 1.41a9 9 0 010 12.74l1.41 1.41a11 11 0 000-15.56z",
  search: "M10 3a7 7 0 015.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1110 3zm0 2a5 5 0 100 10 5 5 0 000-10z",
  mic: "M12 2a3 3 0 013 3v6a3 3 0 01-6 0V5a3 3 0 013-3zM5 11h2a5 5 0 0010 0h2a7 7 0 01-6 6.93V21h-2v-3.07A7 7 0 015 11z",
  stop: "M6 6h12v12H6z",
  upload: "M11 16V7.83l-3.59 3.58L6 10l6-6 6 6-1.41 1.41L13 7.83V16h-2zm-6 2h14v2H5v-2z",
  queue: "M3 6h12v2H3zm0 4h12v2H3zm0 4h8v2H3zm14-8h4v2h-2v8a3 3 0 11-2-2.83V6z",
  close: "M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z",
  refresh: "M12 4a8 8 0 017.4 5H17v2h6V5h-2v2.3A10 10 0 002 12h2a8 8 0 018-8zm8 8a8 8 0 01-15.4 3H7v-2H1v6h2v-2.3A10 10 0 0022 12h-2z",
  warning: "M12 2L1 21h22L12 2zm-1 7h2v6h-2V9zm0 8h2v2h-2v-2z",
  music: "M12 3v10.55A4 4 0 1014 17V7h4V3h-6z",
  compare: "M10 3H5a2 2 0 00-2 2v14a2 2 0 002 2h5v2h2V1h-2v2zm0 15H5l5-6v6zm9-15h-5v2h5v13l-5-6v9h5a2 2 0 002-2V5a2 2 0 00-2-2z",
};

export function icon(name, size = 20) {
  return svg(
    "svg",
    { viewBox: "0 0 24 24", width: size, height: size, "aria-hidden": "true", focusable: "false", class: "icon" },
    svg("path", { d: ICONS[name] || "", fill: "currentColor" }),
  );
}

// --- formatting ---------------------------------------------------------------------------

/** True when the song has both a title and an artist to show. */
export function isNamed(song) {
  return Boolean(song && song.title && song.title.trim() && song.artist && song.artist.trim());
}

// The MSD has listening data for songs it has no name for: say what they are instead of "Unknown title".
export function songTitle(song) {
  const title = song && song.title && song.title.trim();
  if (title) return title;
  return song && song.msd_song_id ? "Untitled MSD song" : "Untitled song";
}

export function songArtist(song) {
  const artist = song && song.artist && song.artist.trim();
  if (artist) return artist;
  // An untitled MSD song is told apart by its id; a titled one just lacks an artist.
  if (song && song.msd_song_id && !(song.title && song.title.trim())) return `MSD ${song.msd_song_id}`;
  return "Artist unknown";
}

/** 0:05, 3:07, 1:02:03 */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00";
  const s = Math.floor(seconds);
  const hours = Math.floor(s / 3600);
  const mins = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(mins).padStart(2, "0")}:${secs}` : `${mins}:${secs}`;
}

export function formatCount(n) {
  if (!Number.isFinite(n)) return "0";
  return new Intl.NumberFormat(undefined, { notation: n >= 10000 ? "compact" : "standard" }).format(n);
}

export function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function plural(n, one, many = `${one}s`) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** A stable hue 0–359 from a string or number (cover art colours). */
export function hueOf(value) {
  const s = String(value ?? "");
  let hash = 0;
  for (let i = 0; i < s.length; i += 1) hash = (hash * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(hash) % 360;
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

let uid = 0;
export function nextId(prefix = "id") {
  uid += 1;
  return `${prefix}-${uid}`;
}

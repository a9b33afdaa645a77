// fetch wrapper for the gateway's JSON API: same-origin cookies, the common error shape, degraded lists.
import { emit } from "./events.js";

export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Field messages of a 422 (or a 409 naming a field): {username: "…", password: "…"}. */
  fieldErrors() {
    const out = {};
    if (Array.isArray(this.details)) {
      for (const d of this.details) {
        if (d && d.field && !out[d.field]) out[d.field] = cleanMessage(d.message || "Invalid value");
      }
    } else if (this.details && typeof this.details === "object" && this.details.field) {
      out[this.details.field] = cleanMessage(this.message);
    }
    return out;
  }
}

/** Pydantic prefixes custom messages with "Value error, ": users need not see it. */
function cleanMessage(message) {
  const text = String(message).replace(/^Value error,\s*/i, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function buildUrl(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

/**
 * Call the API. Options: method, query (object), json (body), form (FormData), signal.
 * Resolves with the parsed JSON (null for 204); rejects with ApiError (status 0 for network errors).
 */
export async function api(path, { method = "GET", query, json, form, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const url = buildUrl(path, query);
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    emit("api-trouble", { path, status: 0 });
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection and try again.");
  }
  let body = null;
  const type = resp.headers.get("content-type") || "";
  if (resp.status !== 204 && type.includes("application/json")) {
    try {
      body = await resp.json();
    } catch {
      body = null;
    }
  }
  if (!resp.ok) {
    const err = (body && body.error) || {};
    const retry = Number(resp.headers.get("retry-after")) || (err.details && err.details.retry_after_s) || null;
    if (resp.status >= 500) emit("api-trouble", { path, status: resp.status });
    if (resp.status === 401 && !path.startsWith("/api/auth/")) emit("unauthorized", { path });
    throw new ApiError(
      resp.status,
      err.code || `http_${resp.status}`,
      err.message || resp.statusText || `Request failed (${resp.status})`,
      err.details ?? null,
      retry,
    );
  }
  if (body && Array.isArray(body.degraded) && body.degraded.length) {
    emit("degraded", { path, degraded: body.degraded, fallback: body.fallback ?? null });
  }
  return body;
}

// --- endpoints -------------------------------------------------------------------------------

export const auth = {
  register: (username, password) => api("/api/auth/register", { method: "POST", json: { username, password } }),
  login: (username, password) => api("/api/auth/login", { method: "POST", json: { username, password } }),
  logout: () => api("/api/auth/logout", { method: "POST" }),
  me: () => api("/api/me"),
  changePassword: (currentPassword, newPassword) =>
    api("/api/me/password", { method: "POST", json: { current_password: currentPassword, new_password: newPassword } }),
  deleteAccount: (password) => api("/api/me", { method: "DELETE", json: { password } }),
};

export const songs = {
  search: (q, opts = {}, signal) => api("/api/songs/search", { query: { q, ...opts }, signal }),
  get: (id, signal) => api(`/api/songs/${encodeURIComponent(id)}`, { signal }),
  similar: (id, mode, n = 12, signal, scope) =>
    api(`/api/songs/${encodeURIComponent(id)}/similar`, { query: { mode, n, scope }, signal }),
  radio: (id, scope) => api(`/api/songs/${encodeURIComponent(id)}/radio`, { query: { scope } }),
  versions: (id, n = 10, signal) => api(`/api/songs/${encodeURIComponent(id)}/versions`, { query: { n }, signal }),
  path: (a, b, n = 10, signal) => api(`/api/songs/${encodeURIComponent(a)}/path/${encodeURIComponent(b)}`, { query: { n }, signal }),
};

/** A radio from a prompt: `tag:jazz artist:"Norah Jones" -tag:live`. */
export const promptRadio = (q, n = 25, signal) => api("/api/radio", { query: { q, n }, signal });
export const topTags = (n = 24, signal) => api("/api/tags", { query: { n }, signal });

export const playlists = {
  list: (signal) => api("/api/me/playlists", { signal }),
  get: (id, signal) => api(`/api/me/playlists/${encodeURIComponent(id)}`, { signal }),
  create: (name, songIds) => api("/api/me/playlists", { method: "POST", json: { name, song_ids: songIds } }),
  update: (id, changes) => api(`/api/me/playlists/${encodeURIComponent(id)}`, { method: "PATCH", json: changes }),
  remove: (id) => api(`/api/me/playlists/${encodeURIComponent(id)}`, { method: "DELETE" }),
  exportUrl: (id, format) => `/api/me/playlists/${encodeURIComponent(id)}/export?format=${format}`,
  importFile: (file) => {
    const form = new FormData();
    form.append("file", file, file.name || "playlist.jspf");
    return api("/api/me/playlists/import", { method: "POST", form });
  },
};

export const me = {
  recommendations: (mode, n = 20, signal, scope) => api("/api/me/recommendations", { query: { mode, n, scope }, signal }),
  play: (songId, count = 1) => api("/api/me/plays", { method: "POST", json: { song_id: songId, count } }),
  /** How the player left a song: {played_ms, ended} or {played_ms, skipped} (an early skip is not a play). */
  listened: (songId, how) => api("/api/me/plays", { method: "POST", json: { song_id: songId, ...how } }),
  mix: (kind, signal, scope) => api(`/api/me/mixes/${kind}`, { query: { scope }, signal }),
  exclusions: (signal) => api("/api/me/exclusions", { signal }),
  exclude: (kind, value) => api("/api/me/exclusions", { method: "POST", json: { kind, value } }),
  setExclusions: (rules) => api("/api/me/exclusions", { method: "PUT", json: { rules } }),
  rate: (songId, rating) => api(`/api/me/ratings/${songId}`, { method: "PUT", json: { rating } }),
  unrate: (songId) => api(`/api/me/ratings/${songId}`, { method: "DELETE" }),
  feedback: (songId, kind) => api(`/api/me/feedback/${songId}`, { method: "PUT", json: { kind } }),
  unfeedback: (songId) => api(`/api/me/feedback/${songId}`, { method: "DELETE" }),
  history: (kind, page = 1, perPage = 20, signal) =>
    api("/api/me/history", { query: { kind, page, per_page: perPage }, signal }),
  importHistory: (file) => {
    const form = new FormData();
    form.append("file", file, file.name || "export");
    return api("/api/me/imports", { method: "POST", form });
  },
  scrobbleTokens: () => api("/api/me/scrobble-tokens"),
  createScrobbleToken: (name) => api("/api/me/scrobble-tokens", { method: "POST", json: { name } }),
  revokeScrobbleToken: (id) => api(`/api/me/scrobble-tokens/${encodeURIComponent(id)}`, { method: "DELETE" }),
  appCredentials: () => api("/api/me/app-credentials"),
  createAppCredential: (name, kind) => api("/api/me/app-credentials", { method: "POST", json: { name, kind } }),
  revokeAppCredential: (id) => api(`/api/me/app-credentials/${encodeURIComponent(id)}`, { method: "DELETE" }),
};

export const library = {
  summary: (signal) => api("/api/library", { signal }),
  albums: (q, offset = 0, limit = 24, signal) => api("/api/library/albums", { query: { q, offset, limit }, signal }),
  matches: (signal) => api("/api/admin/library/matches", { signal }),
  decide: (fileId, action, msdSongId) =>
    api(`/api/admin/library/matches/${encodeURIComponent(fileId)}`, { method: "POST", json: { action, msd_song_id: msdSongId } }),
};

export const charts = (window = "all", n = 20, signal) => api("/api/charts", { query: { window, n }, signal });
export const health = () => api("/api/health");
export const catalogMap = (signal) => api("/api/catalog/map", { signal });
export const audioQuery = (file, filename) => {
  const form = new FormData();
  form.append("file", file, filename || file.name || "clip");
  return api("/api/audio/query", { method: "POST", form });
};

export const humQuery = (file, filename) => {
  const form = new FormData();
  form.append("file", file, filename || file.name || "hum");
  return api("/api/audio/hum", { method: "POST", form });
};

/** Compare two recordings: each side a song id or a File (a clip); the first non-null of each pair is sent. */
export const compareRecordings = (aSongId, bSongId, bFile, aFile = null) => {
  const form = new FormData();
  if (aSongId) form.append("a", String(aSongId));
  else if (aFile) form.append("file_a", aFile, aFile.name || "clip-a");
  if (bSongId) form.append("b", String(bSongId));
  else if (bFile) form.append("file_b", bFile, bFile.name || "clip-b");
  return api("/api/audio/compare", { method: "POST", form });
};

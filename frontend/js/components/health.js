// The status banner: polls /api/health (every 10 s, and soon after a failed request) and shows
// what is degraded, together with `degraded` lists that API responses carried.
import { health } from "../api.js";
import { h, icon, mount } from "../dom.js";
import { on } from "../events.js";

const POLL_MS = 10000;
const RESPONSE_NOTE_MS = 60000;
const COMPONENT_NAMES = {
  database: "Database",
  redis: "Cache",
  cf_service: "Listener-based recommendations",
  audio_service: "Sound matching",
};
const DEGRADED_NAMES = {
  cf: "listener-based recommendations (cf)",
  audio: "sound-based recommendations (audio)",
  cache: "the cache",
};

let banner = null;
let timer = null;
let lastCheck = 0;
let checking = false;
let healthProblems = []; // [{key, text, severity}]
let unreachable = false;
const responseNotes = new Map(); // degraded token -> expiry time
let dismissedKey = "";

export function start() {
  banner = document.getElementById("banner");
  on("degraded", ({ degraded }) => {
    const until = Date.now() + RESPONSE_NOTE_MS;
    for (const token of degraded) responseNotes.set(String(token), until);
    render();
  });
  on("api-trouble", () => checkSoon());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) checkSoon();
  });
  check();
}

function schedule(ms = POLL_MS) {
  clearTimeout(timer);
  timer = setTimeout(check, ms);
}

/** Re-check after an error, at most every 2 s. */
export function checkSoon() {
  const wait = Math.max(0, 2000 - (Date.now() - lastCheck));
  schedule(wait);
}

export async function check() {
  if (checking) return;
  checking = true;
  lastCheck = Date.now();
  try {
    const body = await health();
    unreachable = false;
    healthProblems = Object.entries(body.components || {})
      .filter(([, c]) => c && c.status !== "ok")
      .map(([key, c]) => ({
        key,
        severity: c.status,
        text: `${COMPONENT_NAMES[key] || key} (${key}) is ${c.status === "down" ? "down" : c.status}`,
      }));
    if (body.status === "down" && !healthProblems.length) healthProblems = [{ key: "gateway", severity: "down", text: "The service is down" }];
  } catch (err) {
    unreachable = err && err.status === 0;
    healthProblems = unreachable ? [] : [{ key: "gateway", severity: "down", text: "The service health check failed" }];
  } finally {
    checking = false;
    render();
    schedule();
  }
}

function render() {
  if (!banner) return;
  const now = Date.now();
  for (const [token, until] of responseNotes) if (until < now) responseNotes.delete(token);
  const notes = [...responseNotes.keys()].filter((t) => {
    // already explained by a component that health reports down
    if (t === "cf") return !healthProblems.some((p) => p.key === "cf_service");
    if (t === "audio") return !healthProblems.some((p) => p.key === "audio_service");
    if (t === "cache") return !healthProblems.some((p) => p.key === "redis");
    return true;
  });
  const lines = [];
  let severity = "degraded";
  if (unreachable) {
    lines.push("Cannot reach the server. Retrying…");
    severity = "down";
  }
  for (const p of healthProblems) {
    lines.push(p.text);
    if (p.severity === "down" && (p.key === "database" || p.key === "gateway")) severity = "down";
  }
  if (notes.length) lines.push(`Results are limited: ${notes.map((t) => DEGRADED_NAMES[t] || t).join(", ")} unavailable`);
  const key = lines.join("|");
  if (!lines.length || key === dismissedKey) {
    banner.hidden = true;
    document.body.classList.remove("has-banner");
    if (!lines.length) dismissedKey = "";
    return;
  }
  const close = h("button", { type: "button", class: "icon-button banner-close", "aria-label": "Dismiss" }, icon("close", 18));
  close.addEventListener("click", () => {
    dismissedKey = key;
    render();
  });
  banner.className = `banner banner-${severity}`;
  mount(
    banner,
    h("span", { class: "banner-icon", "aria-hidden": "true" }, icon("warning", 20)),
    h(
      "div",
      { class: "banner-text" },
      h("strong", { text: severity === "down" ? "Service problem. " : "Some features are limited. " }),
      h("span", { text: lines.join(". ") + "." }),
    ),
    close,
  );
  banner.hidden = false;
  document.body.classList.add("has-banner");
}

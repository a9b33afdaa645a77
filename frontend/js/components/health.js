// The status banner: polls /api/health (every 10 s, every 2 s while the server prepares something, and soon
// after a failed request) and shows what is degraded, together with `degraded` lists that API responses
// carried; while the server prepares (first start: the sound model; a music folder: its analysis) it shows
// a progress bar with the step and the time left, then a short "ready" notice.
import { health } from "../api.js";
import { h, icon, mount } from "../dom.js";
import { on } from "../events.js";

const POLL_MS = 10000;
const PREPARING_POLL_MS = 2000;
const READY_NOTE_MS = 12000;
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
let preparation = null; // the health answer's `preparation` while active
let sawPreparing = false;
let readyUntil = 0;
let readyText = "";

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
    const prep = body.preparation || null;
    if (prep && prep.active) {
      preparation = prep;
      sawPreparing = true;
      // What is being prepared explains why sound matching is not there yet.
      healthProblems = healthProblems.filter((p) => p.key !== "audio_service");
    } else {
      if (sawPreparing && preparation) {
        readyText = prep && prep.failed ? "" : preparation.step && preparation.step.name === "library-analysis" ? "Your music is analysed: it now appears in sound-alike lists and the map." : "Sound matching is ready: search by sound, sound-alike songs and the map work now.";
        readyUntil = readyText ? Date.now() + READY_NOTE_MS : 0;
      }
      if (prep && prep.failed) healthProblems.push({ key: "preparation", severity: "degraded", text: `Preparing sound matching stopped at “${(prep.step && prep.step.label) || "a step"}” (see the server's logs)` });
      preparation = null;
      sawPreparing = false;
    }
  } catch (err) {
    unreachable = err && err.status === 0;
    healthProblems = unreachable ? [] : [{ key: "gateway", severity: "down", text: "The service health check failed" }];
  } finally {
    checking = false;
    render();
    schedule(preparation ? PREPARING_POLL_MS : POLL_MS);
    if (readyUntil) setTimeout(render, READY_NOTE_MS + 50);
  }
}

function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return "less than a minute left";
  const m = Math.round(seconds / 60);
  return m === 1 ? "about a minute left" : `about ${m} minutes left`;
}

/** The progress part of the banner: the step, a bar, how far and how long. */
function preparationView(prep) {
  const step = prep.step || {};
  const counted = step.total ? `${step.done || 0} of ${step.total}${step.unit ? ` ${step.unit}s` : ""}` : "";
  const bar = h("div", {
    class: "banner-progress",
    role: "progressbar",
    "aria-label": step.label || "Preparing",
    "aria-valuemin": "0",
    "aria-valuemax": String(step.total || 100),
    "aria-valuenow": String(step.total ? step.done || 0 : 0),
  });
  const fill = h("span", { class: "banner-progress-fill" });
  fill.style.width = step.total ? `${Math.min(100, Math.round((100 * (step.done || 0)) / step.total))}%` : "8%";
  bar.append(fill);
  const parts = [counted, minutes(step.eta_s), prep.steps > 1 ? `step ${prep.position} of ${prep.steps}` : ""].filter(Boolean);
  return h(
    "div",
    { class: "banner-text banner-preparing" },
    h("strong", { text: step.name === "library-analysis" ? "Analysing your music: " : "Preparing sound matching: " }),
    h("span", { class: "banner-step", text: `${step.label || "working"}${step.detail ? ` (${step.detail})` : ""}` }),
    parts.length ? h("span", { class: "banner-step-meta", text: ` · ${parts.join(" · ")}` }) : null,
    bar,
  );
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
  if (preparation && !lines.length) {
    banner.className = "banner banner-info";
    mount(banner, h("span", { class: "banner-icon", "aria-hidden": "true" }, icon("music", 20)), preparationView(preparation));
    banner.hidden = false;
    document.body.classList.add("has-banner");
    return;
  }
  if (!lines.length && readyUntil > now) {
    const close = h("button", { type: "button", class: "icon-button banner-close", "aria-label": "Dismiss" }, icon("close", 18));
    close.addEventListener("click", () => {
      readyUntil = 0;
      render();
    });
    banner.className = "banner banner-ready";
    mount(banner, h("div", { class: "banner-text banner-ready-text" }, h("strong", { text: readyText })), close);
    banner.hidden = false;
    document.body.classList.add("has-banner");
    return;
  }
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

// Loading, empty and error states shared by every view.
import { ApiError } from "../api.js";
import { h, icon } from "../dom.js";

export function loading(label = "Loading…") {
  return h(
    "div",
    { class: "state state-loading", role: "status", "aria-live": "polite" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", { text: label }),
  );
}

/** Placeholder cards while a row loads. */
export function skeletonRow(n = 6) {
  return h(
    "div",
    { class: "card-row", "aria-hidden": "true" },
    Array.from({ length: n }, () => h("div", { class: "card skeleton" }, h("div", { class: "cover cover-md" }), h("div", { class: "sk-line" }), h("div", { class: "sk-line short" }))),
  );
}

export function empty(title, text = "", action = null) {
  return h(
    "div",
    { class: "state state-empty" },
    h("span", { class: "state-icon", "aria-hidden": "true" }, icon("music", 28)),
    h("p", { class: "state-title", text: title }),
    text ? h("p", { class: "state-text", text }) : null,
    action,
  );
}

/** A human sentence for an API error. */
export function describeError(err, what = "this") {
  if (!(err instanceof ApiError)) return `Something went wrong while loading ${what}.`;
  if (err.status === 0) return err.message;
  if (err.status === 404 && (err.code === "not_found" || err.code === "http_404"))
    return `${capitalize(what)} is not available on this server yet.`;
  if (err.status === 503 || err.code === "unavailable")
    return `${capitalize(what)} is temporarily unavailable. Please try again in a moment.`;
  if (err.status >= 500) return `The server had a problem loading ${what}. Please try again.`;
  return err.message || `Could not load ${what}.`;
}

function capitalize(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function errorState(err, { what = "this", retry = null } = {}) {
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("span", { class: "state-icon", "aria-hidden": "true" }, icon("warning", 28)),
    h("p", { class: "state-title", text: describeError(err, what) }),
    err instanceof ApiError && err.code && err.status ? h("p", { class: "state-text", text: `Error ${err.status} · ${err.code}` }) : null,
    retry ? h("button", { type: "button", class: "button", on: { click: retry } }, icon("refresh", 18), "Try again") : null,
  );
}

const DEGRADED = { cf: "listener data", audio: "sound matching", cache: "the cache" };

/** ["cf", "audio"] → "listener data and sound matching" */
export function degradedNames(list) {
  return list.map((d) => DEGRADED[d] || String(d)).join(" and ");
}

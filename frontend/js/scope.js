// Which songs lists draw from: "library" (songs your music folder plays), "all", or null (the server's default,
// which is the library once there is one). Kept in localStorage so home, song pages and radio agree.
import { emit } from "./events.js";

const KEY = "musicrec.scope";
export const SCOPE_EVENT = "scope-changed";

export function get() {
  try {
    const value = window.localStorage.getItem(KEY);
    return value === "library" || value === "all" ? value : undefined;
  } catch {
    return undefined;
  }
}

export function set(value) {
  try {
    window.localStorage.setItem(KEY, value);
  } catch {
    /* private mode: the choice lasts this page only */
  }
  emit(SCOPE_EVENT, value);
}

// Who is logged in (null when nobody); the httpOnly cookie itself is never visible to scripts.
import { ApiError, auth } from "./api.js";
import { emit } from "./events.js";

let current = null;
let loaded = false;

export function user() {
  return current;
}

export function isLoaded() {
  return loaded;
}

export function setUser(next) {
  current = next;
  loaded = true;
  emit("session", current);
}

/** Ask the gateway who we are (401: nobody). Other failures leave the user unknown (null). */
export async function refresh() {
  try {
    setUser(await auth.me());
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) console.warn("GET /api/me failed", err);
    setUser(null);
  }
  return current;
}

export async function logout() {
  try {
    await auth.logout();
  } finally {
    setUser(null);
  }
}

// A tiny app-wide event bus.
//   "listening-changed"  a play, rating or like was recorded ({detail: {songId, what}})
//   "degraded"           a response carried a non-empty `degraded` list ({detail: {path, degraded, fallback}})
//   "api-trouble"        a request failed with a network error or a 5xx (health is re-checked)
//   "unauthorized"       the session ended (401 on a logged-in call)
//   "session"            the logged-in user changed ({detail: user|null})
export const bus = new EventTarget();

export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Listen; returns a function that stops listening (views call it on unmount). */
export function on(type, fn) {
  const listener = (event) => fn(event.detail, event);
  bus.addEventListener(type, listener);
  return () => bus.removeEventListener(type, listener);
}

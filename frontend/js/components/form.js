// A labelled form field with its hint and its own error line (shared by the login and account views).
import { h, nextId } from "../dom.js";

/** {el, input, setError(message)}: the error is announced through aria-describedby and aria-invalid. */
export function field({ name, label, type, autocomplete, hint }) {
  const id = nextId(name);
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const input = h("input", {
    id,
    name,
    type,
    autocomplete,
    required: true,
    class: "input",
    "aria-describedby": [hint ? hintId : null, errorId].filter(Boolean).join(" "),
  });
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const el = h(
    "div",
    { class: "field" },
    h("label", { for: id, text: label }),
    input,
    hint ? h("p", { class: "field-hint", id: hintId, text: hint }) : null,
    error,
  );
  return {
    el,
    input,
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
  };
}

/** A form-level alert: show(message) / show("") to hide it. */
export function formAlert() {
  const el = h("div", { class: "form-error", role: "alert", hidden: true });
  return {
    el,
    show(message) {
      el.textContent = message || "";
      el.hidden = !message;
    },
  };
}

// "Your music / Everything": a two-button switch for the scope of the lists, handed its handler.
import { h } from "../dom.js";

/** current: "library" | "all"; onChange(scope) is called with the new value. */
export function scopeToggle(current, onChange) {
  const options = [
    ["library", "Your music", "Only songs your music folder can play"],
    ["all", "Everything", "Any song listeners know, playable or not"],
  ];
  const group = h("div", { class: "tabs scope-toggle", role: "group", "aria-label": "Songs to draw from" });
  for (const [value, label, title] of options) {
    const btn = h("button", { type: "button", class: ["tab", value === current && "is-active"], "aria-pressed": value === current ? "true" : "false", title, text: label, dataset: { scope: value } });
    btn.addEventListener("click", () => {
      if (value === current) return;
      current = value;
      for (const b of group.querySelectorAll("button")) {
        const on = b.dataset.scope === value;
        b.classList.toggle("is-active", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      }
      onChange(value);
    });
    group.append(btn);
  }
  return group;
}

// Short messages at the bottom of the screen (announced to screen readers by the live region).
import { h } from "../dom.js";

export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  for (const old of box.children) if (old.textContent === message) old.remove();
  while (box.children.length >= 2) box.firstElementChild.remove();
  const el = h("div", { class: ["toast", `toast-${kind}`], text: message });
  box.append(el);
  setTimeout(() => {
    el.classList.add("is-leaving");
    setTimeout(() => el.remove(), 300);
  }, ms);
}

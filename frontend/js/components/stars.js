// 1–5 stars as a native radio group: arrow keys move and select, Tab leaves, labels are clickable.
import { debounce, h, nextId } from "../dom.js";

const WORDS = ["", "Poor", "Fair", "Good", "Very good", "Excellent"];

/**
 * stars({value, onChange, disabled}) → {el, set(value)}. onChange(value|null) is debounced so walking
 * through the stars with the arrow keys saves only the last one.
 */
export function stars({ value = null, onChange, disabled = false, label = "Your rating" } = {}) {
  const name = nextId("stars");
  let current = value;
  const inputs = [];
  const labels = [];
  const caption = h("span", { class: "stars-caption", "aria-hidden": "true" });
  const save = debounce((v) => onChange && onChange(v), 350);

  const group = h("div", { class: "stars-inputs" });
  for (let i = 1; i <= 5; i += 1) {
    const id = `${name}-${i}`;
    const input = h("input", { type: "radio", name, id, value: String(i), class: "visually-hidden", disabled });
    const lab = h("label", { for: id, class: "star", title: `${i} – ${WORDS[i]}` }, h("span", { "aria-hidden": "true", text: "★" }), h("span", { class: "visually-hidden", text: `${i} star${i > 1 ? "s" : ""}` }));
    input.addEventListener("change", () => {
      if (!input.checked) return;
      current = i;
      paint(i);
      save(i);
    });
    lab.addEventListener("mouseenter", () => paint(i, true));
    lab.addEventListener("mouseleave", () => paint(current));
    inputs.push(input);
    labels.push(lab);
    group.append(input, lab);
  }
  const clear = h("button", { type: "button", class: "link-button stars-clear", text: "Clear", disabled });
  clear.addEventListener("click", () => {
    current = null;
    for (const input of inputs) input.checked = false;
    paint(null);
    save(null);
  });

  const el = h(
    "fieldset",
    { class: "stars" },
    h("legend", { class: "stars-legend", text: label }),
    h("div", { class: "stars-line" }, group, caption, clear),
  );

  function paint(v, preview = false) {
    labels.forEach((lab, idx) => lab.classList.toggle("filled", v !== null && idx < v));
    el.classList.toggle("is-preview", preview);
    caption.textContent = v ? WORDS[v] : "Not rated";
    clear.hidden = current === null;
  }

  function set(v) {
    current = v;
    inputs.forEach((input, idx) => {
      input.checked = v === idx + 1;
    });
    paint(v);
  }

  set(value);
  return { el, set, value: () => current };
}

// The exclusion rules editor (account page): artists, genres and tags kept out of every list.
// Handed the API functions: list(), save(rules) (replaces them all).
import { h, mount } from "../dom.js";
import { toast } from "./toast.js";

const KIND_LABEL = { artist: "Artist", genre: "Genre", tag: "Tag" };

export function exclusionsEditor({ list, save }) {
  let rules = [];
  const items = h("ul", { class: "exclusion-list", id: "exclusions" });
  const kind = h(
    "select",
    { class: "input", id: "exclusion-kind", "aria-label": "Kind" },
    Object.entries(KIND_LABEL).map(([k, label]) => h("option", { value: k, text: label })),
  );
  const value = h("input", { class: "input", id: "exclusion-value", placeholder: "e.g. christmas", "aria-label": "Name", maxlength: "255" });
  const add = h("button", { type: "submit", class: "button button-small", text: "Add" });
  const form = h("form", { class: "dropzone-actions" }, kind, value, add);

  async function put(next, message) {
    try {
      const body = await save(next.map(({ kind: k, value: v }) => ({ kind: k, value: v })));
      rules = body.rules;
      draw();
      if (message) toast(message, "ok", 2500);
    } catch (err) {
      toast(err.message || "Could not save the rules.", "error");
    }
  }
  function draw() {
    if (!rules.length) {
      mount(items, h("li", { class: "muted", text: "Nothing is kept out. Use “Never play” on a song’s page, or add a rule here." }));
      return;
    }
    mount(
      items,
      rules.map((r) =>
        h(
          "li",
          { class: "exclusion" },
          h("span", { class: "badge badge-popular", text: KIND_LABEL[r.kind] || r.kind }),
          h("span", { text: ` ${r.value} ` }),
          h("button", {
            type: "button",
            class: "button button-ghost button-small",
            "aria-label": `Allow ${r.kind} ${r.value} again`,
            text: "Remove",
            on: { click: () => put(rules.filter((x) => x.id !== r.id), `${r.value} is allowed again.`) },
          }),
        ),
      ),
    );
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = value.value.trim();
    if (!v) return;
    value.value = "";
    put([...rules, { kind: kind.value, value: v }], `${v} stays out of your lists.`);
  });
  list()
    .then((body) => {
      rules = body.rules;
      draw();
    })
    .catch(() => mount(items, h("li", { class: "muted", text: "Could not load your rules." })));
  return h(
    "section",
    { class: "account-card", "aria-labelledby": "exclusions-title" },
    h("h2", { id: "exclusions-title", text: "Never play" }),
    h("p", { class: "muted", text: "Songs by these artists, of these genres or with these tags never appear in your recommendations, radios and mixes." }),
    items,
    form,
  );
}

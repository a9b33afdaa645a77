// Search as you type (debounced), with a keyboard-navigable listbox: ↑/↓ move, Enter opens.
import { songs as songsApi } from "../api.js";
import { debounce, h, icon, mount, plural } from "../dom.js";
import { songRow } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";

const PER_PAGE = 20;
const SOURCES = [
  ["", "All songs"],
  ["catalog", "With recordings"],
  ["upload", "Uploads"],
  ["msd", "Million Song Dataset"],
];

export async function render(root, ctx) {
  ctx.setTitle("Search");
  let query = ctx.query.get("q") || "";
  let source = ctx.query.get("source") || "";
  let items = [];
  let total = 0;
  let page = 1;
  let active = -1;
  let controller = null;

  const input = h("input", {
    id: "search-input",
    type: "search",
    class: "input search-input",
    placeholder: "Artists, songs, albums, tags…",
    autocomplete: "off",
    spellcheck: "false",
    role: "combobox",
    "aria-expanded": "false",
    "aria-controls": "search-results",
    "aria-autocomplete": "list",
    "aria-label": "Search songs",
    value: query,
  });
  const status = h("p", { class: "search-status", role: "status", "aria-live": "polite" });
  const list = h("ul", { id: "search-results", class: "song-list", role: "listbox", "aria-label": "Results" });
  const results = h("div", { class: "search-results" });
  const more = h("button", { type: "button", class: "button button-ghost more-button", text: "Show more", hidden: true });
  const filters = h(
    "div",
    { class: "chips", role: "group", "aria-label": "Songs to search" },
    SOURCES.map(([value, label]) =>
      h("button", {
        type: "button",
        class: "chip",
        "aria-pressed": String(value === source),
        dataset: { value },
        text: label,
        on: {
          click: () => {
            source = value;
            for (const b of filters.children) b.setAttribute("aria-pressed", String(b.dataset.value === source));
            run(true);
          },
        },
      }),
    ),
  );

  function setActive(i) {
    const options = list.querySelectorAll("[role=option]");
    if (!options.length) {
      active = -1;
      input.removeAttribute("aria-activedescendant");
      return;
    }
    active = Math.max(0, Math.min(i, options.length - 1));
    options.forEach((opt, idx) => {
      opt.setAttribute("aria-selected", String(idx === active));
      opt.classList.toggle("is-active", idx === active);
    });
    const opt = options[active];
    input.setAttribute("aria-activedescendant", opt.id);
    opt.scrollIntoView({ block: "nearest" });
  }

  function renderItems() {
    const queue = items.map((it) => it);
    mount(
      list,
      items.map((song, i) => {
        const row = songRow(song, { id: `search-opt-${i}`, role: "option", queue, context: `Search: ${query}` });
        row.setAttribute("aria-selected", "false");
        for (const btn of row.querySelectorAll("button")) btn.tabIndex = -1;
        row.addEventListener("click", (event) => {
          if (event.target.closest("button, a")) return;
          ctx.navigate(`song/${song.id}`);
        });
        row.addEventListener("mousemove", () => {
          if (active !== i) setActive(i);
        });
        return row;
      }),
    );
    input.setAttribute("aria-expanded", String(items.length > 0));
    more.hidden = items.length >= total;
    if (active >= 0) setActive(active);
  }

  async function run(reset) {
    if (controller) controller.abort();
    const q = input.value.trim();
    query = q;
    ctx.setQuery({ ...(q ? { q } : {}), ...(source ? { source } : {}) });
    if (!q) {
      items = [];
      total = 0;
      active = -1;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      more.hidden = true;
      status.textContent = "";
      mount(results, empty("Find something to listen to", "Type an artist, a song, an album or a tag. Typos are fine."));
      return;
    }
    if (reset) {
      page = 1;
      active = -1;
    }
    controller = new AbortController();
    const signal = controller.signal;
    if (reset && !items.length) mount(results, loading("Searching…"));
    results.classList.add("is-loading");
    try {
      const data = await songsApi.search(q, { page, per_page: PER_PAGE, source: source || undefined }, signal);
      total = data.total;
      items = reset ? data.items : items.concat(data.items);
      status.textContent = total ? `${plural(total, "result")} for “${q}”` : "";
      if (!items.length) {
        list.replaceChildren();
        input.setAttribute("aria-expanded", "false");
        mount(results, empty(`No songs match “${q}”`, "Check the spelling, or try fewer words."));
        more.hidden = true;
        return;
      }
      mount(results, list, more);
      renderItems();
    } catch (err) {
      if (err && err.name === "AbortError") return;
      items = [];
      status.textContent = "";
      mount(results, errorState(err, { what: "search", retry: () => run(true) }));
    } finally {
      if (!signal.aborted) results.classList.remove("is-loading");
    }
  }

  const typed = debounce(() => run(true), 250);
  ctx.onCleanup(typed.cancel);
  ctx.onCleanup(() => controller && controller.abort());
  input.addEventListener("input", typed);
  input.addEventListener("keydown", (event) => {
    const count = list.querySelectorAll("[role=option]").length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (count) setActive(active < 0 ? 0 : active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (count) setActive(active <= 0 ? 0 : active - 1);
    } else if (event.key === "Home" && count && active >= 0) {
      event.preventDefault();
      setActive(0);
    } else if (event.key === "End" && count && active >= 0) {
      event.preventDefault();
      setActive(count - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (active >= 0 && items[active]) ctx.navigate(`song/${items[active].id}`);
      else {
        typed.cancel();
        run(true);
      }
    } else if (event.key === "Escape") {
      if (input.value) {
        input.value = "";
        typed.cancel();
        run(true);
      }
    }
  });
  more.addEventListener("click", () => {
    page += 1;
    run(false);
  });

  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Search" })),
    h(
      "div",
      { class: "search-box" },
      h("span", { class: "search-icon", "aria-hidden": "true" }, icon("search", 22)),
      input,
    ),
    filters,
    h("p", { class: "hint", text: "↑ ↓ to choose a song, Enter to open it. Press / anywhere to search." }),
    status,
    results,
  );
  input.focus();
  run(true);
}

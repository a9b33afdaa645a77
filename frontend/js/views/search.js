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
  // What the view knows; draw reads it, load and the handlers change it.
  const state = { query: ctx.query.get("q") || "", source: ctx.query.get("source") || "", items: [], total: 0, page: 1, active: -1, controller: null };
  const dom = draw(state, { onSource: () => load(state, dom, ctx, true) });
  const typed = debounce(() => load(state, dom, ctx, true), 250);
  ctx.onCleanup(typed.cancel);
  ctx.onCleanup(() => state.controller && state.controller.abort());
  bind(state, dom, ctx, typed);
  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Search" })),
    h("div", { class: "search-box" }, h("span", { class: "search-icon", "aria-hidden": "true" }, icon("search", 22)), dom.input),
    dom.filters,
    h("p", { class: "hint", text: "↑ ↓ to choose a song, Enter to open it. Press / anywhere to search." }),
    dom.status,
    dom.results,
  );
  dom.input.focus();
  load(state, dom, ctx, true);
}

// --- draw: the search box, the filters and the result list -------------------------------------------

function draw(state, { onSource }) {
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
    value: state.query,
  });
  const filters = h(
    "div",
    { class: "chips", role: "group", "aria-label": "Songs to search" },
    SOURCES.map(([value, label]) =>
      h("button", {
        type: "button",
        class: "chip",
        "aria-pressed": String(value === state.source),
        dataset: { value },
        text: label,
        on: {
          click: () => {
            state.source = value;
            for (const b of filters.children) b.setAttribute("aria-pressed", String(b.dataset.value === state.source));
            onSource();
          },
        },
      }),
    ),
  );
  return {
    input,
    filters,
    status: h("p", { class: "search-status", role: "status", "aria-live": "polite" }),
    list: h("ul", { id: "search-results", class: "song-list", role: "listbox", "aria-label": "Results" }),
    results: h("div", { class: "search-results" }),
    more: h("button", { type: "button", class: "button button-ghost more-button", text: "Show more", hidden: true }),
  };
}

function setActive(state, dom, i) {
  const options = dom.list.querySelectorAll("[role=option]");
  if (!options.length) {
    state.active = -1;
    dom.input.removeAttribute("aria-activedescendant");
    return;
  }
  state.active = Math.max(0, Math.min(i, options.length - 1));
  options.forEach((opt, idx) => {
    opt.setAttribute("aria-selected", String(idx === state.active));
    opt.classList.toggle("is-active", idx === state.active);
  });
  const opt = options[state.active];
  dom.input.setAttribute("aria-activedescendant", opt.id);
  opt.scrollIntoView({ block: "nearest" });
}

function drawItems(state, dom, ctx) {
  const queue = state.items.map((it) => it);
  mount(
    dom.list,
    state.items.map((song, i) => {
      const row = songRow(song, { id: `search-opt-${i}`, role: "option", queue, context: `Search: ${state.query}` });
      row.setAttribute("aria-selected", "false");
      for (const btn of row.querySelectorAll("button")) btn.tabIndex = -1;
      row.addEventListener("click", (event) => {
        if (event.target.closest("button, a")) return;
        ctx.navigate(`song/${song.id}`);
      });
      row.addEventListener("mousemove", () => {
        if (state.active !== i) setActive(state, dom, i);
      });
      return row;
    }),
  );
  dom.input.setAttribute("aria-expanded", String(state.items.length > 0));
  dom.more.hidden = state.items.length >= state.total;
  if (state.active >= 0) setActive(state, dom, state.active);
}

// --- load: one page of results for what is typed (a new query aborts the previous one) --------------

async function load(state, dom, ctx, reset) {
  const { input, list, more, status, results } = dom;
  if (state.controller) state.controller.abort();
  const q = input.value.trim();
  state.query = q;
  ctx.setQuery({ ...(q ? { q } : {}), ...(state.source ? { source: state.source } : {}) });
  if (!q) {
    state.items = [];
    state.total = 0;
    state.active = -1;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    more.hidden = true;
    status.textContent = "";
    mount(results, empty("Find something to listen to", "Type an artist, a song, an album or a tag. Typos are fine."));
    return;
  }
  if (reset) {
    state.page = 1;
    state.active = -1;
  }
  state.controller = new AbortController();
  const signal = state.controller.signal;
  if (reset && !state.items.length) mount(results, loading("Searching…"));
  results.classList.add("is-loading");
  try {
    const data = await songsApi.search(q, { page: state.page, per_page: PER_PAGE, source: state.source || undefined }, signal);
    state.total = data.total;
    state.items = reset ? data.items : state.items.concat(data.items);
    status.textContent = state.total ? `${plural(state.total, "result")} for “${q}”` : "";
    if (!state.items.length) {
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      mount(results, empty(`No songs match “${q}”`, "Check the spelling, or try fewer words."));
      more.hidden = true;
      return;
    }
    mount(results, list, more);
    drawItems(state, dom, ctx);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    state.items = [];
    status.textContent = "";
    mount(results, errorState(err, { what: "search", retry: () => load(state, dom, ctx, true) }));
  } finally {
    if (!signal.aborted) results.classList.remove("is-loading");
  }
}

// --- bind: typing, the listbox keys, "show more" ---------------------------------------------------

function bind(state, dom, ctx, typed) {
  const { input, list, more } = dom;
  input.addEventListener("input", typed);
  input.addEventListener("keydown", (event) => {
    const count = list.querySelectorAll("[role=option]").length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (count) setActive(state, dom, state.active < 0 ? 0 : state.active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (count) setActive(state, dom, state.active <= 0 ? 0 : state.active - 1);
    } else if (event.key === "Home" && count && state.active >= 0) {
      event.preventDefault();
      setActive(state, dom, 0);
    } else if (event.key === "End" && count && state.active >= 0) {
      event.preventDefault();
      setActive(state, dom, count - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (state.active >= 0 && state.items[state.active]) ctx.navigate(`song/${state.items[state.active].id}`);
      else {
        typed.cancel();
        load(state, dom, ctx, true);
      }
    } else if (event.key === "Escape") {
      if (input.value) {
        input.value = "";
        typed.cancel();
        load(state, dom, ctx, true);
      }
    }
  });
  more.addEventListener("click", () => {
    state.page += 1;
    load(state, dom, ctx, false);
  });
}

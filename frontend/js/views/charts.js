// Charts: the most played songs, all time or in a recent window.
import { charts } from "../api.js";
import { formatCount, h, icon, mount } from "../dom.js";
import * as player from "../player.js";
import { songRow } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";

const WINDOWS = [
  ["all", "All time"],
  ["30d", "30 days"],
  ["7d", "7 days"],
  ["24h", "24 hours"],
];

export async function render(root, ctx) {
  ctx.setTitle("Charts");
  const win = WINDOWS.some(([w]) => w === ctx.query.get("window")) ? ctx.query.get("window") : "all";
  const body = h("div", { class: "section-body" }, loading());
  const playAll = h("button", { type: "button", class: "button button-ghost button-small", hidden: true }, icon("play", 16), "Play all");
  mount(
    root,
    h("div", { class: "page-head page-head-row" }, h("div", {}, h("h1", { text: "Charts" }), h("p", { class: "muted", text: "The most played songs" })), playAll),
    h(
      "nav",
      { class: "tabs", "aria-label": "Period" },
      WINDOWS.map(([w, label]) => h("a", { class: ["tab", w === win && "is-active"], href: `#/charts?window=${w}`, "aria-current": w === win ? "page" : false, text: label })),
    ),
    body,
  );
  async function load() {
    mount(body, loading());
    try {
      const data = await charts(win, 50, ctx.signal);
      if (!data.items.length) {
        mount(body, empty("No plays in this period yet", "Songs played in the app show up here."));
        return;
      }
      const songs = data.items.map((it) => it.song);
      playAll.hidden = !songs.some((s) => s.has_audio);
      playAll.onclick = () => player.playQueue(songs, { context: "Charts" });
      mount(
        body,
        h("ol", { class: "song-list chart-list" }, data.items.map((it) => songRow(it.song, { rank: it.rank, meta: `${formatCount(it.plays)} plays`, queue: songs, context: "Charts" }))),
      );
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(body, errorState(err, { what: "the charts", retry: load }));
    }
  }
  await load();
}

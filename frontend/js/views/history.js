// Your listening: plays, ratings and likes, newest first, with paging.
import { me } from "../api.js";
import { formatDate, h, mount, plural } from "../dom.js";
import { songRow } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";

const KINDS = [
  ["plays", "Plays"],
  ["ratings", "Ratings"],
  ["feedback", "Likes"],
];
const PER_PAGE = 20;

function metaOf(kind, item) {
  if (kind === "plays") {
    const when = item.last_played_at ? ` · last ${formatDate(item.last_played_at)}` : "";
    return `${plural(item.count || 0, "play")}${when}`;
  }
  if (kind === "ratings") return `${"★".repeat(item.rating || 0)}${"☆".repeat(5 - (item.rating || 0))}${item.updated_at ? ` · ${formatDate(item.updated_at)}` : ""}`;
  return `${item.kind === "like" ? "♥ Liked" : "⊘ Not for me"}${item.created_at ? ` · ${formatDate(item.created_at)}` : ""}`;
}

export async function render(root, ctx) {
  ctx.setTitle("History");
  const kind = KINDS.some(([k]) => k === ctx.query.get("kind")) ? ctx.query.get("kind") : "plays";
  const page = Math.max(1, Number(ctx.query.get("page")) || 1);
  const body = h("div", { class: "section-body" }, loading());
  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Your history" })),
    h(
      "nav",
      { class: "tabs", "aria-label": "History" },
      KINDS.map(([k, label]) => h("a", { class: ["tab", k === kind && "is-active"], href: `#/history?kind=${k}`, "aria-current": k === kind ? "page" : false, text: label })),
    ),
    body,
  );
  async function load() {
    mount(body, loading());
    try {
      const data = await me.history(kind, page, PER_PAGE, ctx.signal);
      if (!data.items.length) {
        const texts = {
          plays: ["Nothing played yet", "Songs you play appear here."],
          ratings: ["No ratings yet", "Rate songs from 1 to 5 stars on their page."],
          feedback: ["No likes yet", "Like songs on their page to find them here."],
        };
        mount(body, empty(...texts[kind], h("a", { class: "button button-ghost", href: "#/charts", text: "Browse the charts" })));
        return;
      }
      const songs = data.items.map((it) => it.song);
      const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
      mount(
        body,
        h("p", { class: "muted", text: `${plural(data.total, "song")}` }),
        h("ol", { class: "song-list", id: `history-${kind}` }, data.items.map((it) => songRow(it.song, { meta: metaOf(kind, it), queue: songs, context: "Your history" }))),
        pages > 1
          ? h(
              "nav",
              { class: "pager", "aria-label": "Pages" },
              page > 1 ? h("a", { class: "button button-ghost button-small", href: `#/history?kind=${kind}&page=${page - 1}`, text: "← Newer" }) : h("span"),
              h("span", { class: "muted", text: `Page ${page} of ${pages}` }),
              page < pages ? h("a", { class: "button button-ghost button-small", href: `#/history?kind=${kind}&page=${page + 1}`, text: "Older →" }) : h("span"),
            )
          : null,
      );
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(body, errorState(err, { what: "your history", retry: load }));
    }
  }
  await load();
}

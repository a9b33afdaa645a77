// Library: the music folder's albums with their covers, every song playable; admins confirm uncertain matches.
import { library } from "../api.js";
import { debounce, h, icon, mount, plural } from "../dom.js";
import * as player from "../player.js";
import * as session from "../session.js";
import { cover } from "../components/cover.js";
import { matchReview } from "../components/matchReview.js";
import { songRow } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";

const PAGE = 24;

function albumArt(album) {
  const generated = cover({ id: album.title || album.artist, title: album.title || "?", artist: album.artist }, "lg");
  if (!album.cover_url) return generated;
  const img = h("img", { class: "album-cover", src: album.cover_url, alt: "", loading: "lazy", width: 160, height: 160 });
  img.addEventListener("error", () => img.replaceWith(generated));
  return img;
}

function albumSection(album) {
  const songs = album.songs;
  const context = `${album.title || "Unknown album"} · ${album.artist || "Unknown artist"}`;
  const heading = h("h2", { class: "album-title", text: album.title || "Unknown album" });
  return h(
    "section",
    { class: "album", "aria-label": context },
    h(
      "div",
      { class: "album-head" },
      albumArt(album),
      h(
        "div",
        {},
        heading,
        h("p", { class: "muted", text: [album.artist || "Unknown artist", album.year, plural(songs.length, "song")].filter(Boolean).join(" · ") }),
        h("button", { type: "button", class: "button button-small", on: { click: () => player.playQueue(songs, { context }) } }, icon("play", 16), "Play album"),
      ),
    ),
    h("ol", { class: "song-list" }, songs.map((s) => songRow(s, { queue: songs, context }))),
  );
}

export async function render(root, ctx) {
  ctx.setTitle("Library");
  let q = ctx.query.get("q") || "";
  const summaryLine = h("p", { class: "muted" });
  const input = h("input", { type: "search", class: "input", placeholder: "Artist, album or song", value: q, "aria-label": "Search your library" });
  const body = h("div", { class: "section-body", "aria-live": "polite" }, loading());
  const review = h("section", { class: "shelf", hidden: true, "aria-labelledby": "review-title" });
  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Your library" }), summaryLine),
    review,
    h("div", { class: "search-bar" }, input),
    body,
  );

  let summary;
  try {
    summary = await library.summary(ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    mount(body, errorState(err, { what: "your library", retry: () => render(root, ctx) }));
    return;
  }
  if (!summary.present) {
    summaryLine.textContent = summary.missing ? `${plural(summary.missing, "file")} not found since the last scan.` : "";
    mount(
      body,
      empty(
        summary.configured ? "Your music folder has no songs yet" : "No music folder yet",
        summary.configured
          ? "Add audio files to the folder; the next scan (at start, or `python -m gateway scan-library`) makes them playable here."
          : "Start the server with MUSIC_DIR=/path/to/your/music (make run, or MUSIC_FOLDER with docker compose): your files become playable songs, matched to the Million Song Dataset.",
      ),
    );
    return;
  }
  summaryLine.textContent = `${plural(summary.songs, "song")} · ${summary.matched.toLocaleString()} matched to the Million Song Dataset${summary.missing ? ` · ${plural(summary.missing, "file")} missing` : ""}`;

  const user = session.user();
  if (user && user.is_admin && summary.ambiguous) {
    try {
      const data = await library.matches(ctx.signal);
      if (data.items.length) {
        mount(
          review,
          h("h2", { id: "review-title", text: "Matches to check" }),
          h("p", { class: "muted", text: "These files could be one of several Million Song Dataset songs. Choose one and the file carries its listening data." }),
          matchReview(data.items, (fileId, action, msdSongId) => library.decide(fileId, action, msdSongId)),
        );
        review.hidden = false;
      }
    } catch (err) {
      if (!(err && err.name === "AbortError")) console.warn("match review unavailable", err);
    }
  }

  let offset = 0;
  let loadController = null;
  async function load(append = false) {
    if (loadController) loadController.abort();
    loadController = new AbortController();
    const signal = loadController.signal;
    ctx.signal.addEventListener("abort", () => loadController && loadController.abort(), { once: true });
    if (!append) {
      offset = 0;
      mount(body, loading());
    }
    try {
      const data = await library.albums(q || undefined, offset, PAGE, signal);
      if (!append) mount(body);
      body.querySelector(".more")?.remove();
      if (!data.total) {
        mount(body, empty("Nothing matches", `No artist, album or song contains “${q}”.`));
        return;
      }
      for (const album of data.items) body.append(albumSection(album));
      offset += data.items.length;
      if (offset < data.total) {
        body.append(h("button", { type: "button", class: "button button-ghost more", text: `Show more (${data.total - offset} albums left)`, on: { click: () => load(true) } }));
      }
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(body, errorState(err, { what: "your albums", retry: () => load(append) }));
    }
  }
  const search = debounce(() => {
    q = input.value.trim();
    ctx.setQuery(q ? { q } : {});
    load();
  }, 250);
  input.addEventListener("input", search);
  ctx.onCleanup(search.cancel);
  await load();
}

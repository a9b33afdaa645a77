// Playlists: yours and the shared ones; one playlist's songs (play, reorder, remove, rename, share, delete),
// export as M3U or JSPF, import a JSPF file.
import { playlists } from "../api.js";
import { formatDate, h, icon, mount, plural, songArtist, songTitle } from "../dom.js";
import * as player from "../player.js";
import { playButton } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";
import { toast } from "../components/toast.js";

export async function render(root, ctx) {
  if (ctx.params.id) return renderOne(root, ctx, Number(ctx.params.id));
  ctx.setTitle("Playlists");
  const body = h("div", { class: "section-body" }, loading());
  const file = h("input", { type: "file", accept: ".jspf,.json,application/json", id: "playlist-import-file", class: "visually-hidden" });
  const importBtn = h("label", { class: "button button-ghost button-small", for: "playlist-import-file" }, "Import a JSPF file");
  mount(root, h("div", { class: "page-head page-head-row" }, h("div", {}, h("h1", { text: "Playlists" }), h("p", { class: "muted", text: "Save any mix, radio or path from the Mixes page." })), h("div", {}, file, importBtn)), body);
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    try {
      const done = await playlists.importFile(f);
      const missing = done.unmatched.length ? `; ${plural(done.unmatched.length, "track")} not found here` : "";
      toast(`Imported “${done.playlist.name}”: ${done.matched} of ${plural(done.tracks, "track")}${missing}.`, "ok", 6000);
      window.location.hash = `#/playlists/${done.playlist.id}`;
    } catch (err) {
      toast(err.message || "Could not import the file.", "error");
    }
    file.value = "";
  });
  try {
    const data = await playlists.list(ctx.signal);
    if (!data.playlists.length) {
      mount(body, empty("No playlists yet", "Open Mixes and save a daily mix, a radio or a path."));
      return;
    }
    mount(
      body,
      h(
        "ul",
        { class: "song-list", id: "playlists" },
        data.playlists.map((p) =>
          h(
            "li",
            { class: "song-row" },
            h("a", { href: `#/playlists/${p.id}`, class: "song-row-title", text: p.name }),
            h("span", { class: "muted", text: ` ${plural(p.songs, "song")} · ${p.mine ? "yours" : `by ${p.owner}`}${p.public ? " · shared" : ""} · ${formatDate(p.updated_at)}` }),
          ),
        ),
      ),
    );
  } catch (err) {
    if (err && err.name === "AbortError") return;
    mount(body, errorState(err, { what: "your playlists" }));
  }
}

async function renderOne(root, ctx, id) {
  ctx.setTitle("Playlist");
  mount(root, loading());
  let pl;
  try {
    pl = await playlists.get(id, ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    mount(root, errorState(err, { what: "this playlist" }));
    return;
  }
  ctx.setTitle(pl.name);
  const list = h("ol", { class: "song-list", id: "playlist-songs" });
  const title = h("h1", { id: "playlist-name", text: pl.name });
  const save = async (changes, message) => {
    try {
      pl = await playlists.update(pl.id, changes);
      title.textContent = pl.name;
      draw();
      if (message) toast(message, "ok", 2500);
    } catch (err) {
      toast(err.message || "Could not save the change.", "error");
    }
  };
  const move = (i, by) => {
    const ids = pl.songs.map((s) => s.id);
    const j = i + by;
    if (j < 0 || j >= ids.length) return;
    [ids[i], ids[j]] = [ids[j], ids[i]];
    save({ song_ids: ids });
  };
  function draw() {
    mount(
      list,
      pl.songs.map((s, i) =>
        h(
          "li",
          { class: "song-row", dataset: { songId: String(s.id) } },
          playButton(s, { queue: pl.songs, context: pl.name, size: "sm" }),
          h("a", { href: `#/song/${s.id}`, class: "song-row-title", text: `${songTitle(s)} — ${songArtist(s)}` }),
          pl.mine
            ? h(
                "span",
                { class: "row-actions" },
                h("button", { type: "button", class: "icon-button", "aria-label": `Move ${songTitle(s)} up`, disabled: i === 0, on: { click: () => move(i, -1) } }, "↑"),
                h("button", { type: "button", class: "icon-button", "aria-label": `Move ${songTitle(s)} down`, disabled: i === pl.songs.length - 1, on: { click: () => move(i, 1) } }, "↓"),
                h("button", { type: "button", class: "icon-button", "aria-label": `Remove ${songTitle(s)}`, on: { click: () => save({ song_ids: pl.songs.filter((_, k) => k !== i).map((x) => x.id) }) } }, "✕"),
              )
            : null,
        ),
      ),
    );
  }
  const playAll = h("button", { type: "button", class: "button button-small" }, icon("play", 16), "Play all");
  playAll.addEventListener("click", () => player.playQueue(pl.songs, { context: pl.name }));
  const rename = h("button", { type: "button", class: "button button-ghost button-small", id: "playlist-rename" }, "Rename");
  rename.addEventListener("click", () => {
    const name = window.prompt("New name", pl.name);
    if (name && name.trim()) save({ name: name.trim() }, "Renamed.");
  });
  const share = h("button", { type: "button", class: "button button-ghost button-small", "aria-pressed": String(pl.public) }, "Shared with other listeners");
  share.addEventListener("click", () => save({ public: !pl.public }, pl.public ? "Now private." : "Now shared.").then(() => share.setAttribute("aria-pressed", String(pl.public))));
  const remove = h("button", { type: "button", class: "button button-ghost button-small", id: "playlist-delete" }, "Delete");
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete “${pl.name}”?`)) return;
    try {
      await playlists.remove(pl.id);
      toast("Deleted.", "ok", 2500);
      window.location.hash = "#/playlists";
    } catch (err) {
      toast(err.message || "Could not delete it.", "error");
    }
  });
  const m3u = h("a", { class: "button button-ghost button-small", id: "export-m3u", href: playlists.exportUrl(pl.id, "m3u"), download: "" }, "Export M3U");
  const jspf = h("a", { class: "button button-ghost button-small", id: "export-jspf", href: playlists.exportUrl(pl.id, "jspf"), download: "" }, "Export JSPF");
  mount(
    root,
    h("div", { class: "page-head" }, h("p", {}, h("a", { href: "#/playlists", text: "← Playlists" })), title, h("p", { class: "muted", text: `${plural(pl.songs.length, "song")} · ${pl.mine ? "yours" : `by ${pl.owner}`}` })),
    h("div", { class: "dropzone-actions" }, playAll, pl.mine ? rename : null, pl.mine ? share : null, m3u, jspf, pl.mine ? remove : null),
    list,
  );
  draw();
}

// Mixes: your daily mix, "rediscover", a radio from a prompt of tags and artists, and a path between two songs.
// Every list can be played and saved as a playlist.
import { me, playlists, promptRadio, songs as songsApi, topTags } from "../api.js";
import { debounce, h, icon, mount, plural, songArtist, songTitle } from "../dom.js";
import * as player from "../player.js";
import * as session from "../session.js";
import { songRow } from "../components/songCard.js";
import { empty, errorState, loading } from "../components/states.js";
import { toast } from "../components/toast.js";

/** A list of songs with "Play all" and "Save as playlist" (handed the name to save under). */
function songList(id, title, songs, { note = "", saveName, extra = null } = {}) {
  const play = h("button", { type: "button", class: "button button-small", disabled: !songs.some((s) => s.has_audio) }, icon("play", 16), "Play all");
  play.addEventListener("click", () => player.playQueue(songs, { context: title }));
  const save = h("button", { type: "button", class: "button button-ghost button-small", id: `${id}-save` }, "Save as playlist");
  save.addEventListener("click", () => saveAsPlaylist(saveName || title, songs));
  return h(
    "section",
    { class: "mix", id, "aria-label": title },
    h("div", { class: "page-head-row" }, h("div", {}, h("h2", { text: title }), note ? h("p", { class: "muted", text: note }) : null), h("div", { class: "dropzone-actions" }, play, session.user() ? save : null, extra)),
    h("ol", { class: "song-list" }, songs.map((s, i) => songRow(s, { rank: i + 1, queue: songs, context: title }))),
  );
}

async function saveAsPlaylist(suggested, songs) {
  const name = window.prompt("Name of the new playlist", suggested);
  if (name === null || !name.trim()) return;
  try {
    const made = await playlists.create(name.trim(), songs.map((s) => s.id));
    toast(`Saved “${made.name}” (${plural(made.songs.length, "song")}).`, "ok");
    window.location.hash = `#/playlists/${made.id}`;
  } catch (err) {
    toast(err.message || "Could not save the playlist.", "error");
  }
}

function note(body) {
  const parts = [];
  if (body.left_out) parts.push(`${plural(body.left_out, "song")} left out by your skips, dislikes and exclusions`);
  if (body.refilled) parts.push(`${plural(body.refilled, "song")} added from the charts to fill it up`);
  return parts.join(" · ");
}

export async function render(root, ctx) {
  ctx.setTitle("Mixes");
  const daily = h("div", { id: "daily-mix-area" });
  const rediscover = h("div", { id: "rediscover-area" });
  const radio = h("div", { id: "tag-radio-area" });
  const path = h("div", { id: "path-area" });
  mount(
    root,
    h("div", { class: "page-head" }, h("h1", { text: "Mixes" }), h("p", { class: "muted", text: "Drawn fresh every day from what you like, what you skip and what sounds close." })),
    session.user() ? daily : null,
    session.user() ? rediscover : null,
    radio,
    path,
  );
  if (session.user()) {
    loadMix(daily, "daily", "Your daily mix", ctx);
    rediscoverButton(rediscover, ctx);
  }
  tagRadio(radio, ctx, ctx.query.get("q") || "");
  songPath(path, ctx, ctx.query.get("a"), ctx.query.get("b"));
}

async function loadMix(area, kind, title, ctx) {
  mount(area, loading(`Drawing ${title.toLowerCase()}…`));
  try {
    const body = await me.mix(kind, ctx.signal);
    if (!body.items.length) {
      mount(area, empty(`${title} is empty`, "Play, like or import some songs first."));
      return;
    }
    const songs = body.items.map((i) => i.song);
    mount(area, songList(`mix-${kind}`, title, songs, { note: [`for ${body.day}`, note(body)].filter(Boolean).join(" · "), saveName: `${title} ${body.day}` }));
  } catch (err) {
    if (err && err.name === "AbortError") return;
    mount(area, errorState(err, { what: title.toLowerCase(), retry: () => loadMix(area, kind, title, ctx) }));
  }
}

function rediscoverButton(area, ctx) {
  const btn = h("button", { type: "button", class: "button button-ghost", id: "rediscover-button" }, "Rediscover: old favourites among new songs");
  btn.addEventListener("click", () => loadMix(area, "rediscover", "Rediscover", ctx));
  mount(area, btn);
}

function tagRadio(area, ctx, initial) {
  const input = h("input", { type: "search", class: "input", id: "radio-prompt", value: initial, placeholder: 'tag:jazz tag:mellow artist:"Norah Jones" -tag:live', "aria-label": "Radio prompt" });
  const go = h("button", { type: "button", class: "button", id: "radio-go" }, icon("play", 16), "Make the radio");
  const chips = h("div", { class: "chips", "aria-label": "Common tags" });
  const out = h("div", { class: "section-body" });
  const form = h("form", { class: "dropzone-actions" }, input, go);
  mount(area, h("section", { class: "mix" }, h("h2", { text: "Radio from tags and artists" }), h("p", { class: "muted", text: "A word is a tag; tag:, genre: and artist: name what to play, quotes hold spaces, a leading - keeps songs out." }), form, chips, out));
  const run = async () => {
    const q = input.value.trim();
    if (!q) return;
    mount(out, loading("Tuning in…"));
    try {
      const body = await promptRadio(q, 25, ctx.signal);
      if (!body.items.length) {
        mount(out, empty("Nothing matches", `No song carries ${body.prompt}.`));
        return;
      }
      const songs = body.items.map((i) => i.song);
      mount(out, songList("tag-radio", `Radio: ${body.prompt}`, songs, { note: `${plural(body.matched, "song")} match${body.matched === 1 ? "es" : ""}`, saveName: `Radio ${q}` }));
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(out, errorState(err, { what: "the radio" }));
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
  go.addEventListener("click", (e) => {
    e.preventDefault();
    run();
  });
  topTags(24, ctx.signal)
    .then((body) =>
      mount(
        chips,
        body.tags.map((t) => {
          const chip = h("button", { type: "button", class: "chip", title: `${plural(t.songs, "song")}`, text: t.name });
          chip.addEventListener("click", () => {
            const term = /\s/.test(t.name) ? `tag:"${t.name}"` : `tag:${t.name}`;
            input.value = `${input.value.trim()} ${term}`.trim();
          });
          return chip;
        }),
      ),
    )
    .catch(() => {});
  if (initial) run();
}

/** A search box that picks one song; calls onPick(song). */
function songPicker(id, label, onPick) {
  const input = h("input", { type: "search", class: "input", id, placeholder: label, "aria-label": label, autocomplete: "off" });
  const list = h("ul", { class: "picker-results", id: `${id}-results` });
  const search = debounce(async () => {
    const q = input.value.trim();
    if (q.length < 2) {
      mount(list);
      return;
    }
    try {
      const body = await songsApi.search(q, { per_page: 6 });
      mount(
        list,
        body.items.map((s) => {
          const b = h("button", { type: "button", class: "picker-item", text: `${songTitle(s)} — ${songArtist(s)}` });
          b.addEventListener("click", () => {
            input.value = `${songTitle(s)} — ${songArtist(s)}`;
            mount(list);
            onPick(s);
          });
          return h("li", {}, b);
        }),
      );
    } catch {
      mount(list);
    }
  }, 250);
  input.addEventListener("input", search);
  return h("div", { class: "picker" }, input, list);
}

function songPath(area, ctx, a0, b0) {
  let a = a0 ? Number(a0) : null;
  let b = b0 ? Number(b0) : null;
  const out = h("div", { class: "section-body" });
  const go = h("button", { type: "button", class: "button", id: "path-go", disabled: !(a && b) }, "Find the path");
  const pickA = songPicker("path-from", "From song…", (s) => {
    a = s.id;
    go.disabled = !(a && b);
  });
  const pickB = songPicker("path-to", "To song…", (s) => {
    b = s.id;
    go.disabled = !(a && b);
  });
  const run = async () => {
    ctx.setQuery({ ...Object.fromEntries(ctx.query), a, b }); // back from the map: the same path again
    mount(out, loading("Finding the way…"));
    try {
      const body = await songsApi.path(a, b, 10, ctx.signal);
      const songs = body.items;
      const how = body.basis === "sound" ? "through the sound of the songs" : body.basis === "listeners" ? "through what listeners play together" : "no way found between these two";
      const mapLink = h("a", { class: "button button-ghost button-small", id: "path-map-link", href: `#/map?path=${songs.map((s) => s.id).join(",")}` }, "Show on the map");
      mount(out, songList("song-path", `From ${songTitle(songs[0])} to ${songTitle(songs[songs.length - 1])}`, songs, { note: `${plural(songs.length, "song")}, ${how}`, saveName: `Path: ${songTitle(songs[0])} → ${songTitle(songs[songs.length - 1])}`, extra: body.basis === "sound" ? mapLink : null }));
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(out, errorState(err, { what: "the path" }));
    }
  };
  go.addEventListener("click", run);
  mount(area, h("section", { class: "mix" }, h("h2", { text: "A path between two songs" }), h("p", { class: "muted", text: "Ten songs that move from one to the other in small steps." }), h("div", { class: "dropzone-actions" }, pickA, pickB, go), out));
  if (a && b) run();
}

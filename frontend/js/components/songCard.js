// Song cards (rows of recommendations) and song rows (lists: search, charts, history).
// Components know no player: a play button calls the `onPlay` it is handed, or else emits a bubbling
// "play-song" event ({song, queue, context, startAt}) that the app shell hands to the player.
import { formatTime, h, icon, songArtist, songTitle } from "../dom.js";
import { cover } from "./cover.js";

export const PLAY_EVENT = "play-song";

const SOURCE_LABELS = { cf: "Listeners", audio: "Sound", popular: "Popular" };

export function playButton(song, { queue, context, size = "md", startAt = 0, onPlay } = {}) {
  const label = `${songTitle(song)} by ${songArtist(song)}`;
  if (!song.has_audio) {
    return h(
      "button",
      { type: "button", class: ["play-button", `play-${size}`, "no-audio"], disabled: true, "aria-label": `No recording of ${label}`, title: "No recording available" },
      icon("play", size === "sm" ? 18 : 22),
    );
  }
  const btn = h(
    "button",
    { type: "button", class: ["play-button", `play-${size}`], "aria-label": `Play ${label}`, title: "Play" },
    h("span", { class: "when-paused" }, icon("play", size === "sm" ? 18 : 22)),
    h("span", { class: "when-playing" }, icon("pause", size === "sm" ? 18 : 22)),
  );
  btn.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    const request = { song, queue: typeof queue === "function" ? queue() : queue, context, startAt };
    if (onPlay) onPlay(request);
    else btn.dispatchEvent(new CustomEvent(PLAY_EVENT, { bubbles: true, detail: request }));
  });
  return btn;
}

function sourceBadges(sources) {
  if (!sources || typeof sources !== "object") return null;
  const keys = Object.keys(sources).filter((k) => sources[k] !== null && sources[k] !== undefined);
  if (!keys.length) return null;
  return h(
    "span",
    { class: "badges" },
    keys.map((k) => h("span", { class: ["badge", `badge-${k}`], title: `#${sources[k]} by ${SOURCE_LABELS[k] || k}`, text: SOURCE_LABELS[k] || k })),
  );
}

const WHY_KIND = { listeners: "Listeners", sound: "Sound", popular: "Popular" };

/** "Why this song": every reason in full, the songs they name linked; a native <details>, so keyboards work. */
export function whyDetails(why) {
  if (!Array.isArray(why) || !why.length) return null;
  return h(
    "details",
    { class: "why" },
    h("summary", { text: "Why this song" }),
    h(
      "ul",
      { class: "why-list" },
      why.map((w) => {
        const text = String(w.text || "");
        const parts = [h("span", { class: ["badge", `badge-${w.kind === "listeners" ? "cf" : w.kind === "sound" ? "audio" : "popular"}`], text: WHY_KIND[w.kind] || w.kind })];
        if (w.song && w.song.id) {
          // The sentence names the song: link that name to its page.
          const name = `${songTitle(w.song)}`;
          const at = text.indexOf(name);
          if (at >= 0) {
            parts.push(
              document.createTextNode(` ${text.slice(0, at)}`),
              h("a", { href: `#/song/${w.song.id}`, text: name }),
              document.createTextNode(text.slice(at + name.length)),
            );
          } else {
            parts.push(document.createTextNode(` ${text} (`), h("a", { href: `#/song/${w.song.id}`, text: name }), document.createTextNode(")"));
          }
        } else {
          parts.push(document.createTextNode(` ${text}`));
        }
        return h("li", {}, ...parts);
      }),
    ),
  );
}

function reasonList(reasons) {
  if (!Array.isArray(reasons) || !reasons.length) return null;
  return h("ul", { class: "reasons", "aria-label": "Why" }, reasons.slice(0, 2).map((r) => h("li", { text: String(r) })));
}

/** A card for horizontal rows; `item` may carry reasons and sources (recommendation items). */
export function songCard(song, { reasons, sources, why, queue, context, note, onPlay } = {}) {
  return h(
    "article",
    { class: "card", dataset: { songId: String(song.id) } },
    h("div", { class: "card-art" }, cover(song, "md"), playButton(song, { queue, context, onPlay })),
    h(
      "div",
      { class: "card-body" },
      h("a", { class: "card-title", href: `#/song/${song.id}`, text: songTitle(song), title: songTitle(song) }),
      h("p", { class: "card-artist", text: songArtist(song) }),
      note ? h("p", { class: "card-note", text: note }) : null,
      reasonList(reasons),
      sourceBadges(sources),
      whyDetails(why),
    ),
  );
}

/**
 * A row for vertical lists. Options: rank, meta (text after the artist), trailing (node),
 * queue/context (what the play button queues), id (element id, for listbox options), role,
 * onPlay (called with {song, queue, context, startAt}; default: the "play-song" event).
 */
export function songRow(song, { rank, meta, trailing, queue, context, id, role, reasons, onPlay } = {}) {
  const details = [songArtist(song), song.release, song.year].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: "song-row", dataset: { songId: String(song.id) }, id, role },
    rank !== undefined ? h("span", { class: "rank", text: String(rank) }) : null,
    h("div", { class: "row-art" }, cover(song, "sm"), playButton(song, { queue, context, size: "sm", onPlay })),
    h(
      "div",
      { class: "row-text" },
      h("a", { class: "row-title", href: `#/song/${song.id}`, text: songTitle(song), tabindex: role === "option" ? "-1" : false }),
      h("span", { class: "row-sub", text: details }),
      meta ? h("span", { class: "row-meta", text: meta }) : null,
      reasonList(reasons),
    ),
    trailing || null,
    h("span", { class: "row-duration", text: song.duration_s ? formatTime(song.duration_s) : "" }),
  );
}

/** A horizontal scrolling row of cards with a heading. */
export function cardRow(songsOrItems, { context, queueAll = true, onPlay } = {}) {
  const songs = songsOrItems.map((it) => it.song || it);
  return h(
    "div",
    { class: "card-row" },
    songsOrItems.map((it) => {
      const song = it.song || it;
      return songCard(song, { reasons: it.reasons, sources: it.sources, why: it.why, queue: queueAll ? songs : undefined, context, note: it.note, onPlay });
    }),
  );
}

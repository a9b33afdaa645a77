// Generated cover art: a gradient whose hue comes from the artist (or song), with the initials on top.
import { h, hueOf, songArtist, songTitle } from "../dom.js";

function initials(song) {
  if (!song || !song.title || !song.title.trim()) return "♪";
  const words = `${songTitle(song)}`.replace(/[^\p{L}\p{N} ]/gu, " ").split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "♪";
}

/** size: "sm" (player, rows), "md" (cards), "lg" (song page). */
export function cover(song, size = "md") {
  const el = h("div", { class: ["cover", `cover-${size}`], "aria-hidden": "true" }, h("span", { text: initials(song) }));
  const hue = hueOf(song ? songArtist(song) + (song.artist ? "" : song.id) : "");
  el.style.setProperty("--hue", String(hue));
  el.style.setProperty("--hue2", String((hue + 40 + (hueOf(song && song.id) % 60)) % 360));
  return el;
}

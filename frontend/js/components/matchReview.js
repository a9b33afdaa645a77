// The admin's list of uncertain MSD matches: each file with its candidates, Confirm / Keep separate.
import { h, songArtist, songTitle } from "../dom.js";

/**
 * reviews: GET /api/admin/library/matches items; onDecide(fileId, action, msdSongId) → Promise.
 * A decided row is removed; a failed decision shows its message in the row.
 */
export function matchReview(reviews, onDecide) {
  const list = h("ul", { class: "match-review" });
  for (const r of reviews) {
    const status = h("p", { class: "form-error", role: "alert", hidden: true });
    const item = h(
      "li",
      { class: "match-item", dataset: { fileId: String(r.file_id) } },
      h("p", {}, h("strong", { text: r.path }), h("span", { class: "muted", text: ` · tagged “${r.tag_title || "?"}” by ${r.tag_artist || "?"}` })),
    );
    const choices = h("div", { class: "match-choices" });
    const decide = async (action, msdSongId) => {
      for (const b of item.querySelectorAll("button")) b.disabled = true;
      try {
        await onDecide(r.file_id, action, msdSongId);
        item.remove();
      } catch (err) {
        status.textContent = (err && err.message) || "That did not work.";
        status.hidden = false;
        for (const b of item.querySelectorAll("button")) b.disabled = false;
      }
    };
    for (const c of r.candidates) {
      choices.append(
        h(
          "button",
          { type: "button", class: "button button-small", on: { click: () => decide("confirm", c.song.msd_song_id) } },
          `It is “${songTitle(c.song)}” by ${songArtist(c.song)} (${Math.round(c.confidence * 100)} %)`,
        ),
      );
    }
    choices.append(h("button", { type: "button", class: "button button-ghost button-small", text: "None of these", on: { click: () => decide("reject") } }));
    item.append(choices, status);
    list.append(item);
  }
  return list;
}

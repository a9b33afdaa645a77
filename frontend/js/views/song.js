// Song page: details, player controls, rating, like/dislike, similar songs and radio.
import { ApiError, me, songs as songsApi } from "../api.js";
import { emit } from "../events.js";
import { formatCount, formatDate, formatTime, h, icon, mount, plural, songArtist, songTitle } from "../dom.js";
import * as player from "../player.js";
import * as scope from "../scope.js";
import * as session from "../session.js";
import { cover } from "../components/cover.js";
import { cardRow } from "../components/songCard.js";
import { stars } from "../components/stars.js";
import { degradedNames, empty, errorState, loading, skeletonRow } from "../components/states.js";
import { toast } from "../components/toast.js";

/** Play/pause + seek bar bound to the global player for this song. */
function songPlayer(song, ctx) {
  const playBtn = h("button", { type: "button", class: "button button-play", id: "song-play" });
  const seekBar = h("input", { type: "range", class: "seek", min: "0", max: String(song.duration_s || 0), step: "0.1", value: "0", "aria-label": "Seek in this song", disabled: true });
  const elapsed = h("span", { class: "time", text: "0:00" });
  const total = h("span", { class: "time", text: song.duration_s ? formatTime(song.duration_s) : "–:––" });
  let dragging = false;

  playBtn.addEventListener("click", () => player.playSong(song));
  seekBar.addEventListener("input", () => {
    dragging = true;
    elapsed.textContent = formatTime(Number(seekBar.value));
  });
  seekBar.addEventListener("change", () => {
    dragging = false;
    if (player.isCurrent(song.id)) player.seek(Number(seekBar.value));
    else player.playSong(song, { startAt: Number(seekBar.value) });
  });

  let shown = "";
  const unsubscribe = player.subscribe((state) => {
    const current = player.isCurrent(song.id);
    const playing = current && state.playing;
    const label = playing ? "Pause" : current ? "Resume" : "Play";
    if (label !== shown) {
      // only when it changes: replacing the icon under the pointer on every time update would eat clicks
      shown = label;
      mount(playBtn, icon(playing ? "pause" : "play", 22), label);
      playBtn.setAttribute("aria-label", `${playing ? "Pause" : "Play"} ${songTitle(song)}`);
    }
    seekBar.disabled = false;
    if (current) {
      const d = state.duration || song.duration_s || 0;
      seekBar.max = String(d);
      total.textContent = formatTime(d);
      if (!dragging) {
        seekBar.value = String(state.currentTime);
        elapsed.textContent = formatTime(state.currentTime);
      }
      seekBar.setAttribute("aria-valuetext", `${formatTime(state.currentTime)} of ${formatTime(d)}`);
      seekBar.style.setProperty("--progress", d ? `${(100 * state.currentTime) / d}%` : "0%");
    } else if (!dragging) {
      seekBar.value = "0";
      elapsed.textContent = "0:00";
      seekBar.style.setProperty("--progress", "0%");
    }
  });
  ctx.onCleanup(unsubscribe);
  return {
    button: playBtn,
    bar: h("div", { class: "song-progress" }, elapsed, seekBar, total),
  };
}

function feedbackButtons(song, detail) {
  let kind = detail.me ? detail.me.feedback : null;
  const like = h("button", { type: "button", class: "toggle-button", "aria-pressed": "false", id: "like-button" }, icon("heart", 18), h("span", { text: "Like" }));
  const dislike = h("button", { type: "button", class: "toggle-button", "aria-pressed": "false", id: "dislike-button" }, icon("ban", 18), h("span", { text: "Not for me" }));
  function paint() {
    like.setAttribute("aria-pressed", String(kind === "like"));
    dislike.setAttribute("aria-pressed", String(kind === "dislike"));
  }
  async function set(next) {
    const before = kind;
    kind = next;
    paint();
    try {
      if (next) await me.feedback(song.id, next);
      else await me.unfeedback(song.id);
      emit("listening-changed", { songId: song.id, what: "feedback" });
      toast(next === "like" ? "Added to your likes." : next === "dislike" ? "Got it, fewer songs like this." : "Removed.", "ok", 2500);
    } catch (err) {
      kind = before;
      paint();
      toast(err instanceof ApiError ? err.message : "Could not save.", "error");
    }
  }
  like.addEventListener("click", () => set(kind === "like" ? null : "like"));
  dislike.addEventListener("click", () => set(kind === "dislike" ? null : "dislike"));
  paint();
  return [like, dislike];
}

/** "Never play…": keep this song's artist, genre or one of its tags out of every list (exclusion rules). */
function excludeMenu(song, detail) {
  const choices = [];
  if (song.artist) choices.push(["artist", song.artist, `the artist ${song.artist}`]);
  if (song.genre) choices.push(["genre", song.genre, `the genre ${song.genre}`]);
  for (const t of (detail.tags || []).slice(0, 8)) choices.push(["tag", t, `the tag ${t}`]);
  if (!choices.length) return null;
  const select = h(
    "select",
    { class: "input", id: "exclude-choice", "aria-label": "What to keep out of your lists" },
    choices.map(([kind, value, label], i) => h("option", { value: String(i), text: label })),
  );
  const btn = h("button", { type: "button", class: "button button-ghost", id: "exclude-button" }, icon("ban", 18), "Never play");
  btn.addEventListener("click", async () => {
    const [kind, value, label] = choices[Number(select.value)];
    try {
      await me.exclude(kind, value);
      emit("listening-changed", { songId: song.id, what: "exclusion" });
      toast(`Done: ${label} stays out of your lists (undo on your account page).`, "ok", 4000);
    } catch (err) {
      toast(err instanceof ApiError ? err.message : "Could not save.", "error");
    }
  });
  return h("span", { class: "exclude-menu" }, btn, select);
}

function ratingBox(song, detail) {
  if (!session.user()) {
    return h("p", { class: "muted" }, h("a", { href: `#/login?next=${encodeURIComponent(`song/${song.id}`)}`, text: "Log in" }), " to rate this song and get recommendations.");
  }
  const saved = h("span", { class: "saved-note", role: "status" });
  const widget = stars({
    value: detail.me ? detail.me.rating : null,
    onChange: async (value) => {
      saved.textContent = "Saving…";
      try {
        if (value) await me.rate(song.id, value);
        else await me.unrate(song.id);
        saved.textContent = value ? "Saved" : "Rating removed";
        emit("listening-changed", { songId: song.id, what: "rating" });
      } catch (err) {
        saved.textContent = "";
        toast(err instanceof ApiError ? `Could not save the rating: ${err.message}` : "Could not save the rating.", "error");
      }
    },
  });
  return h("div", { class: "rating-box", id: "rating" }, widget.el, saved);
}

function similarSection(song, mode, title, subtitle, ctx) {
  const body = h("div", { class: "section-body" }, skeletonRow(5));
  const note = h("p", { class: "section-note", hidden: true });
  const id = `similar-${mode}`;
  const el = h("section", { class: "shelf", id, "aria-labelledby": `${id}-title` }, h("div", { class: "shelf-head" }, h("div", {}, h("h2", { id: `${id}-title`, text: title }), h("p", { class: "muted", text: subtitle }))), note, body);
  async function load() {
    mount(body, skeletonRow(5));
    try {
      const data = await songsApi.similar(song.id, mode, 12, ctx.signal, scope.get());
      const items = (data && data.items) || [];
      const degraded = (data && data.degraded) || [];
      note.hidden = !degraded.length;
      note.textContent = degraded.length ? `Limited results: ${degradedNames(degraded)} unavailable right now.` : "";
      if (!items.length) {
        mount(
          body,
          empty(
            mode === "audio" ? "No sound-alike songs found" : "No listener data for this song yet",
            mode === "audio" && !song.has_audio ? "This song has no recording to compare by sound." : "",
          ),
        );
      } else mount(body, cardRow(items, { context: `${title}: ${songTitle(song)}` }));
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(body, errorState(err, { what: mode === "audio" ? "sound-alike songs" : "similar songs", retry: load }));
    }
  }
  load();
  return el;
}

/** Songs that may play the same music (another key, tempo or instruments), each with a link to compare. */
function versionsSection(song, ctx) {
  const body = h("div", { class: "section-body" }, loading("Looking for other versions…"));
  const el = h(
    "section",
    { class: "shelf", id: "possible-versions", "aria-labelledby": "versions-title" },
    h("div", { class: "shelf-head" }, h("div", {}, h("h2", { id: "versions-title", text: "Possible versions" }), h("p", { class: "muted", text: "The same music in another key, tempo or arrangement" }))),
    body,
  );
  async function load() {
    try {
      const data = await songsApi.versions(song.id, 10, ctx.signal);
      const items = data.items || [];
      if (!items.length) {
        const why = (data.degraded || []).length
          ? "The sound service is not answering right now."
          : data.ready
            ? "No other recording plays this music."
            : "This song's passages are still being analysed. Try again in a minute.";
        mount(body, h("p", { class: "muted", text: why }));
        return;
      }
      mount(
        body,
        h(
          "ol",
          { class: "version-list" },
          items.map((it) =>
            h(
              "li",
              { class: "version-row", dataset: { songId: String(it.song.id) } },
              cover(it.song, "sm"),
              h("div", { class: "version-body" }, h("a", { class: "row-title", href: `#/song/${it.song.id}`, text: songTitle(it.song) }), h("span", { class: "row-sub", text: `${songArtist(it.song)} · match ${it.score.toFixed(2)} (listed from ${Number(data.threshold).toFixed(2)}) · ${Math.round(it.coverage * 100)} % of this song's passages` })),
              h("a", { class: "button button-ghost", href: `#/compare?a=${song.id}&b=${it.song.id}`, "aria-label": `Compare with ${songTitle(it.song)}` }, icon("compare", 16), "Compare"),
            ),
          ),
        ),
      );
    } catch (err) {
      if (err && err.name === "AbortError") return;
      mount(body, errorState(err, { what: "possible versions", retry: load }));
    }
  }
  load();
  return el;
}

function radioButton(song) {
  const btn = h("button", { type: "button", class: "button button-ghost", id: "radio-button" }, icon("radio", 18), "Start radio");
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    const label = btn.lastChild;
    label.textContent = "Tuning in…";
    try {
      const data = await songsApi.radio(song.id, scope.get());
      const list = [data.seed || song, ...(data.items || []).map((it) => it.song)];
      const seen = new Set();
      const unique = list.filter((s) => s && !seen.has(s.id) && seen.add(s.id));
      if (player.playQueue(unique, { context: `Radio: ${songTitle(song)}` })) {
        const n = unique.filter((s) => s.has_audio).length;
        toast(`Radio started: ${plural(n, "song")} with recordings.`, "ok");
      }
    } catch (err) {
      toast(err instanceof ApiError && err.status === 404 && err.code !== "song_not_found" ? "Radio is not available on this server yet." : `Could not start the radio: ${err.message}`, "error");
    } finally {
      btn.disabled = false;
      label.textContent = "Start radio";
    }
  });
  return btn;
}

function details(detail) {
  const rows = [];
  const add = (k, v) => {
    if (v !== null && v !== undefined && v !== "") rows.push(h("div", { class: "kv" }, h("dt", { text: k }), h("dd", { text: String(v) })));
  };
  add("Album", detail.release);
  add("Year", detail.year);
  add("Genre", detail.genre);
  add("Tempo", detail.tempo_bpm ? `${Math.round(detail.tempo_bpm)} BPM` : null);
  add("Collection", detail.collection);
  if (detail.extra) {
    for (const [k, v] of Object.entries(detail.extra)) {
      if (v === null || typeof v === "object") continue;
      add(k.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase()), v);
    }
  }
  return rows.length ? h("dl", { class: "details" }, rows) : null;
}

/** Why the name may be wrong (MSD's doubtful song→track matches), or what an untitled MSD song is. */
function metadataNote(song) {
  if (song.metadata_uncertain) {
    return h(
      "p",
      { class: "metadata-note", role: "note" },
      h("span", { class: "badge badge-warn", text: "metadata uncertain" }),
      h("span", { text: song.metadata_note || "The name shown may belong to another recording." }),
    );
  }
  if (!(song.title && song.title.trim()) && song.msd_song_id) {
    return h("p", { class: "metadata-note", role: "note", text: `The Million Song Dataset has listening data for this song (${song.msd_song_id}) but no name.` });
  }
  return null;
}

export async function render(root, ctx) {
  const id = Number(ctx.params.id);
  mount(root, loading("Loading the song…"));
  let detail;
  try {
    detail = await songsApi.get(id, ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    ctx.setTitle("Song");
    if (err instanceof ApiError && err.status === 404) {
      mount(root, h("h1", { class: "visually-hidden", text: "Song not found" }), empty("Song not found", "It may have been removed.", h("a", { class: "button", href: "#/search", text: "Search songs" })));
    } else {
      mount(root, h("h1", { class: "visually-hidden", text: "Song" }), errorState(err, { what: "this song", retry: () => render(root, ctx) }));
    }
    return;
  }
  const song = detail;
  ctx.setTitle(`${songTitle(song)} – ${songArtist(song)}`);
  const stats = detail.stats;
  const mine = detail.me;
  const controls = song.has_audio ? songPlayer(song, ctx) : null;
  const statLine = [
    plural(stats.plays, "play"),
    plural(stats.listeners, "listener"),
    stats.rating_count ? `★ ${stats.rating_avg.toFixed(1)} (${formatCount(stats.rating_count)})` : null,
    stats.likes ? plural(stats.likes, "like") : null,
  ].filter(Boolean);

  mount(
    root,
    h(
      "section",
      { class: "song-hero", dataset: { songId: String(song.id) } },
      cover(song, "lg"),
      h(
        "div",
        { class: "song-hero-text" },
        h("p", { class: "eyebrow", text: song.source === "catalog" ? `Recording${song.collection ? ` · ${song.collection}` : ""}` : song.source === "upload" ? "Upload" : "Song" }),
        h("h1", { class: "song-title", text: songTitle(song) }),
        h("p", { class: "song-artist", text: songArtist(song) }),
        metadataNote(song),
        h("p", { class: "song-meta", text: [song.release, song.year, song.duration_s ? formatTime(song.duration_s) : null].filter(Boolean).join(" · ") }),
        h("p", { class: "song-stats", text: statLine.join(" · ") }),
        detail.tags && detail.tags.length ? h("ul", { class: "tags", "aria-label": "Tags" }, detail.tags.slice(0, 12).map((t) => h("li", { class: "tag", text: t }))) : null,
      ),
    ),
    h(
      "section",
      { class: "song-actions", "aria-label": "Actions" },
      h(
        "div",
        { class: "action-line" },
        controls ? controls.button : h("p", { class: "no-audio-note" }, icon("music", 18), "No recording available for this song"),
        radioButton(song),
        song.has_audio ? h("a", { class: "button button-ghost", id: "compare-button", href: `#/compare?a=${song.id}` }, icon("compare", 18), "Compare with…") : null,
        session.user() ? feedbackButtons(song, detail) : null,
        session.user() ? excludeMenu(song, detail) : null,
        h("a", { class: "button button-ghost", id: "path-from-here", href: `#/mixes?a=${song.id}` }, "Path from here…"),
      ),
      controls ? controls.bar : null,
      ratingBox(song, detail),
      mine && mine.plays ? h("p", { class: "muted", text: `You played it ${plural(mine.plays, "time")}${mine.last_played_at ? `, last on ${formatDate(mine.last_played_at)}` : ""}.` }) : null,
    ),
    similarSection(song, "cf", "Listeners also played", "Similar by who listens to it", ctx),
    similarSection(song, "audio", "Sounds like this", "Similar by sound", ctx),
    song.has_audio ? versionsSection(song, ctx) : null,
    details(detail) ? h("section", { class: "about", "aria-labelledby": "about-title" }, h("h2", { id: "about-title", text: "About" }), details(detail)) : null,
  );
}

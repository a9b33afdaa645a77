// Home: hybrid recommendations with their reasons, then one row per recommender.
import { charts, library, me } from "../api.js";
import { debounce, h, icon, mount, plural } from "../dom.js";
import { on } from "../events.js";
import * as player from "../player.js";
import * as scope from "../scope.js";
import * as session from "../session.js";
import { scopeToggle } from "../components/scopeToggle.js";
import { cardRow } from "../components/songCard.js";
import { empty, errorState, skeletonRow } from "../components/states.js";

const DEGRADED_TEXT = {
  cf: "listener-based picks are unavailable right now",
  audio: "sound-based picks are unavailable right now",
  cache: "results may be slower than usual",
};

function formatCountText(n) {
  return Number(n || 0).toLocaleString();
}

function greeting(name) {
  const hour = new Date().getHours();
  const part = hour < 5 ? "Good night" : hour < 12 ? "Good morning" : hour < 18 ? "Good afternoon" : "Good evening";
  return `${part}, ${name}`;
}

function playAllButton(getSongs, context) {
  const btn = h("button", { type: "button", class: "button button-ghost button-small", hidden: true }, icon("play", 16), "Play all");
  btn.addEventListener("click", () => player.playQueue(getSongs(), { context }));
  return btn;
}

/**
 * A section that loads `load()` → API body and renders its items as a card row.
 * Keeps its previous content while refreshing. `emptyActions()` gives the links that would fill an empty row.
 * `fetch()` only loads (null on error, shown in the row), `draw(data)` only renders; `refresh()` does both.
 */
function recSection({ id, title, subtitle, load, emptyTitle, emptyText, emptyActions, context, what }) {
  const body = h("div", { class: "section-body", "aria-live": "polite", "aria-busy": "true" }, skeletonRow());
  const note = h("p", { class: "section-note", hidden: true });
  let songs = [];
  const playAll = playAllButton(() => songs, context);
  const headingId = `${id}-title`;
  const heading = h("h2", { id: headingId, text: title });
  const sub = h("p", { class: "muted", text: subtitle || "", hidden: !subtitle });
  const el = h("section", { class: "shelf", id, "aria-labelledby": headingId }, h("div", { class: "shelf-head" }, h("div", {}, heading, sub), playAll), note, body);
  let loadedOnce = false;

  function setHeading(newTitle, newSubtitle) {
    heading.textContent = newTitle;
    sub.textContent = newSubtitle || "";
    sub.hidden = !newSubtitle;
  }

  async function fetch() {
    body.setAttribute("aria-busy", "true");
    if (!loadedOnce) mount(body, skeletonRow());
    try {
      const data = await load();
      loadedOnce = true;
      return data;
    } catch (err) {
      if (err && err.name === "AbortError") return undefined;
      loadedOnce = false;
      playAll.hidden = true;
      note.hidden = true;
      mount(body, errorState(err, { what, retry: refresh }));
      body.setAttribute("aria-busy", "false");
      return null;
    }
  }

  function draw(data) {
    const items = (data && data.items) || [];
    songs = items.map((it) => it.song);
    const notes = [];
    if (data && data.fallback === "popular") notes.push("We don’t know your taste yet, so these are popular songs. Play, rate or like songs to make them yours.");
    const limited = ((data && data.degraded) || []).map((d) => DEGRADED_TEXT[d]).filter(Boolean);
    if (limited.length) notes.push(`Limited results: ${limited.join("; ")}.`);
    note.textContent = notes.join(" ");
    note.hidden = !notes.length;
    playAll.hidden = !songs.some((s) => s.has_audio);
    const actions = emptyActions ? emptyActions() : [h("a", { class: "button button-ghost", href: "#/charts", text: "Browse the charts" })];
    if (!items.length) mount(body, empty(emptyTitle, emptyText, h("div", { class: "row-actions" }, actions)));
    else mount(body, cardRow(items, { context }));
    body.setAttribute("aria-busy", "false");
  }

  async function refresh() {
    const data = await fetch();
    if (data) draw(data);
  }
  return { el, refresh, fetch, draw, setHeading };
}

/** Same songs in the same order (over the shorter list). */
function sameOrder(a, b) {
  const n = Math.min(a.length, b.length);
  if (!n) return false;
  for (let i = 0; i < n; i += 1) if (a[i].song.id !== b[i].song.id) return false;
  return true;
}

function renderAnonymous(root, ctx) {
  const popular = recSection({
    id: "popular",
    title: "Popular now",
    subtitle: "The most played songs of all time",
    load: () => charts("all", 20, ctx.signal).then((d) => ({ items: d.items.map((it) => ({ song: it.song, note: `#${it.rank} · ${it.plays.toLocaleString()} plays` })) })),
    emptyTitle: "No charts yet",
    emptyText: "",
    context: "Popular now",
    what: "the charts",
  });
  mount(
    root,
    h(
      "section",
      { class: "hero" },
      h("h1", { text: "Music that fits you" }),
      h("p", { class: "hero-text", text: "Recommendations from two kinds of knowledge: what a million listeners played (the Million Song Dataset) and how songs actually sound (a neural network that listens to the recordings)." }),
      h("p", { class: "hero-text", text: "Bring your own music folder and your history from Last.fm, ListenBrainz or Spotify: your files become playable songs, matched to what listeners know." }),
      h("p", { class: "hero-text", text: "Every pick says why: the song you played that listeners pair with it, or the song it sounds like." }),
      h("p", { class: "hero-hint", text: "To look around first, log in as a demo listener (alice, bob, carol or dave) with the password `make run` printed." }),
      h(
        "div",
        { class: "hero-actions" },
        h("a", { class: "button", href: "#/register", text: "Create a free account" }),
        h("a", { class: "button button-ghost", href: "#/login", text: "Log in" }),
        h("a", { class: "button button-ghost", href: "#/sound" }, icon("mic", 18), "Search by sound"),
      ),
    ),
    popular.el,
  );
  popular.refresh();
}

export async function render(root, ctx) {
  ctx.setTitle("Home");
  const user = session.user();
  if (!user) {
    renderAnonymous(root, ctx);
    return;
  }
  const soundActions = () => [
    h("a", { class: "button button-ghost", href: "#/map", text: "Play a song that has a recording" }),
    h("a", { class: "button button-ghost", href: "#/sound" }, icon("mic", 16), "Search by a clip"),
    h("a", { class: "button button-ghost", href: "#/library", text: "Add your music folder" }),
  ];
  const hybrid = recSection({
    id: "recs-hybrid",
    title: "Recommended for you",
    subtitle: "What listeners like you play and what sounds like your favourites, together",
    load: () => me.recommendations("hybrid", 20, ctx.signal, scope.get()),
    emptyTitle: "No recommendations yet",
    emptyText: "Play, rate or like a few songs and your picks will appear here.",
    context: "Recommended for you",
    what: "your recommendations",
  });
  const cf = recSection({
    id: "recs-cf",
    title: "From listeners like you",
    subtitle: "Only co-listening: played by people whose listening resembles yours",
    load: () => me.recommendations("cf", 12, ctx.signal, scope.get()),
    emptyTitle: "No listener-based picks yet",
    emptyText: "They appear once you have played a few songs.",
    context: "From listeners like you",
    what: "listener-based recommendations",
  });
  const audio = recSection({
    id: "recs-audio",
    title: "Sounds like what you played",
    subtitle: "Only sound: songs whose recordings are close to the ones you listened to",
    load: () => me.recommendations("audio", 12, ctx.signal, scope.get()),
    emptyTitle: "Nothing to compare yet",
    emptyText: "Sound-alike picks start from a song with a recording in your history. Play one (every point of the map plays), search by a clip, or add your own music.",
    emptyActions: soundActions,
    context: "Sounds like what you played",
    what: "sound-based recommendations",
  });
  const sections = [hybrid, cf, audio];
  const stats = user.stats || { songs_played: 0, ratings: 0, likes: 0 };
  // With a music folder, the lists can be limited to songs it plays (the server's default) or not.
  const scopeSlot = h("div", { class: "scope-slot" });
  library
    .summary(ctx.signal)
    .then((lib) => {
      if (!lib.present) return;
      mount(
        scopeSlot,
        scopeToggle(scope.get() || "library", (value) => {
          scope.set(value);
          refreshAll();
        }),
      );
    })
    .catch(() => {});
  mount(
    root,
    h(
      "div",
      { class: "page-head" },
      h("h1", { text: greeting(user.username) }),
      h(
        "p",
        { class: "muted" },
        `${plural(stats.songs_played, "song")} played · ${formatCountText(stats.ratings)} rated · ${formatCountText(stats.likes)} liked`,
      ),
    ),
    scopeSlot,
    sections.map((s) => s.el),
  );
  // One load of the three lists, then one decision: rows that would repeat each other become one.
  async function refreshAll() {
    const [hy, cfData, au] = await Promise.all(sections.map((sec) => sec.fetch()));
    if (hy === undefined || !ctx.isActive()) return; // navigated away
    const soundless = hy && !hy.items.some((it) => it.sources && it.sources.audio !== undefined);
    if (hy && cfData && sameOrder(hy.items, cfData.items)) {
      // The fused list starts as the listeners' list (no or little sound knowledge yet): one row, said once.
      cf.el.hidden = true;
      if (hy.fallback === "popular") hybrid.setHeading("Popular with listeners", "Until we know your taste: play, rate or like songs and this becomes yours");
      else if (soundless) hybrid.setHeading("Recommended for you: from listeners like you", "Played by people whose listening resembles yours. Sound-alike picks join in once you play songs with a recording.");
      else hybrid.setHeading("Recommended for you: mostly from listeners like you", "Played by people whose listening resembles yours; sound-alike picks follow further along.");
    } else {
      cf.el.hidden = false;
      const both = hy ? hy.items.filter((it) => it.basis === "both").length : 0;
      hybrid.setHeading("Recommended for you", both ? `Listeners and sound together: ${both} of these come from both` : "What listeners like you play and what sounds like your favourites, together");
      cf.setHeading("From listeners like you", "Only co-listening: played by people whose listening resembles yours");
    }
    if (hy) hybrid.draw(hy);
    if (cfData) cf.draw(cfData);
    if (au) audio.draw(au);
  }
  refreshAll();
  // New plays and ratings change the recommendations: refresh (batched) while the page is open.
  const later = debounce(refreshAll, 1500);
  ctx.onCleanup(later.cancel);
  ctx.onCleanup(on("listening-changed", later));
}

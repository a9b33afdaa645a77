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
 * Keeps its previous content while refreshing.
 */
function recSection({ id, title, subtitle, load, emptyTitle, emptyText, context, what }) {
  const body = h("div", { class: "section-body", "aria-live": "polite", "aria-busy": "true" }, skeletonRow());
  const note = h("p", { class: "section-note", hidden: true });
  let songs = [];
  const playAll = playAllButton(() => songs, context);
  const headingId = `${id}-title`;
  const el = h(
    "section",
    { class: "shelf", id, "aria-labelledby": headingId },
    h(
      "div",
      { class: "shelf-head" },
      h("div", {}, h("h2", { id: headingId, text: title }), subtitle ? h("p", { class: "muted", text: subtitle }) : null),
      playAll,
    ),
    note,
    body,
  );
  let loadedOnce = false;

  async function refresh() {
    body.setAttribute("aria-busy", "true");
    if (!loadedOnce) mount(body, skeletonRow());
    try {
      const data = await load();
      loadedOnce = true;
      const items = (data && data.items) || [];
      songs = items.map((it) => it.song);
      const notes = [];
      if (data && data.fallback === "popular") notes.push("We don’t know your taste yet, so these are popular songs. Play, rate or like songs to make them yours.");
      const limited = ((data && data.degraded) || []).map((d) => DEGRADED_TEXT[d]).filter(Boolean);
      if (limited.length) notes.push(`Limited results: ${limited.join("; ")}.`);
      note.textContent = notes.join(" ");
      note.hidden = !notes.length;
      playAll.hidden = !songs.some((s) => s.has_audio);
      if (!items.length) mount(body, empty(emptyTitle, emptyText, h("a", { class: "button button-ghost", href: "#/charts", text: "Browse the charts" })));
      else mount(body, cardRow(items, { context }));
    } catch (err) {
      if (err && err.name === "AbortError") return;
      loadedOnce = false;
      playAll.hidden = true;
      note.hidden = true;
      mount(body, errorState(err, { what, retry: refresh }));
    } finally {
      body.setAttribute("aria-busy", "false");
    }
  }
  return { el, refresh };
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
      h("p", { class: "hero-text", text: "Recommendations from people who listen like you, and from how songs actually sound." }),
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
  const sections = [
    recSection({
      id: "recs-hybrid",
      title: "Recommended for you",
      subtitle: "A blend of what listeners like you play and what sounds like your favourites",
      load: () => me.recommendations("hybrid", 20, ctx.signal, scope.get()),
      emptyTitle: "No recommendations yet",
      emptyText: "Play, rate or like a few songs and your picks will appear here.",
      context: "Recommended for you",
      what: "your recommendations",
    }),
    recSection({
      id: "recs-cf",
      title: "From listeners like you",
      subtitle: "Played by people whose listening resembles yours",
      load: () => me.recommendations("cf", 12, ctx.signal, scope.get()),
      emptyTitle: "No listener-based picks yet",
      emptyText: "They appear once you have played a few songs.",
      context: "From listeners like you",
      what: "listener-based recommendations",
    }),
    recSection({
      id: "recs-audio",
      title: "Sounds like what you played",
      subtitle: "Songs whose sound is close to the recordings you listened to",
      load: () => me.recommendations("audio", 12, ctx.signal, scope.get()),
      emptyTitle: "Nothing to compare yet",
      emptyText: "Play songs that have a recording (they show a play button) to find songs that sound alike.",
      context: "Sounds like what you played",
      what: "sound-based recommendations",
    }),
  ];
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
  const refreshAll = () => sections.forEach((s) => s.refresh());
  refreshAll();
  // New plays and ratings change the recommendations: refresh (batched) while the page is open.
  const later = debounce(refreshAll, 1500);
  ctx.onCleanup(later.cancel);
  ctx.onCleanup(on("listening-changed", later));
}

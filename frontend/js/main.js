// Entry module: hash router, account area, theme, and start-up of the player and the status banner.
import { h, mount } from "./dom.js";
import { on } from "./events.js";
import * as healthBanner from "./components/health.js";
import { PLAY_EVENT } from "./components/songCard.js";
import { toast } from "./components/toast.js";
import * as player from "./player.js";
import * as session from "./session.js";
import * as account from "./views/account.js";
import * as charts from "./views/charts.js";
import * as compare from "./views/compare.js";
import * as history from "./views/history.js";
import * as home from "./views/home.js";
import * as libraryView from "./views/library.js";
import * as login from "./views/login.js";
import * as mapView from "./views/map.js";
import * as mixes from "./views/mixes.js";
import * as playlistsView from "./views/playlists.js";
import * as notFound from "./views/notfound.js";
import * as search from "./views/search.js";
import * as song from "./views/song.js";
import * as sound from "./views/sound.js";

const ROUTES = [
  { name: "home", pattern: /^(home)?$/, view: home },
  { name: "search", pattern: /^search$/, view: search },
  { name: "song", pattern: /^song\/(\d+)$/, view: song, keys: ["id"] },
  { name: "sound", pattern: /^sound$/, view: sound },
  { name: "compare", pattern: /^compare$/, view: compare },
  { name: "history", pattern: /^history$/, view: history, auth: true },
  { name: "account", pattern: /^account$/, view: account, auth: true },
  { name: "charts", pattern: /^charts$/, view: charts },
  { name: "library", pattern: /^library$/, view: libraryView },
  { name: "map", pattern: /^map$/, view: mapView },
  { name: "mixes", pattern: /^mixes$/, view: mixes },
  { name: "playlists", pattern: /^playlists(?:\/(\d+))?$/, view: playlistsView, keys: ["id"], auth: true },
  { name: "login", pattern: /^(login|register)$/, view: login },
];

const viewRoot = document.getElementById("view");
const mainEl = document.getElementById("main");
let active = null; // {route, controller, cleanups}
let firstRender = true;

/** "#/song/12?x=1" → {path: "song/12", query: URLSearchParams} */
export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, qs = ""] = raw.split("?");
  return { path: decodeURIComponent(path).replace(/\/+$/, ""), query: new URLSearchParams(qs) };
}

export function navigate(path, { replace = false } = {}) {
  const target = `#/${path.replace(/^#?\/?/, "")}`;
  if (replace) {
    window.history.replaceState(null, "", target);
    route();
  } else if (window.location.hash === target) {
    route();
  } else {
    window.location.hash = target;
  }
}

/** Update the query string of the current route without re-rendering (search as you type). */
export function setQuery(params) {
  const { path } = parseHash();
  const qs = new URLSearchParams(params).toString();
  window.history.replaceState(null, "", `#/${path}${qs ? `?${qs}` : ""}`);
}

function match(path) {
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (m) {
      const params = {};
      (r.keys || []).forEach((k, i) => {
        params[k] = m[i + 1];
      });
      if (r.name === "login") params.mode = m[1];
      return { route: r, params };
    }
  }
  return { route: { name: "notfound", view: notFound }, params: {} };
}

function teardown() {
  if (!active) return;
  active.controller.abort();
  for (const fn of active.cleanups) {
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }
  active = null;
}

async function route() {
  const { path, query } = parseHash();
  if (path === "main") return; // the skip link
  const { route: r, params } = match(path);
  if (r.auth && !session.user()) {
    const next = encodeURIComponent(`${path}${query.toString() ? `?${query}` : ""}`);
    navigate(`login?next=${next}`, { replace: true });
    return;
  }
  teardown();
  const controller = new AbortController();
  const cleanups = [];
  active = { route: r, controller, cleanups };
  for (const link of document.querySelectorAll(".mainnav a[data-route]")) {
    if (link.dataset.route === r.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.route = r.name;
  const container = h("div", { class: `page page-${r.name}` });
  mount(viewRoot, container);
  const ctx = {
    params,
    query,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    setTitle: (title) => {
      document.title = title ? `${title} · Musicrec` : "Musicrec";
    },
    navigate,
    setQuery,
    isActive: () => active !== null && active.controller === controller,
  };
  ctx.setTitle("");
  if (!firstRender) window.scrollTo(0, 0);
  try {
    await r.view.render(container, ctx);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    console.error(err);
    mount(container, h("div", { class: "state state-error", role: "alert" }, h("p", { class: "state-title", text: "This page failed to load." })));
  }
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  if (!firstRender && ctx.isActive() && !container.contains(document.activeElement)) {
    const heading = container.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
  firstRender = false;
}

// --- account area and theme -----------------------------------------------------------------------

function renderAccount(user) {
  const box = document.getElementById("account");
  if (user) {
    const logoutBtn = h("button", { type: "button", class: "button button-ghost button-small", text: "Log out" });
    logoutBtn.addEventListener("click", async () => {
      await session.logout().catch(() => {});
      toast("You are logged out.");
      navigate("login");
    });
    mount(
      box,
      h("span", { class: "avatar", "aria-hidden": "true", text: user.username.charAt(0).toUpperCase() }),
      h("a", { class: "account-name", href: "#/account", title: "Your account", text: user.username }),
      logoutBtn,
    );
  } else {
    mount(
      box,
      h("a", { class: "button button-ghost button-small", href: "#/login", text: "Log in" }),
      h("a", { class: "button button-small hide-narrow", href: "#/register", text: "Sign up" }),
    );
  }
}

const THEME_KEY = "musicrec.theme";

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const btn = document.getElementById("theme-toggle");
  const other = theme === "dark" ? "light" : "dark";
  btn.setAttribute("aria-label", `Switch to ${other} theme`);
  btn.title = `Switch to ${other} theme`;
}

function initTheme() {
  let theme = null;
  try {
    theme = localStorage.getItem(THEME_KEY);
  } catch {
    theme = null;
  }
  if (theme !== "dark" && theme !== "light") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  applyTheme(theme);
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      /* private mode */
    }
  });
}

function initSkipLink() {
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    const heading = viewRoot.querySelector("h1");
    const target = heading || mainEl;
    if (heading) heading.setAttribute("tabindex", "-1");
    target.focus();
  });
}

function initShortcuts() {
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const t = event.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    event.preventDefault();
    if (active && active.route.name === "search") document.getElementById("search-input")?.focus();
    else navigate("search");
  });
}

async function start() {
  initTheme();
  initSkipLink();
  initShortcuts();
  player.init();
  // Play buttons emit "play-song"; the shell is the one place that hands it to the player.
  document.addEventListener(PLAY_EVENT, (event) => {
    const { song, queue, context, startAt } = event.detail;
    player.playSong(song, { queue, context, startAt });
  });
  healthBanner.start();
  on("session", renderAccount);
  on("unauthorized", () => {
    if (!session.user()) return;
    session.setUser(null);
    toast("Your session ended. Please log in again.", "warn");
    if (active && active.route.auth) route();
  });
  renderAccount(null);
  await session.refresh();
  window.addEventListener("hashchange", route);
  if (!window.location.hash || window.location.hash === "#" || window.location.hash === "#/") {
    window.history.replaceState(null, "", "#/home");
  }
  route();
}

start();

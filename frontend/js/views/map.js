// The catalog by sound: every song's audio embedding projected to 2-D, drawn on a <canvas>.
// Hover (or arrow keys) shows the title, click (or Enter) plays the song.
import { catalogMap, songs as songsApi } from "../api.js";
import { h, mount, plural } from "../dom.js";
import * as player from "../player.js";
import { empty, errorState, loading } from "../components/states.js";
import { toast } from "../components/toast.js";

const PAD = 18;

/** Distinct colours: hues spaced by the golden angle. */
function palette(n) {
  return Array.from({ length: n }, (_, i) => `hsl(${Math.round((i * 137.508 + 200) % 360)} 70% 52%)`);
}

export async function render(root, ctx) {
  ctx.setTitle("Map");
  const body = h("div", { class: "section-body" }, loading("Drawing the map…"));
  const head = h("div", { class: "page-head" }, h("h1", { text: "The catalog by sound" }), h("p", { class: "muted", text: "Each dot is a song; songs that sound alike sit close together. Hover to see a title, click to play." }));
  mount(root, head, body);
  const data = await load(body, ctx, () => render(root, ctx));
  if (!data) return;
  const view = drawing(data);
  // A song path (#/map?path=1,2,3): drawn as a line through its songs, in order.
  const wanted = (ctx.query.get("path") || "").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const byId = new Map(data.points.map((p) => [p.song_id, p]));
  view.path = wanted.map((id) => byId.get(id)).filter(Boolean);
  const caption = view.path.length
    ? h("p", {
        class: "map-path-caption",
        id: "map-path-caption",
        text: `The path: ${plural(wanted.length, "song")}${view.path.length < wanted.length ? ` (${view.path.length} on the map: the others are not in the catalog’s map)` : ""} from “${view.path[0].title || "a song"}” to “${view.path[view.path.length - 1].title || "a song"}”`,
      })
    : null;
  mount(body, h("p", { class: "muted", text: `${plural(data.points.length, "song")} · ${plural(data.collections.length, "collection")}` }), caption, view.frame, legend(data, view));
  bind(view, { onPlay: playPoint });
  const observer = new ResizeObserver(() => view.resize());
  observer.observe(view.frame);
  ctx.onCleanup(() => observer.disconnect());
  const themeObserver = new MutationObserver(() => view.draw());
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  ctx.onCleanup(() => themeObserver.disconnect());
  view.resize();
}

// --- load: the points and their collections, or a state that says why there are none ---------------

async function load(body, ctx, retry) {
  let data;
  try {
    data = await catalogMap(ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return null;
    mount(body, errorState(err, { what: "the map", retry }));
    return null;
  }
  const points = (data && Array.isArray(data.points) ? data.points : []).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (!points.length) {
    mount(body, empty("The map is empty", "It appears once the catalog’s recordings have been analysed."));
    return null;
  }
  const collections = Array.isArray(data.collections) && data.collections.length ? [...data.collections] : [];
  for (const p of points) {
    const c = p.collection || "Other";
    if (!collections.includes(c)) collections.push(c);
  }
  const counts = new Map();
  for (const p of points) counts.set(p.collection || "Other", (counts.get(p.collection || "Other") || 0) + 1);
  return { points, collections, counts };
}

// --- draw: the canvas, its geometry, the highlight rings and the tooltip ----------------------------

function drawing({ points, collections }) {
  const colors = palette(collections.length);
  const colorOf = new Map(collections.map((c, i) => [c, colors[i]]));
  const canvas = h("canvas", {
    class: "map-canvas",
    id: "map-canvas",
    tabindex: "0",
    role: "img",
    "aria-label": `Map of ${points.length} songs by sound, coloured by collection. Use the arrow keys to move between songs and Enter to play one.`,
  });
  const tooltip = h("div", { class: "map-tooltip", role: "status", hidden: true });
  const frame = h("div", { class: "map-frame" }, canvas, tooltip);

  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    minX = Math.min(minX, p.x);
    maxX = Math.max(maxX, p.x);
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  const spanX = maxX - minX || 1;
  const spanY = maxY - minY || 1;
  const radius = points.length > 3000 ? 2.5 : points.length > 500 ? 3.5 : 5;
  // The view's state: what the handlers change and the drawing reads.
  const view = { points, canvas, tooltip, frame, colorOf, hidden: new Set(), hovered: null, selected: null, width: 0, height: 0, path: [] };

  view.px = (p) => {
    const scale = Math.min((view.width - 2 * PAD) / spanX, (view.height - 2 * PAD) / spanY);
    const offX = (view.width - scale * spanX) / 2;
    const offY = (view.height - scale * spanY) / 2;
    return [offX + (p.x - minX) * scale, view.height - (offY + (p.y - minY) * scale)];
  };

  view.visible = (p) => !view.hidden.has(p.collection || "Other");

  view.draw = () => {
    const ctx2d = canvas.getContext("2d");
    if (!ctx2d) return;
    const dpr = window.devicePixelRatio || 1;
    ctx2d.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx2d.clearRect(0, 0, view.width, view.height);
    const ring = getComputedStyle(canvas).getPropertyValue("--map-ring").trim() || "#000";
    ctx2d.globalAlpha = 0.85;
    for (const p of points) {
      if (!view.visible(p)) continue;
      const [x, y] = view.px(p);
      ctx2d.fillStyle = colorOf.get(p.collection || "Other");
      ctx2d.beginPath();
      ctx2d.arc(x, y, radius, 0, Math.PI * 2);
      ctx2d.fill();
    }
    ctx2d.globalAlpha = 1;
    if (view.path && view.path.length > 1) {
      ctx2d.strokeStyle = ring;
      ctx2d.lineWidth = 2.5;
      ctx2d.beginPath();
      view.path.forEach((p, i) => {
        const [x, y] = view.px(p);
        if (i === 0) ctx2d.moveTo(x, y);
        else ctx2d.lineTo(x, y);
      });
      ctx2d.stroke();
      for (const p of view.path) {
        const [x, y] = view.px(p);
        ctx2d.beginPath();
        ctx2d.arc(x, y, radius + 2, 0, Math.PI * 2);
        ctx2d.stroke();
      }
    }
    for (const p of [view.hovered, view.selected]) {
      if (!p || !view.visible(p)) continue;
      const [x, y] = view.px(p);
      ctx2d.strokeStyle = ring;
      ctx2d.lineWidth = 2;
      ctx2d.beginPath();
      ctx2d.arc(x, y, radius + 4, 0, Math.PI * 2);
      ctx2d.stroke();
    }
  };

  view.resize = () => {
    const rect = frame.getBoundingClientRect();
    view.width = Math.max(200, rect.width);
    view.height = Math.max(260, Math.min(view.width * 0.62, window.innerHeight * 0.7));
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(view.width * dpr);
    canvas.height = Math.round(view.height * dpr);
    canvas.style.setProperty("width", `${view.width}px`);
    canvas.style.setProperty("height", `${view.height}px`);
    view.draw();
    if (view.selected) view.showTip(view.selected);
  };

  view.nearest = (x, y, maxDist = 12) => {
    let best = null;
    let bestD = maxDist * maxDist;
    for (const p of points) {
      if (!view.visible(p)) continue;
      const [qx, qy] = view.px(p);
      const d = (qx - x) ** 2 + (qy - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = p;
      }
    }
    return best;
  };

  view.showTip = (p) => {
    if (!p) {
      tooltip.hidden = true;
      return;
    }
    const [x, y] = view.px(p);
    mount(tooltip, h("strong", { text: p.title || "Untitled song" }), h("span", { text: p.collection || "Other" }));
    tooltip.hidden = false;
    const left = Math.min(Math.max(8, x + 12), view.width - tooltip.offsetWidth - 8);
    const top = y - tooltip.offsetHeight - 12 < 0 ? y + 14 : y - tooltip.offsetHeight - 12;
    tooltip.style.setProperty("transform", `translate(${Math.round(left)}px, ${Math.round(top)}px)`);
  };
  return view;
}

/** The legend: one button per collection that shows or hides its songs. */
function legend({ collections, counts }, view) {
  return h(
    "ul",
    { class: "legend", "aria-label": "Collections (press to show or hide)" },
    collections.map((c) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.setProperty("--swatch", view.colorOf.get(c));
      const btn = h("button", { type: "button", class: "legend-item", "aria-pressed": "true" }, swatch, h("span", { text: c }), h("span", { class: "legend-count", text: String(counts.get(c) || 0) }));
      btn.addEventListener("click", () => {
        if (view.hidden.has(c)) view.hidden.delete(c);
        else view.hidden.add(c);
        btn.setAttribute("aria-pressed", String(!view.hidden.has(c)));
        if (view.selected && view.hidden.has(view.selected.collection || "Other")) view.selected = null;
        view.draw();
      });
      return h("li", {}, btn);
    }),
  );
}

// --- bind: pointer and keyboard ------------------------------------------------------------------

async function playPoint(p) {
  try {
    const song = await songsApi.get(p.song_id);
    if (!song.has_audio) {
      toast(`“${p.title || "This song"}” has no recording to play.`, "warn");
      return;
    }
    player.playSong(song, { context: "Map" });
  } catch (err) {
    toast(`Could not open this song: ${err.message}`, "error");
  }
}

// Arrow keys: jump to the nearest visible song in that direction.
const DIRS = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function step(view, key) {
  const vis = view.points.filter(view.visible);
  if (!vis.length) return;
  if (!view.selected) {
    view.selected = vis[0];
    return;
  }
  const [sx, sy] = view.px(view.selected);
  const [dx, dy] = DIRS[key];
  let best = null;
  let bestScore = Infinity;
  for (const p of vis) {
    if (p === view.selected) continue;
    const [x, y] = view.px(p);
    const along = (x - sx) * dx + (y - sy) * dy;
    if (along <= 0) continue;
    const across = Math.abs((x - sx) * dy - (y - sy) * dx);
    const score = along + 2 * across;
    if (score < bestScore) {
      bestScore = score;
      best = p;
    }
  }
  if (best) view.selected = best;
}

function bind(view, { onPlay }) {
  const { canvas } = view;
  let frameReq = 0;
  canvas.addEventListener("mousemove", (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    cancelAnimationFrame(frameReq);
    frameReq = requestAnimationFrame(() => {
      const p = view.nearest(x, y);
      if (p !== view.hovered) {
        view.hovered = p;
        canvas.classList.toggle("is-pointing", Boolean(p));
        view.draw();
        view.showTip(p || view.selected);
      }
    });
  });
  canvas.addEventListener("mouseleave", () => {
    view.hovered = null;
    canvas.classList.remove("is-pointing");
    view.draw();
    view.showTip(view.selected);
  });
  canvas.addEventListener("click", (event) => {
    const rect = canvas.getBoundingClientRect();
    const p = view.nearest(event.clientX - rect.left, event.clientY - rect.top);
    if (p) {
      view.selected = p;
      view.draw();
      view.showTip(p);
      onPlay(p);
    }
  });
  canvas.addEventListener("keydown", (event) => {
    if (DIRS[event.key]) {
      event.preventDefault();
      step(view, event.key);
      view.draw();
      view.showTip(view.selected);
    } else if ((event.key === "Enter" || event.key === " ") && view.selected) {
      event.preventDefault();
      onPlay(view.selected);
    } else if (event.key === "Escape") {
      view.selected = null;
      view.draw();
      view.showTip(null);
    }
  });
  canvas.addEventListener("blur", () => {
    if (!view.hovered) view.showTip(null);
  });
}

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
  let data;
  try {
    data = await catalogMap(ctx.signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    mount(body, errorState(err, { what: "the map", retry: () => render(root, ctx) }));
    return;
  }
  const points = (data && Array.isArray(data.points) ? data.points : []).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (!points.length) {
    mount(body, empty("The map is empty", "It appears once the catalog’s recordings have been analysed."));
    return;
  }
  const collections = Array.isArray(data.collections) && data.collections.length ? [...data.collections] : [];
  for (const p of points) {
    const c = p.collection || "Other";
    if (!collections.includes(c)) collections.push(c);
  }
  const colors = palette(collections.length);
  const colorOf = new Map(collections.map((c, i) => [c, colors[i]]));
  const hidden = new Set();
  const counts = new Map();
  for (const p of points) counts.set(p.collection || "Other", (counts.get(p.collection || "Other") || 0) + 1);

  const canvas = h("canvas", {
    class: "map-canvas",
    id: "map-canvas",
    tabindex: "0",
    role: "img",
    "aria-label": `Map of ${points.length} songs by sound, coloured by collection. Use the arrow keys to move between songs and Enter to play one.`,
  });
  const tooltip = h("div", { class: "map-tooltip", role: "status", hidden: true });
  const frame = h("div", { class: "map-frame" }, canvas, tooltip);
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Collections (press to show or hide)" },
    collections.map((c) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.setProperty("--swatch", colorOf.get(c));
      const btn = h("button", { type: "button", class: "legend-item", "aria-pressed": "true" }, swatch, h("span", { text: c }), h("span", { class: "legend-count", text: String(counts.get(c) || 0) }));
      btn.addEventListener("click", () => {
        if (hidden.has(c)) hidden.delete(c);
        else hidden.add(c);
        btn.setAttribute("aria-pressed", String(!hidden.has(c)));
        if (selected && hidden.has(selected.collection || "Other")) selected = null;
        draw();
      });
      return h("li", {}, btn);
    }),
  );
  mount(body, h("p", { class: "muted", text: `${plural(points.length, "song")} · ${plural(collections.length, "collection")}` }), frame, legend);

  // --- geometry ------------------------------------------------------------------------------
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
  let width = 0;
  let height = 0;
  let hovered = null;
  let selected = null;
  const radius = points.length > 3000 ? 2.5 : points.length > 500 ? 3.5 : 5;

  function px(p) {
    const scale = Math.min((width - 2 * PAD) / spanX, (height - 2 * PAD) / spanY);
    const offX = (width - scale * spanX) / 2;
    const offY = (height - scale * spanY) / 2;
    return [offX + (p.x - minX) * scale, height - (offY + (p.y - minY) * scale)];
  }

  function visible(p) {
    return !hidden.has(p.collection || "Other");
  }

  function draw() {
    const ctx2d = canvas.getContext("2d");
    if (!ctx2d) return;
    const dpr = window.devicePixelRatio || 1;
    ctx2d.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx2d.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const ring = style.getPropertyValue("--map-ring").trim() || "#000";
    ctx2d.globalAlpha = 0.85;
    for (const p of points) {
      if (!visible(p)) continue;
      const [x, y] = px(p);
      ctx2d.fillStyle = colorOf.get(p.collection || "Other");
      ctx2d.beginPath();
      ctx2d.arc(x, y, radius, 0, Math.PI * 2);
      ctx2d.fill();
    }
    ctx2d.globalAlpha = 1;
    for (const p of [hovered, selected]) {
      if (!p || !visible(p)) continue;
      const [x, y] = px(p);
      ctx2d.strokeStyle = ring;
      ctx2d.lineWidth = 2;
      ctx2d.beginPath();
      ctx2d.arc(x, y, radius + 4, 0, Math.PI * 2);
      ctx2d.stroke();
    }
  }

  function resize() {
    const rect = frame.getBoundingClientRect();
    width = Math.max(200, rect.width);
    height = Math.max(260, Math.min(width * 0.62, window.innerHeight * 0.7));
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.setProperty("width", `${width}px`);
    canvas.style.setProperty("height", `${height}px`);
    draw();
    if (selected) showTip(selected);
  }

  function nearest(x, y, maxDist = 12) {
    let best = null;
    let bestD = maxDist * maxDist;
    for (const p of points) {
      if (!visible(p)) continue;
      const [qx, qy] = px(p);
      const d = (qx - x) ** 2 + (qy - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = p;
      }
    }
    return best;
  }

  function showTip(p) {
    if (!p) {
      tooltip.hidden = true;
      return;
    }
    const [x, y] = px(p);
    mount(tooltip, h("strong", { text: p.title || "Unknown title" }), h("span", { text: p.collection || "Other" }));
    tooltip.hidden = false;
    const left = Math.min(Math.max(8, x + 12), width - tooltip.offsetWidth - 8);
    const top = y - tooltip.offsetHeight - 12 < 0 ? y + 14 : y - tooltip.offsetHeight - 12;
    tooltip.style.setProperty("transform", `translate(${Math.round(left)}px, ${Math.round(top)}px)`);
  }

  async function play(p) {
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

  let frameReq = 0;
  canvas.addEventListener("mousemove", (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    cancelAnimationFrame(frameReq);
    frameReq = requestAnimationFrame(() => {
      const p = nearest(x, y);
      if (p !== hovered) {
        hovered = p;
        canvas.classList.toggle("is-pointing", Boolean(p));
        draw();
        showTip(p || selected);
      }
    });
  });
  canvas.addEventListener("mouseleave", () => {
    hovered = null;
    canvas.classList.remove("is-pointing");
    draw();
    showTip(selected);
  });
  canvas.addEventListener("click", (event) => {
    const rect = canvas.getBoundingClientRect();
    const p = nearest(event.clientX - rect.left, event.clientY - rect.top);
    if (p) {
      selected = p;
      draw();
      showTip(p);
      play(p);
    }
  });

  // Arrow keys: jump to the nearest visible song in that direction.
  const DIRS = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  canvas.addEventListener("keydown", (event) => {
    if (DIRS[event.key]) {
      event.preventDefault();
      const vis = points.filter(visible);
      if (!vis.length) return;
      if (!selected) {
        selected = vis[0];
      } else {
        const [sx, sy] = px(selected);
        const [dx, dy] = DIRS[event.key];
        let best = null;
        let bestScore = Infinity;
        for (const p of vis) {
          if (p === selected) continue;
          const [x, y] = px(p);
          const along = (x - sx) * dx + (y - sy) * dy;
          if (along <= 0) continue;
          const across = Math.abs((x - sx) * dy - (y - sy) * dx);
          const score = along + 2 * across;
          if (score < bestScore) {
            bestScore = score;
            best = p;
          }
        }
        if (best) selected = best;
      }
      draw();
      showTip(selected);
    } else if ((event.key === "Enter" || event.key === " ") && selected) {
      event.preventDefault();
      play(selected);
    } else if (event.key === "Escape") {
      selected = null;
      draw();
      showTip(null);
    }
  });
  canvas.addEventListener("blur", () => {
    if (!hovered) showTip(null);
  });

  const observer = new ResizeObserver(() => resize());
  observer.observe(frame);
  ctx.onCleanup(() => observer.disconnect());
  const themeObserver = new MutationObserver(() => draw());
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  ctx.onCleanup(() => themeObserver.disconnect());
  resize();
}

// "Bring your history": upload a Last.fm / ListenBrainz / Spotify export and show what matched.
// The component is handed the upload function and what to do once plays were added.
import { formatCount, h, icon, mount } from "../dom.js";
import { describeError } from "./states.js";

const FORMATS = { lastfm: "Last.fm", listenbrainz: "ListenBrainz", spotify: "Spotify" };

function report(data) {
  const rows = [
    ["listens in the file", data.rows],
    ["matched to songs here", data.matched],
    ["new plays added", data.added],
    ["already imported", data.already_imported],
    ["skips (under 30 s)", data.skips],
    ["not found here", data.unmatched],
  ];
  return h(
    "div",
    { class: "import-report", id: "import-report", role: "status" },
    h("p", { class: "import-format", text: `${FORMATS[data.format] || data.format} export` }),
    h("dl", { class: "import-stats" }, rows.map(([label, n]) => h("div", {}, h("dt", { text: label }), h("dd", { text: formatCount(n || 0) })))),
    data.top_unmatched && data.top_unmatched.length
      ? h(
          "details",
          { class: "import-unmatched" },
          h("summary", { text: "Most played songs that matched nothing" }),
          h("ol", {}, data.top_unmatched.map((u) => h("li", { text: `${u.artist || "?"} – ${u.title || "?"} (${u.listens})` }))),
        )
      : null,
  );
}

/** upload(file) -> Promise<report>; onImported(report) after plays were added. */
export function historyImport({ upload, onImported }) {
  const input = h("input", { type: "file", id: "import-file", accept: ".csv,.json,.jsonl,.txt,text/csv,application/json", class: "visually-hidden" });
  const pick = h("button", { type: "button", class: "button", id: "import-button" }, icon("upload", 18), "Choose an export");
  const out = h("div", { class: "import-out", "aria-live": "polite" });
  let busy = false;
  pick.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file || busy) return;
    busy = true;
    pick.disabled = true;
    mount(out, h("p", { class: "muted", text: `Reading ${file.name}…` }));
    try {
      const data = await upload(file);
      mount(out, report(data));
      if (data.added && onImported) onImported(data);
    } catch (err) {
      mount(out, h("p", { class: "form-alert", role: "alert", text: describeError(err, "the import") }));
    } finally {
      busy = false;
      pick.disabled = false;
    }
  });
  return h(
    "section",
    { class: "account-card", "aria-labelledby": "import-title" },
    h("h2", { id: "import-title", text: "Bring your listening history" }),
    h("p", { text: "A Last.fm scrobble export (CSV), a ListenBrainz listens export or your Spotify streaming history (JSON). Songs found here become your plays; importing the same file again adds nothing." }),
    h("div", { class: "dropzone-actions" }, pick, input),
    out,
  );
}

// Scrobble tokens for players with a ListenBrainz plug-in: create (shown once), list, revoke.
// Handed the API functions: list(), create(name), revoke(id).
import { formatDate, h, mount } from "../dom.js";
import { describeError } from "./states.js";

export function scrobbleTokens({ list, create, revoke }) {
  const body = h("div", { class: "token-list", id: "scrobble-tokens" });
  const fresh = h("div", { class: "token-fresh", "aria-live": "polite" });
  const name = h("input", { class: "input", id: "token-name", value: "player", maxlength: "64", "aria-label": "Token name" });
  const add = h("button", { type: "button", class: "button", id: "token-create", text: "Create a token" });

  async function refresh() {
    try {
      const data = await list();
      const origin = `${window.location.origin}`;
      mount(
        body,
        h("p", { class: "muted", text: `ListenBrainz server URL for your player: ${origin} (submits to ${origin}${data.submit_url})` }),
        data.items.length
          ? h(
              "ul",
              { class: "tokens" },
              data.items.map((t) =>
                h(
                  "li",
                  {},
                  h("span", { text: `${t.name} · created ${formatDate(t.created_at)}${t.last_used_at ? ` · last used ${formatDate(t.last_used_at)}` : ""}` }),
                  h("button", {
                    type: "button",
                    class: "button button-ghost",
                    text: "Revoke",
                    "aria-label": `Revoke the token ${t.name}`,
                    on: { click: async () => { await revoke(t.id); mount(fresh); refresh(); } },
                  }),
                ),
              ),
            )
          : h("p", { class: "muted", text: "No tokens yet." }),
      );
    } catch (err) {
      mount(body, h("p", { class: "form-alert", role: "alert", text: describeError(err, "your tokens") }));
    }
  }

  add.addEventListener("click", async () => {
    try {
      const made = await create(name.value.trim() || "player");
      mount(
        fresh,
        h("p", { text: "Copy this token into your player now: it is not shown again." }),
        h("code", { class: "token-secret", id: "token-secret", text: made.token }),
      );
      refresh();
    } catch (err) {
      mount(fresh, h("p", { class: "form-alert", role: "alert", text: describeError(err, "the token") }));
    }
  });
  refresh();
  return h(
    "section",
    { class: "account-card", "aria-labelledby": "tokens-title" },
    h("h2", { id: "tokens-title", text: "Scrobble from your players" }),
    h("p", { text: "Players with a ListenBrainz plug-in can send what you play to this server: point the plug-in here and give it a token." }),
    h("div", { class: "dropzone-actions" }, name, add),
    fresh,
    body,
  );
}

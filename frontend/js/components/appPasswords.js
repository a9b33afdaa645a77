// App passwords (and API keys) for Subsonic apps on phones and desktops: create (shown once), list, revoke.
// Handed the API functions: list(), create(name, kind), revoke(id); and the username apps log in with.
import { formatDate, h, mount } from "../dom.js";
import { describeError } from "./states.js";

const KIND_LABEL = { password: "app password", api_key: "API key" };

export function appPasswords({ username, list, create, revoke }) {
  const body = h("div", { class: "token-list", id: "app-passwords" });
  const fresh = h("div", { class: "token-fresh", "aria-live": "polite" });
  const name = h("input", { class: "input", id: "app-password-name", value: "phone", maxlength: "64", "aria-label": "Which app or device" });
  const kind = h(
    "select",
    { class: "input", id: "app-password-kind", "aria-label": "Kind" },
    h("option", { value: "password", text: "App password" }),
    h("option", { value: "api_key", text: "API key (OpenSubsonic)" }),
  );
  const add = h("button", { type: "button", class: "button", id: "app-password-create", text: "Create" });

  async function refresh() {
    try {
      const data = await list();
      mount(
        body,
        data.items.length
          ? h(
              "ul",
              { class: "tokens" },
              data.items.map((c) =>
                h(
                  "li",
                  {},
                  h("span", {
                    text: `${c.name} · ${KIND_LABEL[c.kind] || c.kind} · created ${formatDate(c.created_at)}${c.last_used_at ? ` · last used ${formatDate(c.last_used_at)}` : " · not used yet"}`,
                  }),
                  h("button", {
                    type: "button",
                    class: "button button-ghost",
                    text: "Revoke",
                    "aria-label": `Revoke the ${KIND_LABEL[c.kind] || "credential"} ${c.name}`,
                    on: { click: async () => { await revoke(c.id); mount(fresh); refresh(); } },
                  }),
                ),
              ),
            )
          : h("p", { class: "muted", text: "No app passwords yet." }),
      );
    } catch (err) {
      mount(body, h("p", { class: "form-alert", role: "alert", text: describeError(err, "your app passwords") }));
    }
  }

  add.addEventListener("click", async () => {
    try {
      const made = await create(name.value.trim() || "phone", kind.value);
      mount(
        fresh,
        h("p", { text: `Type this ${KIND_LABEL[made.kind]} into the app now: it is not shown again.` }),
        h("code", { class: "token-secret", id: "app-password-secret", text: made.secret }),
      );
      refresh();
    } catch (err) {
      mount(fresh, h("p", { class: "form-alert", role: "alert", text: describeError(err, "the app password") }));
    }
  });
  refresh();
  return h(
    "section",
    { class: "account-card", "aria-labelledby": "apps-title" },
    h("h2", { id: "apps-title", text: "Listen from your phone" }),
    h("p", {
      text: "Subsonic apps (Symfonium, DSub, Ultrasonic, Substreamer, Amperfy, Tempo, Feishin, Supersonic) play your music and its mixes from this server.",
    }),
    h(
      "dl",
      { class: "app-settings" },
      h("dt", { text: "Server" }),
      h("dd", {}, h("code", { id: "app-server-url", text: window.location.origin })),
      h("dt", { text: "Username" }),
      h("dd", {}, h("code", { text: username })),
      h("dt", { text: "Password" }),
      h("dd", { text: "an app password made here (your account password stays on this page)" }),
    ),
    h("div", { class: "dropzone-actions" }, name, kind, add),
    fresh,
    body,
  );
}

// Your account: who you are and your totals, a new password, and deleting the account with its data.
import { ApiError, auth, me as meApi } from "../api.js";
import { formatCount, formatDate, h, mount } from "../dom.js";
import { field, formAlert } from "../components/form.js";
import { historyImport } from "../components/historyImport.js";
import { exclusionsEditor } from "../components/exclusions.js";
import { appPasswords } from "../components/appPasswords.js";
import { scrobbleTokens } from "../components/scrobbleTokens.js";
import { describeError } from "../components/states.js";
import { toast } from "../components/toast.js";
import { emit } from "../events.js";
import * as session from "../session.js";

function tooManyTries(err) {
  const wait = err.retryAfter ? ` Try again in ${Math.ceil(err.retryAfter)} s.` : "";
  return `Too many wrong passwords.${wait}`;
}

/** Show an API error on the form: a field's own message, else one line above the form. */
function showError(err, fields, alert) {
  if (!(err instanceof ApiError)) {
    alert.show(describeError(err, "your account"));
    return;
  }
  const messages = err.fieldErrors();
  let shown = false;
  for (const [name, f] of Object.entries(fields)) {
    if (err.code === "wrong_password" && err.details && err.details.field === name) {
      f.setError(name === "current_password" ? "This is not your current password." : "This is not your password.");
      shown = true;
    } else if (messages[name]) {
      f.setError(messages[name]);
      shown = true;
    }
  }
  if (err.status === 429) alert.show(tooManyTries(err));
  else if (!shown) alert.show(describeError(err, "your account"));
}

function focusFirstProblem(form, alert) {
  const bad = form.querySelector("[aria-invalid='true']");
  if (bad) bad.focus();
  else if (!alert.el.hidden) {
    alert.el.setAttribute("tabindex", "-1");
    alert.el.focus();
  }
}

function passwordForm() {
  const current = field({ name: "current_password", label: "Current password", type: "password", autocomplete: "current-password" });
  const next = field({ name: "new_password", label: "New password", type: "password", autocomplete: "new-password", hint: "At least 8 characters." });
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "button", text: "Change password" });
  const form = h("form", { class: "account-form", novalidate: true, "aria-labelledby": "password-title" }, alert.el, current.el, next.el, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    current.setError("");
    next.setError("");
    alert.show("");
    if (!current.input.value) current.setError("Enter your current password.");
    if (next.input.value.length < 8) next.setError("Use at least 8 characters.");
    if (form.querySelector("[aria-invalid='true']")) {
      focusFirstProblem(form, alert);
      return;
    }
    submit.disabled = true;
    try {
      await auth.changePassword(current.input.value, next.input.value);
      current.input.value = "";
      next.input.value = "";
      toast("Password changed. Your other sessions were logged out.", "ok");
    } catch (err) {
      showError(err, { current_password: current, new_password: next }, alert);
      focusFirstProblem(form, alert);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function deleteForm(ctx) {
  const password = field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" });
  const alert = formAlert();
  const confirm = h("input", { type: "checkbox", id: "delete-confirm" });
  const submit = h("button", { type: "submit", class: "button button-danger", text: "Delete my account", disabled: true });
  confirm.addEventListener("change", () => {
    submit.disabled = !confirm.checked;
  });
  const form = h(
    "form",
    { class: "account-form", novalidate: true, "aria-labelledby": "delete-title" },
    alert.el,
    password.el,
    h("p", { class: "check" }, confirm, h("label", { for: "delete-confirm", text: " I understand that my history, ratings and likes are deleted for good." })),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    password.setError("");
    alert.show("");
    if (!confirm.checked) return;
    if (!password.input.value) {
      password.setError("Enter your password.");
      password.input.focus();
      return;
    }
    submit.disabled = true;
    try {
      await auth.deleteAccount(password.input.value);
      session.setUser(null);
      toast("Your account and its data were deleted.", "ok");
      ctx.navigate("home");
    } catch (err) {
      showError(err, { password }, alert);
      focusFirstProblem(form, alert);
      submit.disabled = !confirm.checked;
    }
  });
  return form;
}

export async function render(root, ctx) {
  ctx.setTitle("Your account");
  let me;
  try {
    me = await auth.me();
  } catch (err) {
    mount(root, h("div", { class: "state state-error", role: "alert" }, h("p", { class: "state-title", text: describeError(err, "your account") })));
    return;
  }
  if (!ctx.isActive()) return;
  const s = me.stats || {};
  const totals = [
    ["plays", s.plays],
    ["songs played", s.songs_played],
    ["ratings", s.ratings],
    ["likes", s.likes],
  ];
  const stats = h("dl", { class: "account-stats" }, totals.map(([label, n]) => h("div", {}, h("dt", { text: label }), h("dd", { text: formatCount(n || 0) }))));
  // After an import: say how many plays came in and show the new totals.
  const onImported = async (report) => {
    toast(`${formatCount(report.added)} plays added to your history.`, "info");
    emit("listening-changed", { what: "import" });
    const fresh = (await auth.me()).stats || {};
    const now = [fresh.plays, fresh.songs_played, fresh.ratings, fresh.likes];
    stats.querySelectorAll("dd").forEach((dd, i) => (dd.textContent = formatCount(now[i] || 0)));
  };
  mount(
    root,
    h(
      "section",
      { class: "account-page" },
      h("h1", { text: "Your account" }),
      h("p", { class: "muted", text: `${me.username}${me.is_admin ? " (administrator)" : ""} · member since ${formatDate(me.created_at)}` }),
      stats,
      historyImport({ upload: meApi.importHistory, onImported }),
      exclusionsEditor({ list: meApi.exclusions, save: meApi.setExclusions }),
      appPasswords({
        username: me.username,
        list: meApi.appCredentials,
        create: meApi.createAppCredential,
        revoke: meApi.revokeAppCredential,
      }),
      scrobbleTokens({ list: meApi.scrobbleTokens, create: meApi.createScrobbleToken, revoke: meApi.revokeScrobbleToken }),
      h("section", { class: "account-card" }, h("h2", { id: "password-title", text: "Change your password" }), passwordForm()),
      h(
        "section",
        { class: "account-card account-danger" },
        h("h2", { id: "delete-title", text: "Delete your account" }),
        h("p", { text: "This removes the account, your listening history, ratings and likes. It cannot be undone." }),
        deleteForm(ctx),
      ),
    ),
  );
}

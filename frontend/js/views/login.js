// Log in / create an account, with the API's field messages shown under each field.
import { ApiError, auth } from "../api.js";
import { h, mount } from "../dom.js";
import { field } from "../components/form.js";
import * as session from "../session.js";
import { toast } from "../components/toast.js";

export async function render(root, ctx) {
  const registering = ctx.params.mode === "register" || ctx.query.get("mode") === "register";
  const next = ctx.query.get("next") || "home";
  ctx.setTitle(registering ? "Create an account" : "Log in");
  if (session.user()) {
    mount(
      root,
      h(
        "section",
        { class: "auth-card" },
        h("h1", { text: `You are logged in as ${session.user().username}` }),
        h("p", {}, h("a", { class: "button", href: "#/home", text: "Go to your recommendations" })),
      ),
    );
    return;
  }

  const username = field({
    name: "username",
    label: "Username",
    type: "text",
    autocomplete: "username",
    hint: registering ? "3–32 characters: letters, digits, _ . -" : null,
  });
  const password = field({
    name: "password",
    label: "Password",
    type: "password",
    autocomplete: registering ? "new-password" : "current-password",
    hint: registering ? "At least 8 characters." : null,
  });
  const formError = h("div", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "button button-wide", text: registering ? "Create account" : "Log in" });
  const form = h(
    "form",
    { class: "auth-form", novalidate: true },
    formError,
    username.el,
    password.el,
    submit,
  );

  function showFormError(message) {
    formError.textContent = message || "";
    formError.hidden = !message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    username.setError("");
    password.setError("");
    showFormError("");
    const u = username.input.value.trim();
    const p = password.input.value;
    let invalid = false;
    if (!u) {
      username.setError("Enter a username.");
      invalid = true;
    }
    if (!p) {
      password.setError("Enter a password.");
      invalid = true;
    }
    if (invalid) {
      (u ? password.input : username.input).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = registering ? "Creating account…" : "Logging in…";
    try {
      const result = registering ? await auth.register(u, p) : await auth.login(u, p);
      session.setUser(result.user);
      await session.refresh();
      toast(registering ? `Welcome, ${result.user.username}!` : `Welcome back, ${result.user.username}.`, "ok");
      ctx.navigate(next.startsWith("login") || next.startsWith("register") ? "home" : next);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const fields = err.fieldErrors();
      if (fields.username) username.setError(fields.username);
      if (fields.password) password.setError(fields.password);
      if (err.code === "invalid_credentials") showFormError("Wrong username or password.");
      else if (err.status === 429) {
        const wait = err.retryAfter ? ` Try again in ${Math.ceil(err.retryAfter)} s.` : "";
        showFormError(`Too many failed attempts.${wait}`);
      } else if (!fields.username && !fields.password) showFormError(err.message);
      const firstBad = form.querySelector("[aria-invalid='true']");
      if (!firstBad) formError.setAttribute("tabindex", "-1");
      (firstBad || formError).focus();
    } finally {
      submit.disabled = false;
      submit.textContent = registering ? "Create account" : "Log in";
    }
  });

  mount(
    root,
    h(
      "section",
      { class: "auth-card" },
      h("div", { class: "auth-hero", "aria-hidden": "true" }, h("img", { src: "img/logo.svg", alt: "", width: "48", height: "48" })),
      h("h1", { text: registering ? "Create your account" : "Log in to Musicrec" }),
      h("p", { class: "muted", text: "Recommendations from what people listen to and from how songs sound." }),
      h(
        "div",
        { class: "tabs", role: "group", "aria-label": "Account" },
        h("a", { class: ["tab", !registering && "is-active"], href: `#/login${next !== "home" ? `?next=${encodeURIComponent(next)}` : ""}`, "aria-current": !registering ? "page" : false, text: "Log in" }),
        h("a", { class: ["tab", registering && "is-active"], href: `#/register${next !== "home" ? `?next=${encodeURIComponent(next)}` : ""}`, "aria-current": registering ? "page" : false, text: "Create account" }),
      ),
      form,
    ),
  );
  username.input.focus();
}

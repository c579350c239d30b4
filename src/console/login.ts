/// <reference lib="dom" />
/**
 * The sign-in form, shown over the page when the node answers 401: a user name and password
 * (sent as HTTP Basic) or an API token (sent as `Bearer`). The node's reason is shown above it.
 * @module
 */
import type { Credentials } from "./credentials.ts";
import { h, replace } from "./dom.ts";
import { logo } from "./logo.ts";

/** Shows the form; resolves with the credentials the user submits. */
export function askForCredentials(reason: string): Promise<Credentials> {
  return new Promise((resolve) => {
    let mode: "password" | "token" = "password";
    const user = h("input", {
      class: "input",
      name: "username",
      autocomplete: "username",
      required: true,
      "aria-label": "User name",
    });
    const password = h("input", {
      class: "input",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      "aria-label": "Password",
    });
    const token = h("input", {
      class: "input mono",
      name: "token",
      type: "password",
      autocomplete: "off",
      "aria-label": "API token",
    });
    const fields = h("div", { class: "login-fields" });
    const switcher = h("div", { class: "tabs" });
    const showMode = () => {
      replace(
        switcher,
        (["password", "token"] as const).map((m) =>
          h("button", {
            type: "button",
            class: m === mode ? "tab active" : "tab",
            "data-mode": m,
            onclick: () => {
              mode = m;
              showMode();
            },
          }, m === "password" ? "Password" : "API token")
        ),
      );
      user.required = mode === "password";
      token.required = mode === "token";
      replace(
        fields,
        mode === "password"
          ? [h("label", null, "User", user), h("label", null, "Password", password)]
          : h("label", null, "Token", token),
      );
      (mode === "password" ? user : token).focus();
    };
    const overlay = h(
      "div",
      { class: "login-overlay", role: "dialog", "aria-modal": "true", "aria-label": "Sign in" },
      h(
        "form",
        {
          class: "login panel",
          onsubmit: (event: Event) => {
            event.preventDefault();
            overlay.remove();
            resolve(
              mode === "password"
                ? { kind: "password", user: user.value, password: password.value }
                : { kind: "token", token: token.value.trim() },
            );
          },
        },
        h("div", { class: "login-brand" }, logo(), h("span", null, "EpochNexus")),
        h("h2", null, "Sign in"),
        h("div", { class: "login-reason", role: "alert" }, reason),
        switcher,
        fields,
        h("button", { class: "button primary wide", type: "submit" }, "Sign in"),
      ),
    );
    document.body.appendChild(overlay);
    showMode();
  });
}

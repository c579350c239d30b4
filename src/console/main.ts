/// <reference lib="dom" />
/**
 * The web console's entry point (bundled into `console/app.<hash>.js` by
 * `scripts/build_console.ts`): the header with its views (query, activity, schemas, cluster),
 * the light and dark themes, and the sign-in prompt. Views are addressed by the URL's hash
 * (`#/query?db=&q=&range=`, `#/activity`, `#/schemas`, `#/cluster`).
 * @module
 */
import { createActivityView } from "./activity_view.ts";
import { Api } from "./api.ts";
import { createClusterView } from "./cluster_view.ts";
import { credentialsLabel } from "./credentials.ts";
import { h, icon, ICONS, replace } from "./dom.ts";
import { askForCredentials } from "./login.ts";
import { logo } from "./logo.ts";
import { createQueryView } from "./query_view.ts";
import { createSchemasView } from "./schemas_view.ts";

type ViewName = "query" | "activity" | "schemas" | "cluster";
const VIEWS: [ViewName, string][] = [
  ["query", "Query"],
  ["activity", "Activity"],
  ["schemas", "Schemas"],
  ["cluster", "Cluster"],
];
const THEME_KEY = "epochnexus.console.theme";

function start(root: HTMLElement) {
  const api = new Api(askForCredentials);
  let databases: string[] = [];

  // Theme: the stored choice, else the system's.
  const systemDark = matchMedia("(prefers-color-scheme: dark)").matches;
  const theme = () => document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  document.documentElement.dataset.theme = localStorage.getItem(THEME_KEY) ??
    (systemDark ? "dark" : "light");

  const refreshDatabases = async () => {
    try {
      databases = (await api.show("SHOW DATABASES", "")).map(([name]) => String(name));
    } catch (error) {
      console.warn("cannot list databases", error);
    }
    query.setDatabases(databases);
  };
  const query = createQueryView(api, () => void refreshDatabases());
  const activity = createActivityView(api);
  const schemas = createSchemasView(api, () => ({ names: databases, current: query.database }));
  const cluster = createClusterView(api);
  const elements: Record<ViewName, HTMLElement> = {
    query: query.element,
    activity: activity.element,
    schemas: schemas.element,
    cluster: cluster.element,
  };

  const nodeLabel = h("span", { class: "node-label muted" });
  const userSlot = h("span", { class: "user-slot" });
  const themeButton = h("button", {
    class: "button icon-button",
    type: "button",
    title: "Switch between light and dark",
    "aria-label": "Switch between light and dark",
    "data-action": "theme",
    onclick: () => {
      const next = theme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      localStorage.setItem(THEME_KEY, next);
      renderThemeButton();
      // Charts take their colours when drawn: the visible view now, the query view's on return.
      queryChartStale = current !== "query";
      if (current === "query") query.redraw();
      if (current === "activity") activity.show();
    },
  });
  const renderThemeButton = () =>
    replace(themeButton, icon(theme() === "dark" ? ICONS.sun : ICONS.moon));
  renderThemeButton();

  const nav = h("nav", { class: "nav", "aria-label": "Views" });
  const main = h("main", { class: "content" });
  replace(
    root,
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/query" }, logo(), h("span", null, "EpochNexus")),
      nav,
      h("span", { class: "spacer" }),
      nodeLabel,
      userSlot,
      themeButton,
    ),
    main,
  );

  let current: ViewName | undefined;
  let queryChartStale = false;
  const route = () => {
    const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
    const name = (VIEWS.find(([v]) => v === path)?.[0] ?? "query") as ViewName;
    if (name !== current) {
      if (current === "activity") activity.hide();
      current = name;
      replace(main, elements[name]);
      replace(
        nav,
        VIEWS.map(([v, label]) =>
          h("a", {
            href: `#/${v}`,
            class: v === name ? "nav-link active" : "nav-link",
            "aria-current": v === name ? "page" : undefined,
            "data-view": v,
          }, label)
        ),
      );
      document.title = `${VIEWS.find(([v]) => v === name)![1]} · EpochNexus`;
      if (name === "query" && queryChartStale) {
        queryChartStale = false;
        query.redraw();
      }
      if (name === "activity") activity.show();
      if (name === "schemas") void schemas.show();
      if (name === "cluster") void cluster.show();
    }
    return new URLSearchParams(search);
  };
  addEventListener("hashchange", () => void route());

  const showIdentity = async () => {
    const who = api.credentials;
    replace(
      userSlot,
      who && [
        h("span", { class: "user-chip" }, credentialsLabel(who)),
        h("button", {
          class: "button icon-button",
          type: "button",
          title: "Sign out",
          "aria-label": "Sign out",
          onclick: () => {
            api.signOut();
            location.reload();
          },
        }, icon(ICONS.logout)),
      ],
    );
    try {
      const status = await api.getJson<{ nodeId: number }>("api/v1/cluster");
      replace(
        nodeLabel,
        status ? `node #${status.nodeId} · ${location.host}` : location.host,
        api.version && ` · v${api.version}`,
      );
    } catch {
      replace(nodeLabel, location.host);
    }
  };

  const params = route();
  // A link's query runs at once, beside the database list (a sign-in prompt serves both).
  if (current === "query") query.openLink(params);
  void refreshDatabases().then(showIdentity);
}

start(document.getElementById("app")!);

// Search options: filters (from, to, subject, body, dates, unread, flagged, attachment)
// and where to search (this folder or all folders). Kept in memory only; the terms go to
// the server as the query of GET /api/search and nowhere else.

import { t } from "./i18n.js";
import { $, h } from "./util.js";

const TEXT_FIELDS = [
  ["from", "search.from"],
  ["to", "search.to"],
  ["subject", "search.subject"],
  ["body", "search.body"],
];
const CHECKS = [
  ["unread", "search.unread"],
  ["flagged", "search.flagged"],
  ["attachment", "search.attachment"],
];

/** The filters in effect ({} for none) and whether they cover all folders. */
export const searchOptions = { filters: {}, everywhere: false };

export function hasOptions() {
  return searchOptions.everywhere || Object.keys(searchOptions.filters).length > 0;
}

/** Query parameters of GET /api/search for the open folder `mailboxId` and text `q`. */
export function searchParams(mailboxId, q) {
  const params = new URLSearchParams(searchOptions.filters);
  if (q) params.set("q", q);
  if (!searchOptions.everywhere) params.set("mailbox", mailboxId);
  return params;
}

export function clearOptions() {
  searchOptions.filters = {};
  searchOptions.everywhere = false;
  const form = $("#search-options");
  if (form) {
    form.reset();
    form.hidden = true;
  }
  $("#search-options-toggle")?.setAttribute("aria-expanded", "false");
}

/** The toggle and the panel; `onApply()` runs after the options change. */
export function buildSearchOptions(onApply) {
  const field = (name, key, type = "text") => {
    const id = `search-opt-${name}`;
    return h(
      "div",
      { class: "field" },
      h("label", { for: id, text: t(key) }),
      h("input", { id, name, type, autocomplete: "off", "data-testid": id, dir: type === "text" ? "auto" : null }),
    );
  };
  const check = (name, key) =>
    h(
      "label",
      { class: "prefs-choice" },
      h("input", { type: "checkbox", name, "data-testid": `search-opt-${name}` }),
      ` ${t(key)}`,
    );
  const panel = h(
    "form",
    {
      id: "search-options",
      class: "search-options",
      hidden: true,
      "aria-label": t("search.options"),
      "data-testid": "search-options",
    },
    ...TEXT_FIELDS.map(([name, key]) => field(name, key)),
    h("div", { class: "search-dates" }, field("since", "search.since", "date"), field("until", "search.until", "date")),
    h("div", { class: "search-checks" }, ...CHECKS.map(([name, key]) => check(name, key))),
    h(
      "div",
      { class: "field" },
      h("label", { for: "search-opt-scope", text: t("search.scope") }),
      h(
        "select",
        { id: "search-opt-scope", name: "scope", "data-testid": "search-opt-scope" },
        h("option", { value: "folder", text: t("search.thisFolder") }),
        h("option", { value: "all", text: t("search.allFolders") }),
      ),
    ),
    h(
      "div",
      { class: "compose-actions" },
      h("button", { type: "submit", class: "btn btn-primary", "data-testid": "search-apply", text: t("search.apply") }),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-testid": "search-clear",
        text: t("search.clear"),
        onclick: () => {
          clearOptions();
          onApply();
          toggle.focus();
        },
      }),
    ),
  );
  panel.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(panel);
    const filters = {};
    for (const [name] of TEXT_FIELDS) {
      const value = String(data.get(name) || "").trim();
      if (value) filters[name] = value;
    }
    for (const name of ["since", "until"]) {
      const value = String(data.get(name) || "");
      if (value) filters[name] = value;
    }
    for (const [name] of CHECKS) if (data.get(name)) filters[name] = "true";
    searchOptions.filters = filters;
    searchOptions.everywhere = data.get("scope") === "all";
    onApply();
  });
  const toggle = h("button", {
    id: "search-options-toggle",
    type: "button",
    class: "btn btn-ghost",
    "aria-expanded": "false",
    "aria-controls": "search-options",
    "data-testid": "search-options-toggle",
    text: t("search.options"),
    onclick: () => {
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) $("#search-opt-from")?.focus();
    },
  });
  return { toggle, panel };
}

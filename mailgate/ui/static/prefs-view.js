// The preferences screen: a form over GET/PUT/DELETE /api/preferences, the list of
// senders whose remote images always load, export (a JSON download) and delete.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { erasePrefs, loadPrefs, remoteSenders, setRemoteSenders, updatePrefs } from "./prefs.js";
import { announce, DEFAULT_PAGE_SIZE, pageSize, reportError, state } from "./state.js";
import {
  browserTimeZone,
  LANGUAGES,
  language,
  languageName,
  matchLanguage,
  setLanguage,
  setTimeZone,
  t,
  timeZones,
} from "./i18n.js";
import { identitiesSection } from "./identities.js";
import { sieveSection } from "./sieve-view.js";
import { $, downloadJson, fullDate, h } from "./util.js";

const PAGE_SIZES = [10, 20, 25, 50, 100, 200];
const THEMES = [
  ["system", () => t("prefs.themeSystem")],
  ["light", () => t("prefs.themeLight")],
  ["dark", () => t("prefs.themeDark")],
];
const EXPORT_NAME = "mailgate-preferences.json";

let hooks = {
  onClose: () => {},
  onPageSize: () => {},
  onTimeZone: () => {},
  onListView: () => {},
};
let form = null; // {fields, initial} of the open screen

const view = () => $("#prefs-view");

/** onClose() restores the panes and focus; onPageSize() reloads the list. */
export function initPrefsView(fns) {
  hooks = { ...hooks, ...fns };
}

function snapshot() {
  const f = form.fields;
  return JSON.stringify([
    f.pageSize.value,
    f.listView.value,
    f.composeFormat.value,
    themeValue(),
    f.language.value,
    f.timeZone.value,
    f.displayName.value,
    f.signature.value,
  ]);
}

const themeValue = () => form.fields.themes.find((r) => r.checked)?.value || "system";
const isDirty = () => form !== null && snapshot() !== form.initial;

/** Show the screen (loading the stored preferences first). */
export async function openPrefs() {
  if (state.prefsOpen) return;
  state.prefsOpen = true;
  const v = view();
  $("#panes").hidden = true;
  v.hidden = false;
  v.replaceChildren(
    h("div", { class: "reader-empty", "aria-busy": "true" }, h("p", { text: t("status.loading") })),
  );
  try {
    await loadPrefs();
  } catch (err) {
    // Show what this page knows; saving says so if the store is still unavailable.
    reportError(err, t("prefs.loadFailed"));
  }
  if (!state.prefsOpen) return;
  render();
  $("#prefs-title")?.focus();
}

/** Leave the screen. confirm: ask before dropping unsaved edits. Resolves false = stayed. */
export async function closePrefs({ confirm = false } = {}) {
  if (!state.prefsOpen) return true;
  if (confirm && isDirty()) {
    const discard = await confirmDialog({
      title: t("prefs.confirmDiscard"),
      confirmLabel: t("dialog.discard"),
      cancelLabel: t("dialog.keepEditing"),
      danger: true,
    });
    if (!discard || !state.prefsOpen) return false;
  }
  state.prefsOpen = false;
  form = null;
  const v = view();
  if (v) {
    v.replaceChildren();
    v.hidden = true;
  }
  const panes = $("#panes");
  if (panes) panes.hidden = false;
  hooks.onClose();
  return true;
}

function fieldRow(id, label, control, hint = null) {
  const hintEl = hint ? h("p", { id: `${id}-hint`, class: "prefs-hint", text: hint }) : null;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "prefs-field" }, h("label", { for: id, text: label }), control, hintEl);
}

function pageSizeSelect(current) {
  const sizes = PAGE_SIZES.includes(current)
    ? PAGE_SIZES
    : [...PAGE_SIZES, current].sort((a, b) => a - b);
  return h(
    "select",
    { id: "prefs-page-size", name: "page_size", "data-testid": "prefs-page-size" },
    sizes.map((n) => h("option", { value: String(n), selected: n === current, text: String(n) })),
  );
}

function listViewSelect(current) {
  return h(
    "select",
    { id: "prefs-list-view", name: "list_view", "data-testid": "prefs-list-view" },
    h("option", {
      value: "messages",
      selected: current !== "conversations",
      text: t("conv.messages"),
    }),
    h("option", {
      value: "conversations",
      selected: current === "conversations",
      text: t("conv.conversations"),
    }),
  );
}

function composeFormatSelect(current) {
  return h(
    "select",
    { id: "prefs-compose-format", name: "compose_format", "data-testid": "prefs-compose-format" },
    h("option", { value: "text", selected: current !== "html", text: t("prefs.composeText") }),
    h("option", { value: "html", selected: current === "html", text: t("prefs.composeHtml") }),
  );
}

function themeGroup(current) {
  const radios = THEMES.map(([value]) =>
    h("input", {
      type: "radio",
      name: "theme",
      id: `prefs-theme-${value}`,
      value,
      checked: value === current,
      "data-testid": `prefs-theme-${value}`,
    }),
  );
  const group = h(
    "fieldset",
    { class: "prefs-themes" },
    h("legend", { text: t("prefs.theme") }),
    THEMES.map(([value, label], i) =>
      h("label", { class: "prefs-choice", for: `prefs-theme-${value}` }, radios[i], label()),
    ),
  );
  return { group, radios };
}

/** Each language in its own name; the chosen one is the saved one, else the one shown. */
function languageSelect(current) {
  return h(
    "select",
    { id: "prefs-language", name: "language", "data-testid": "prefs-language" },
    LANGUAGES.map((lang) =>
      h("option", { value: lang, lang, selected: lang === current, text: languageName(lang) }),
    ),
  );
}

/** "" is this device's zone (the default), else an IANA name the browser knows. */
function timeZoneSelect(current) {
  const zones = timeZones();
  if (current && !zones.includes(current)) zones.unshift(current);
  return h(
    "select",
    { id: "prefs-time-zone", name: "time_zone", "data-testid": "prefs-time-zone" },
    h("option", {
      value: "",
      selected: !current,
      text: t("prefs.timeZoneDevice", { zone: browserTimeZone() }),
    }),
    // IANA names are identifiers, the same in every language.
    zones.map((zone) =>
      h("option", { value: zone, selected: zone === current, translate: "no", text: zone }),
    ),
  );
}

function retentionText() {
  const until = state.prefsRetainedUntil ? fullDate(state.prefsRetainedUntil) : "";
  if (until) return t("prefs.retentionUntil", { date: until });
  const days = Math.ceil(Number(state.prefsRetentionDays));
  // Nothing stored yet: say the period, not a vague "a while".
  return days > 0 ? t("prefs.retentionDays", { count: days }) : t("prefs.retention");
}

function render() {
  const p = state.prefs;
  const current = pageSize();
  const theme = ["light", "dark", "system"].includes(p.theme) ? p.theme : "system";
  const pageSizeEl = pageSizeSelect(current);
  const listViewEl = listViewSelect(p.list_view);
  const composeFormatEl = composeFormatSelect(p.compose_format);
  const themes = themeGroup(theme);
  const languageEl = languageSelect(matchLanguage(p.language) || language());
  const zone = typeof p.time_zone === "string" ? p.time_zone : "";
  const timeZoneEl = timeZoneSelect(zone);
  const displayName = h("input", {
    id: "prefs-display-name",
    name: "display_name",
    type: "text",
    maxlength: "100",
    autocomplete: "name",
    value: typeof p.display_name === "string" ? p.display_name : "",
    "data-testid": "prefs-display-name",
    dir: "auto",
  });
  const signature = h("textarea", {
    id: "prefs-signature",
    name: "signature",
    rows: "4",
    maxlength: "2000",
    "data-testid": "prefs-signature",
    dir: "auto",
  });
  signature.value = typeof p.signature === "string" ? p.signature : "";
  const error = h("p", {
    class: "form-error",
    role: "alert",
    "data-testid": "prefs-error",
    hidden: true,
  });
  const saveBtn = h("button", {
    type: "submit",
    class: "btn btn-primary",
    "data-testid": "prefs-save",
    text: t("prefs.save"),
  });
  const closeBtn = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "prefs-close",
    text: t("prefs.close"),
    onclick: () => closePrefs({ confirm: true }),
  });
  form = {
    fields: {
      pageSize: pageSizeEl,
      listView: listViewEl,
      composeFormat: composeFormatEl,
      themes: themes.radios,
      language: languageEl,
      timeZone: timeZoneEl,
      displayName,
      signature,
    },
    initial: "",
  };
  form.initial = snapshot();
  const formEl = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "prefs-title", novalidate: true },
    error,
    fieldRow("prefs-language", t("prefs.language"), languageEl),
    fieldRow("prefs-time-zone", t("prefs.timeZone"), timeZoneEl, t("prefs.timeZoneHint")),
    fieldRow("prefs-page-size", t("prefs.pageSize"), pageSizeEl),
    fieldRow("prefs-list-view", t("prefs.listView"), listViewEl),
    fieldRow("prefs-compose-format", t("prefs.composeFormat"), composeFormatEl),
    themes.group,
    fieldRow("prefs-display-name", t("prefs.displayName"), displayName, t("prefs.displayNameHint")),
    fieldRow("prefs-signature", t("prefs.signature"), signature, t("prefs.signatureHint")),
    h("div", { class: "prefs-actions" }, saveBtn, closeBtn),
  );
  formEl.addEventListener("submit", (e) => {
    e.preventDefault();
    save(error, saveBtn);
  });
  view().replaceChildren(
    h(
      "div",
      { class: "prefs", "data-testid": "prefs-view", onkeydown: onKeyDown },
      h(
        "div",
        { class: "pane-head" },
        h("h2", {
          id: "prefs-title",
          class: "pane-title",
          tabindex: "-1",
          text: t("shell.settings"),
        }),
      ),
      h("p", { class: "prefs-intro", "data-testid": "prefs-retention", text: retentionText() }),
      formEl,
      identitiesSection(),
      sendersSection(),
      sieveSection(render),
      dataSection(),
    ),
  );
}

/** Escape leaves the screen from anywhere in it (asking first about unsaved edits). */
function onKeyDown(e) {
  if (e.key !== "Escape" || e.defaultPrevented) return;
  e.preventDefault();
  closePrefs({ confirm: true });
}

async function save(error, button) {
  if (button.disabled) return;
  error.hidden = true;
  const f = form.fields;
  const before = pageSize();
  const viewBefore = state.prefs.list_view === "conversations" ? "conversations" : "messages";
  const zoneBefore = typeof state.prefs.time_zone === "string" ? state.prefs.time_zone : "";
  const values = {
    page_size: Number(f.pageSize.value) || DEFAULT_PAGE_SIZE,
    theme: themeValue(),
    // The message list is the default: only the other choice is stored.
    list_view: f.listView.value === "conversations" ? "conversations" : "",
    // Plain text is the default: only the HTML choice is stored.
    compose_format: f.composeFormat.value === "html" ? "html" : "",
    // Unset means "the browser's language"; it stays unset until another one is picked.
    language:
      !matchLanguage(state.prefs.language) && f.language.value === language()
        ? ""
        : f.language.value,
    time_zone: f.timeZone.value,
    display_name: f.displayName.value.trim(),
    signature: f.signature.value,
  };
  button.disabled = true;
  try {
    await updatePrefs((prefs) => {
      for (const [key, value] of Object.entries(values)) {
        // An emptied text field is dropped, not stored as "".
        if (value === "") delete prefs[key];
        else prefs[key] = value;
      }
    });
    if (form) form.initial = snapshot();
    setTimeZone(state.prefs.time_zone);
    if (f.language.value !== language()) {
      // Everything is drawn again in the new language (this screen too).
      await setLanguage(f.language.value);
    } else if (values.time_zone !== zoneBefore) {
      hooks.onTimeZone();
    }
    const retention = $('[data-testid="prefs-retention"]');
    if (retention) retention.textContent = retentionText();
    announce(t("prefs.saved"));
    const viewNow = state.prefs.list_view === "conversations" ? "conversations" : "messages";
    if (viewNow !== viewBefore) hooks.onListView(viewNow);
    else if (pageSize() !== before) hooks.onPageSize();
  } catch (err) {
    if (api.isAborted(err)) return;
    // The server's message names the field (prefs/schema.py).
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function sendersSection() {
  const list = h("ul", { id: "prefs-senders", class: "prefs-senders" });
  const section = h(
    "section",
    { class: "prefs-section", "aria-labelledby": "prefs-senders-title" },
    h("h3", { id: "prefs-senders-title", text: t("prefs.senders") }),
    h("p", { class: "prefs-hint", text: t("prefs.sendersHint") }),
    list,
  );
  renderSenders(list);
  return section;
}

function renderSenders(list) {
  const senders = remoteSenders();
  if (!senders.length) {
    list.replaceChildren(
      h("li", {
        class: "prefs-empty",
        "data-testid": "prefs-senders-empty",
        text: t("prefs.sendersEmpty"),
      }),
    );
    return;
  }
  list.replaceChildren(
    ...senders.map((sender) =>
      h(
        "li",
        { class: "prefs-sender", "data-testid": "prefs-sender", "data-sender": sender },
        h("bdi", { class: "prefs-sender-name", translate: "no", text: sender }),
        h("button", {
          type: "button",
          class: "btn btn-small",
          "data-testid": "prefs-sender-remove",
          "aria-label": t("compose.removeFile", { name: sender }),
          text: t("compose.remove"),
          onclick: () => removeSender(sender, list),
        }),
      ),
    ),
  );
}

/** Removing acts at once (its own read-modify-write); unsaved form edits stay unsaved. */
async function removeSender(sender, list) {
  const buttons = [...list.querySelectorAll("button")];
  const index = buttons.findIndex((b) => b.closest("li")?.dataset.sender === sender);
  try {
    await updatePrefs((prefs) => {
      setRemoteSenders(prefs, remoteSenders(prefs).filter((s) => s !== sender));
    });
    if (!list.isConnected) return;
    renderSenders(list);
    announce(t("prefs.senderRemoved"));
    const left = [...list.querySelectorAll("button")];
    (left[Math.min(index, left.length - 1)] || $("#prefs-senders-title"))?.focus();
  } catch (err) {
    reportError(err, t("prefs.senderRemoveFailed"));
  }
}

function dataSection() {
  return h(
    "section",
    { class: "prefs-section", "aria-labelledby": "prefs-data-title" },
    h("h3", { id: "prefs-data-title", tabindex: "-1", text: t("prefs.data") }),
    h("p", { class: "prefs-hint", text: t("prefs.dataHint") }),
    h(
      "div",
      { class: "prefs-actions" },
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "prefs-export",
        text: t("prefs.export"),
        onclick: exportPrefs,
      }),
      h("button", {
        type: "button",
        class: "btn btn-danger",
        "data-testid": "prefs-delete",
        text: t("prefs.delete"),
        onclick: deletePrefs,
      }),
    ),
  );
}

/** What the server holds now, as a file; built in the page, no other request. */
async function exportPrefs() {
  try {
    const prefs = await loadPrefs();
    downloadJson(EXPORT_NAME, prefs);
    announce(t("prefs.exported"));
  } catch (err) {
    reportError(err, t("prefs.exportFailed"));
  }
}

async function deletePrefs() {
  const sure = await confirmDialog({
    title: t("prefs.confirmDelete"),
    confirmLabel: t("prefs.delete"),
    danger: true,
  });
  if (!sure) return;
  const before = pageSize();
  try {
    await erasePrefs();
    if (!state.prefsOpen) return;
    render();
    announce(t("prefs.deleted"));
    $("#prefs-data-title")?.focus();
    if (pageSize() !== before) hooks.onPageSize();
  } catch (err) {
    reportError(err, t("prefs.deleteFailed"));
  }
}

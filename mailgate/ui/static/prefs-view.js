// The preferences screen: a form over GET/PUT/DELETE /api/preferences, the list of
// senders whose remote images always load, export (a JSON download) and delete.

import * as api from "./api.js";
import { erasePrefs, loadPrefs, remoteSenders, setRemoteSenders, updatePrefs } from "./prefs.js";
import { announce, DEFAULT_PAGE_SIZE, pageSize, reportError, state } from "./state.js";
import { sieveSection } from "./sieve-view.js";
import { $, downloadJson, fullDate, h } from "./util.js";

const PAGE_SIZES = [10, 20, 25, 50, 100, 200];
const THEMES = [
  ["system", "Same as this device"],
  ["light", "Light"],
  ["dark", "Dark"],
];
const EXPORT_NAME = "mailgate-preferences.json";

let hooks = { onClose: () => {}, onPageSize: () => {} };
let form = null; // {fields, initial} of the open screen

const view = () => $("#prefs-view");

/** onClose() restores the panes and focus; onPageSize() reloads the list. */
export function initPrefsView(fns) {
  hooks = { ...hooks, ...fns };
}

function snapshot() {
  const f = form.fields;
  return JSON.stringify([f.pageSize.value, themeValue(), f.displayName.value, f.signature.value]);
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
    h("div", { class: "reader-empty", "aria-busy": "true" }, h("p", { text: "Loading…" })),
  );
  try {
    await loadPrefs();
  } catch (err) {
    // Show what this page knows; saving says so if the store is still unavailable.
    reportError(err, "Could not load your settings.");
  }
  if (!state.prefsOpen) return;
  render();
  $("#prefs-title")?.focus();
}

/** Leave the screen. confirm: ask before dropping unsaved edits. False = stayed. */
export function closePrefs({ confirm = false } = {}) {
  if (!state.prefsOpen) return true;
  if (confirm && isDirty() && !window.confirm("Discard your unsaved changes to the settings?")) {
    return false;
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
    h("legend", { text: "Theme" }),
    THEMES.map(([value, label], i) =>
      h("label", { class: "prefs-choice", for: `prefs-theme-${value}` }, radios[i], label),
    ),
  );
  return { group, radios };
}

function retentionText() {
  const until = state.prefsRetainedUntil ? fullDate(state.prefsRetainedUntil) : "";
  const base = "Settings are the only thing mailgate keeps after you sign out.";
  return until
    ? `${base} They are erased on ${until} unless you sign in again before then.`
    : `${base} They are erased automatically after a period without sign-in.`;
}

function render() {
  const p = state.prefs;
  const current = pageSize();
  const theme = ["light", "dark", "system"].includes(p.theme) ? p.theme : "system";
  const pageSizeEl = pageSizeSelect(current);
  const themes = themeGroup(theme);
  const displayName = h("input", {
    id: "prefs-display-name",
    name: "display_name",
    type: "text",
    maxlength: "100",
    autocomplete: "name",
    value: typeof p.display_name === "string" ? p.display_name : "",
    "data-testid": "prefs-display-name",
  });
  const signature = h("textarea", {
    id: "prefs-signature",
    name: "signature",
    rows: "4",
    maxlength: "2000",
    "data-testid": "prefs-signature",
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
    text: "Save",
  });
  const closeBtn = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "prefs-close",
    text: "Close",
    onclick: () => closePrefs({ confirm: true }),
  });
  form = {
    fields: { pageSize: pageSizeEl, themes: themes.radios, displayName, signature },
    initial: "",
  };
  form.initial = snapshot();
  const formEl = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "prefs-title", novalidate: true },
    error,
    fieldRow("prefs-page-size", "Messages per page", pageSizeEl),
    themes.group,
    fieldRow(
      "prefs-display-name",
      "Display name",
      displayName,
      "Shown as the sender's name on mail you send; the address is always your account's.",
    ),
    fieldRow(
      "prefs-signature",
      "Signature",
      signature,
      "Added below new messages, replies and forwards.",
    ),
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
        h("h2", { id: "prefs-title", class: "pane-title", tabindex: "-1", text: "Settings" }),
      ),
      h("p", { class: "prefs-intro", "data-testid": "prefs-retention", text: retentionText() }),
      formEl,
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
  const values = {
    page_size: Number(f.pageSize.value) || DEFAULT_PAGE_SIZE,
    theme: themeValue(),
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
    const retention = $('[data-testid="prefs-retention"]');
    if (retention) retention.textContent = retentionText();
    announce("Settings saved.");
    if (pageSize() !== before) hooks.onPageSize();
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
    h("h3", { id: "prefs-senders-title", text: "Remote images" }),
    h("p", {
      class: "prefs-hint",
      text:
        "Remote images in mail from these senders are always loaded, through the " +
        "privacy proxy. Add a sender from an open message.",
    }),
    list,
  );
  renderSenders(list);
  return section;
}

function renderSenders(list) {
  const senders = remoteSenders();
  if (!senders.length) {
    list.replaceChildren(
      h("li", { class: "prefs-empty", "data-testid": "prefs-senders-empty", text: "No senders." }),
    );
    return;
  }
  list.replaceChildren(
    ...senders.map((sender) =>
      h(
        "li",
        { class: "prefs-sender", "data-testid": "prefs-sender", "data-sender": sender },
        h("span", { class: "prefs-sender-name", text: sender }),
        h("button", {
          type: "button",
          class: "btn btn-small",
          "data-testid": "prefs-sender-remove",
          "aria-label": `Remove ${sender}`,
          text: "Remove",
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
    announce("Removed. Remote images from that sender will no longer load by themselves.");
    const left = [...list.querySelectorAll("button")];
    (left[Math.min(index, left.length - 1)] || $("#prefs-senders-title"))?.focus();
  } catch (err) {
    reportError(err, "Could not remove the sender.");
  }
}

function dataSection() {
  return h(
    "section",
    { class: "prefs-section", "aria-labelledby": "prefs-data-title" },
    h("h3", { id: "prefs-data-title", tabindex: "-1", text: "Your settings" }),
    h("p", {
      class: "prefs-hint",
      text: "Download the stored settings as a JSON file, or erase them from the server now.",
    }),
    h(
      "div",
      { class: "prefs-actions" },
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "prefs-export",
        text: "Export",
        onclick: exportPrefs,
      }),
      h("button", {
        type: "button",
        class: "btn btn-danger",
        "data-testid": "prefs-delete",
        text: "Delete all settings",
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
    announce("Your settings were downloaded.");
  } catch (err) {
    reportError(err, "Could not export your settings.");
  }
}

async function deletePrefs() {
  if (!window.confirm("Delete all your settings from the server? This cannot be undone.")) return;
  const before = pageSize();
  try {
    await erasePrefs();
    if (!state.prefsOpen) return;
    render();
    announce("Your settings were deleted.");
    $("#prefs-data-title")?.focus();
    if (pageSize() !== before) hooks.onPageSize();
  } catch (err) {
    reportError(err, "Could not delete your settings.");
  }
}

// From identities: other addresses the user sends from (name, address, Reply-To, a Bcc to
// itself, a signature), kept in the sealed preferences. Settings lists, adds, edits and
// removes them; compose offers them in its From selector; a reply picks the one the
// message was addressed to. The SMTP server still decides which addresses a login may use.

import { updatePrefs } from "./prefs.js";
import { t } from "./i18n.js";
import { announce, reportError, state } from "./state.js";
import { $, formatAddr, h } from "./util.js";

const MAX_IDENTITIES = 20;

const text = (v) => (typeof v === "string" ? v : "");
const lower = (v) => text(v).trim().toLowerCase();

/** The saved identities that have an id and an address. */
export function identities(prefs = state.prefs) {
  const list = prefs && Array.isArray(prefs.identities) ? prefs.identities : [];
  return list.filter((i) => i && typeof i === "object" && text(i.id) && text(i.email));
}

export const identityById = (id) => identities().find((i) => i.id === id) || null;

/** Every address that is the user's: the login's and each identity's, lower-cased. */
export function ownAddresses() {
  const own = new Set(identities().map((i) => lower(i.email)));
  const me = lower(state.account?.email);
  if (me) own.add(me);
  return own;
}

/**
 * The identity a reply to `msg` goes out as: the first whose address the message was sent
 * to (To, then Cc, then Delivered-To); null (the login's address) when none matches or
 * the message was sent to the login's own address first.
 */
export function identityFor(msg) {
  const list = identities();
  if (!msg || !list.length) return null;
  const me = lower(state.account?.email);
  for (const field of ["to", "cc", "delivered_to"]) {
    for (const a of Array.isArray(msg[field]) ? msg[field] : []) {
      const address = lower(a?.email);
      if (!address) continue;
      if (address === me) return null;
      const found = list.find((i) => lower(i.email) === address);
      if (found) return found;
    }
  }
  return null;
}

/** "Name <address>" of an identity. */
export const identityLabel = (i) => formatAddr({ name: text(i.name), email: text(i.email) });

function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `i${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// -- Settings ---------------------------------------------------------------------------

/** The Identities section of the Settings screen. */
export function identitiesSection() {
  const list = h("ul", { class: "prefs-senders", "data-testid": "identities-list" });
  const editor = h("div", { class: "identity-editor" });
  const addBtn = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "identity-add",
    text: t("ident.add"),
  });
  const section = h(
    "section",
    { class: "prefs-section", "aria-labelledby": "prefs-identities-title" },
    h("h3", { id: "prefs-identities-title", tabindex: "-1", text: t("ident.title") }),
    h("p", { class: "prefs-hint", text: t("ident.hint") }),
    list,
    h("div", { class: "prefs-actions" }, addBtn),
    editor,
  );
  const ui = { list, editor, addBtn };
  addBtn.addEventListener("click", () => openEditor(ui, null));
  renderList(ui);
  return section;
}

function renderList(ui) {
  const list = identities();
  ui.addBtn.disabled = list.length >= MAX_IDENTITIES;
  if (!list.length) {
    ui.list.replaceChildren(
      h("li", { class: "prefs-empty", "data-testid": "identities-empty", text: t("ident.empty") }),
    );
    return;
  }
  ui.list.replaceChildren(
    ...list.map((i) =>
      h(
        "li",
        { class: "prefs-sender", "data-testid": "identity", "data-identity": i.id },
        h("bdi", { class: "prefs-sender-name", translate: "no", text: identityLabel(i) }),
        h("button", {
          type: "button",
          class: "btn btn-small",
          "data-testid": "identity-edit",
          "aria-label": t("ident.editLabel", { name: identityLabel(i) }),
          text: t("ident.edit"),
          onclick: () => openEditor(ui, i),
        }),
        h("button", {
          type: "button",
          class: "btn btn-small",
          "data-testid": "identity-remove",
          "aria-label": t("compose.removeFile", { name: identityLabel(i) }),
          text: t("compose.remove"),
          onclick: () => removeIdentity(ui, i.id),
        }),
      ),
    ),
  );
}

function input(id, label, attrs, value) {
  const el = h("input", { id, name: id, dir: "auto", ...attrs });
  el.value = value;
  return { el, row: h("div", { class: "prefs-field" }, h("label", { for: id, text: label }), el) };
}

/** The add/edit form below the list; `current` null adds a new identity. */
function openEditor(ui, current) {
  const name = input(
    "identity-name",
    t("ident.name"),
    { type: "text", maxlength: "100", autocomplete: "name", "data-testid": "identity-name" },
    text(current?.name),
  );
  const addrAttrs = { type: "email", maxlength: "254", spellcheck: "false", autocapitalize: "off" };
  const email = input(
    "identity-email",
    t("ident.email"),
    { ...addrAttrs, required: true, "data-testid": "identity-email" },
    text(current?.email),
  );
  const replyTo = input(
    "identity-reply-to",
    t("ident.replyTo"),
    { ...addrAttrs, "data-testid": "identity-reply-to" },
    text(current?.reply_to),
  );
  const bcc = h("input", {
    type: "checkbox",
    id: "identity-bcc-self",
    "data-testid": "identity-bcc-self",
    checked: current?.bcc_self === true,
  });
  const signature = h("textarea", {
    id: "identity-signature",
    rows: "3",
    maxlength: "2000",
    dir: "auto",
    "data-testid": "identity-signature",
  });
  signature.value = text(current?.signature);
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "identity-error" });
  const save = h("button", {
    type: "submit",
    class: "btn btn-primary",
    "data-testid": "identity-save",
    text: t("ident.save"),
  });
  const cancel = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "identity-cancel",
    text: t("ident.cancel"),
  });
  const title = current ? t("ident.formEdit") : t("ident.formNew");
  const form = h(
    "form",
    { class: "prefs-form", "aria-label": title, novalidate: true, "data-testid": "identity-form" },
    h("h4", { text: title }),
    error,
    name.row,
    email.row,
    replyTo.row,
    h("label", { class: "prefs-choice", for: "identity-bcc-self" }, bcc, t("ident.bccSelf")),
    h(
      "div",
      { class: "prefs-field" },
      h("label", { for: "identity-signature", text: t("ident.signature") }),
      signature,
    ),
    h("div", { class: "prefs-actions" }, save, cancel),
  );
  const close = () => {
    ui.editor.replaceChildren();
    ui.addBtn.focus();
  };
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    e.stopPropagation(); // the form only, not the whole Settings screen
    close();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!email.el.value.trim()) {
      error.textContent = t("ident.emailRequired");
      error.hidden = false;
      email.el.focus();
      return;
    }
    const item = { id: current?.id || newId(), email: email.el.value.trim() };
    if (name.el.value.trim()) item.name = name.el.value.trim();
    if (replyTo.el.value.trim()) item.reply_to = replyTo.el.value.trim();
    if (bcc.checked) item.bcc_self = true;
    if (signature.value.trim()) item.signature = signature.value;
    save.disabled = true;
    try {
      await updatePrefs((prefs) => {
        const list = identities(prefs).filter((i) => i.id !== item.id);
        const at = identities(prefs).findIndex((i) => i.id === item.id);
        list.splice(at < 0 ? list.length : at, 0, item);
        prefs.identities = list;
      });
      renderList(ui);
      ui.editor.replaceChildren();
      announce(t("ident.saved"));
      ui.addBtn.focus();
    } catch (err) {
      // The server's message names the preference (prefs/schema.py).
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  ui.editor.replaceChildren(form);
  (current ? name.el : email.el).focus();
}

async function removeIdentity(ui, id) {
  try {
    await updatePrefs((prefs) => {
      const list = identities(prefs).filter((i) => i.id !== id);
      if (list.length) prefs.identities = list;
      else delete prefs.identities;
    });
    if (!ui.list.isConnected) return;
    renderList(ui);
    announce(t("ident.removed"));
    $("#prefs-identities-title")?.focus();
  } catch (err) {
    reportError(err, t("ident.removeFailed"));
  }
}

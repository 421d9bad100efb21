// The Contacts screen: the account's CardDAV address book through /api/contacts (list,
// search, add, edit, delete). Nothing is kept here beyond the open screen; every change
// goes straight to the address book.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { fieldErrorText } from "./field-error.js";
import { t } from "./i18n.js";
import { announce, reportError, state } from "./state.js";
import { $, h, parseAddrList } from "./util.js";

let hooks = { onClose: () => {} };
let searchTimer = null;
let loadSeq = 0;

const view = () => $("#contacts-view");

/** onClose() restores the panes and focus. */
export function initContactsView(fns) {
  hooks = { ...hooks, ...fns };
}

/** Show the screen and load the contacts. */
export async function openContacts() {
  if (state.contactsOpen) return;
  state.contactsOpen = true;
  $("#panes").hidden = true;
  const v = view();
  v.hidden = false;
  v.addEventListener("keydown", onKeydown);
  render();
  $("#contacts-title")?.focus();
  await load("");
}

export function closeContacts() {
  if (!state.contactsOpen) return;
  state.contactsOpen = false;
  loadSeq += 1;
  clearTimeout(searchTimer);
  const v = view();
  if (v) {
    v.removeEventListener("keydown", onKeydown);
    v.replaceChildren();
    v.hidden = true;
  }
  const panes = $("#panes");
  if (panes) panes.hidden = false;
  hooks.onClose();
}

function onKeydown(e) {
  if (e.key !== "Escape" || e.defaultPrevented) return;
  e.preventDefault();
  // Escape leaves an open form first, then the screen.
  if ($("#contact-form")) {
    $("#contact-form").remove();
    $("#contacts-add")?.focus();
  } else {
    closeContacts();
  }
}

function render() {
  const search = h("input", {
    id: "contacts-search",
    type: "search",
    "data-testid": "contacts-search",
    autocomplete: "off",
    spellcheck: "false",
    dir: "auto",
    oninput: (e) => {
      clearTimeout(searchTimer);
      const q = e.target.value;
      searchTimer = setTimeout(() => load(q), 200);
    },
  });
  view().replaceChildren(
    h(
      "div",
      { class: "contacts" },
      ...contents(search),
    ),
  );
}

function contents(search) {
  return [
    h(
      "div",
      { class: "pane-head" },
      h("h2", {
        id: "contacts-title",
        class: "pane-title",
        tabindex: "-1",
        text: t("contacts.title"),
      }),
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "contacts-close",
        text: t("contacts.close"),
        onclick: () => closeContacts(),
      }),
    ),
    h(
      "div",
      { class: "contacts-tools" },
      h("label", { for: "contacts-search", text: t("contacts.search") }),
      search,
      h("button", {
        type: "button",
        id: "contacts-add",
        class: "btn btn-primary",
        "data-testid": "contacts-add",
        text: t("contacts.add"),
        onclick: () => showForm(null),
      }),
    ),
    h("div", { id: "contact-form-slot" }),
    h("p", {
      id: "contacts-note",
      class: "muted",
      role: "status",
      "data-testid": "contacts-note",
      hidden: true,
    }),
    h("ul", {
      id: "contacts-list",
      class: "contacts-list",
      "aria-labelledby": "contacts-title",
      "data-testid": "contacts-list",
    }),
  ];
}

async function load(q) {
  const mine = ++loadSeq;
  const list = $("#contacts-list");
  const note = $("#contacts-note");
  if (!list) return;
  list.setAttribute("aria-busy", "true");
  try {
    const query = q.trim() ? `?q=${encodeURIComponent(q.trim())}` : "";
    const data = await api.get(`/api/contacts${query}`);
    if (mine !== loadSeq || !state.contactsOpen) return;
    const contacts = Array.isArray(data?.contacts) ? data.contacts : [];
    if (data?.available === false) {
      note.textContent = t("contacts.unavailable");
      $("#contacts-add").disabled = true;
    } else if (!contacts.length) {
      note.textContent = q.trim() ? t("contacts.noMatch") : t("contacts.empty");
    } else {
      note.textContent = "";
    }
    note.hidden = !note.textContent;
    list.replaceChildren(...contacts.map(row));
  } catch (err) {
    if (mine === loadSeq) reportError(err, t("contacts.loadFailed"));
  } finally {
    if (mine === loadSeq) list.removeAttribute("aria-busy");
  }
}

function row(contact) {
  const name = contact.name || (contact.emails || [])[0] || "";
  return h(
    "li",
    { class: "contact", "data-testid": "contact-row" },
    h(
      "div",
      { class: "contact-text" },
      h("bdi", { class: "contact-name", "data-testid": "contact-name", text: name }),
      h("bdi", {
        class: "contact-detail muted",
        text: [...(contact.emails || []), ...(contact.phones || [])].join(", "),
      }),
    ),
    h(
      "div",
      { class: "contact-actions" },
      h("button", {
        type: "button",
        class: "btn btn-small",
        "data-testid": "contact-edit",
        "aria-label": t("contacts.editNamed", { name }),
        text: t("contacts.edit"),
        onclick: () => showForm(contact),
      }),
      h("button", {
        type: "button",
        class: "btn btn-small btn-danger",
        "data-testid": "contact-delete",
        "aria-label": t("contacts.deleteNamed", { name }),
        text: t("contacts.delete"),
        onclick: () => remove(contact, name),
      }),
    ),
  );
}

function showForm(contact) {
  const slot = $("#contact-form-slot");
  const field = (id, label, value, testid) => {
    const input = h("input", { id, type: "text", dir: "auto", "data-testid": testid, value });
    return [input, h("div", { class: "field" }, h("label", { for: id, text: label }), input)];
  };
  const [nameIn, nameRow] = field("contact-name", t("contacts.name"), contact?.name || "", "contact-name-input");
  const [emailIn, emailRow] = field(
    "contact-emails",
    t("contacts.emails"),
    (contact?.emails || []).join(", "),
    "contact-emails-input",
  );
  const [phoneIn, phoneRow] = field(
    "contact-phones",
    t("contacts.phones"),
    (contact?.phones || []).join(", "),
    "contact-phones-input",
  );
  emailIn.setAttribute("spellcheck", "false");
  emailIn.setAttribute("autocapitalize", "off");
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "contact-error", hidden: true });
  const form = h(
    "form",
    { id: "contact-form", class: "contact-form", novalidate: true, "aria-labelledby": "contact-form-title" },
    h("h3", {
      id: "contact-form-title",
      text: contact ? t("contacts.editTitle") : t("contacts.addTitle"),
    }),
    nameRow,
    emailRow,
    phoneRow,
    error,
    h(
      "div",
      { class: "compose-actions" },
      h("button", {
        type: "submit",
        class: "btn btn-primary",
        "data-testid": "contact-save",
        text: t("contacts.save"),
      }),
      h("button", {
        type: "button",
        class: "btn btn-ghost",
        "data-testid": "contact-cancel",
        text: t("contacts.cancel"),
        onclick: () => {
          form.remove();
          $("#contacts-add")?.focus();
        },
      }),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: nameIn.value.trim(),
      emails: parseAddrList(emailIn.value),
      phones: phoneIn.value
        .split(/[,;]/)
        .map((p) => p.trim())
        .filter(Boolean),
    };
    if (!body.name) {
      error.textContent = t("contacts.nameMissing");
      error.hidden = false;
      nameIn.focus();
      return;
    }
    try {
      if (contact) await api.put(api.path`/api/contacts/${contact.id}`, body);
      else await api.post("/api/contacts", body);
      form.remove();
      announce(t("contacts.saved"));
      await load($("#contacts-search")?.value || "");
      $("#contacts-add")?.focus();
    } catch (err) {
      if (api.isAborted(err)) return;
      const inputs = { name: nameIn, emails: emailIn, phones: phoneIn };
      error.textContent = fieldErrorText(err, inputs) || t("contacts.saveFailed");
      error.hidden = false;
    }
  });
  slot.replaceChildren(form);
  nameIn.focus();
}

async function remove(contact, name) {
  const sure = await confirmDialog({
    title: t("contacts.confirmDelete", { name }),
    confirmLabel: t("contacts.delete"),
    cancelLabel: t("dialog.cancel"),
    danger: true,
  });
  if (!sure) return;
  try {
    await api.del(api.path`/api/contacts/${contact.id}`);
    announce(t("contacts.deleted"));
    await load($("#contacts-search")?.value || "");
    $("#contacts-search")?.focus();
  } catch (err) {
    reportError(err, t("contacts.deleteFailed"));
  }
}

/** "Add sender to contacts" in the reader: the sender's name and address, one click. */
export async function addSender(addr) {
  const email = (addr?.email || "").trim();
  if (!email) return;
  const name = (addr?.name || "").trim() || email;
  try {
    await api.post("/api/contacts", { name, emails: [email] });
    announce(t("contacts.senderAdded"));
  } catch (err) {
    reportError(err, t("contacts.saveFailed"));
  }
}

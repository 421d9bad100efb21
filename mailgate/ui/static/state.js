// In-memory application state (never persisted) and the status announcer.

import { isAborted } from "./api.js";
import { t } from "./i18n.js";
import { $ } from "./util.js";

export const DEFAULT_PAGE_SIZE = 50;

function fresh() {
  return {
    account: null, // {email}
    features: { proxy: false, contacts: false },
    mailboxes: [], // as returned by GET /api/mailboxes, in display order
    mailboxId: null,
    list: { total: 0, offset: 0, messages: [], conversations: [] },
    listMode: "messages", // or "conversations": what the list shows
    conversation: null, // the open conversation (GET /api/conversations/{id})
    q: "",
    sort: "date_desc",
    selected: new Set(), // ids of listed messages chosen for an action on many (selection.js)
    message: null, // the open message (GET /api/messages/{id})
    compose: null, // the open compose form's state
    view: "list", // which pane a narrow screen shows: mailboxes | list | reader
    lastInputAt: 0, // last keyboard/pointer input, to decide about live refreshes
    actionsUnderWay: 0, // actions on many messages not yet answered (holdCounts)
    prefs: {}, // the saved preferences (GET /api/preferences), the only server-kept data
    prefsRetainedUntil: null, // ISO date the server keeps them until without a login
    prefsRetentionDays: null, // the operator's period, known before anything is stored
    prefsOpen: false, // the preferences screen is showing instead of the panes
    contactsOpen: false, // the contacts screen is showing instead of the panes
  };
}

export const state = fresh();

/** Messages per page: the saved preference, else the default. */
export function pageSize() {
  const n = Number(state.prefs?.page_size);
  return Number.isInteger(n) && n >= 10 && n <= 200 ? n : DEFAULT_PAGE_SIZE;
}

/** Drop everything (logout, 401). */
export function resetState() {
  for (const key of Object.keys(state)) delete state[key];
  Object.assign(state, fresh());
}

export const mailboxById = (id) => state.mailboxes.find((m) => m.id === id) || null;

const ROLE_LABELS = {
  inbox: () => t("mailbox.inbox"),
  drafts: () => t("mailbox.drafts"),
  sent: () => t("mailbox.sent"),
  archive: () => t("mailbox.archive"),
  junk: () => t("mailbox.junk"),
  trash: () => t("mailbox.trash"),
};

/**
 * Display name of a mailbox: the special-use ones (inbox, drafts, sent, archive, junk,
 * trash) by their role, in the UI's language; the others by their own name.
 */
export function mailboxLabel(mb) {
  if (!mb) return "";
  const role = Object.hasOwn(ROLE_LABELS, mb.role) ? ROLE_LABELS[mb.role] : null;
  return role ? role() : mb.name || mb.path || "";
}

/** Whether the label is the mailbox's own name (user data, not a UI word). */
export const isOwnName = (mb) => !Object.hasOwn(ROLE_LABELS, mb?.role);

let statusTimer = null;

/** Show and announce a short status message (never personal data). */
export function announce(text, kind = "info") {
  const el = $("#status");
  clearTimeout(statusTimer);
  el.textContent = text;
  el.dataset.kind = kind;
  el.classList.toggle("visible", Boolean(text));
  // The list and the mailbox pane keep room for the toast under their last entry
  // (--toast-room in app.css); a long one, wrapped on a narrow screen, gets more.
  if (text) {
    const room = Math.max(104, Math.ceil(el.offsetHeight) + 32);
    document.documentElement.style.setProperty("--toast-room", `${room}px`);
  }
  if (text) statusTimer = setTimeout(() => announce(""), kind === "error" ? 8000 : 4000);
}

/** Show an API error's message; ignore requests cancelled by a session reset. */
export function reportError(err, prefix = "") {
  if (isAborted(err)) return;
  const message = err?.message || t("status.failed");
  announce(prefix ? `${prefix} ${message}` : message, "error");
}

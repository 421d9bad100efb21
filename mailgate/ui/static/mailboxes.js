// The mailbox list: ordering by role and hierarchy, rendering, unread counts.

import * as api from "./api.js";
import { confirmDialog, promptDialog } from "./dialog.js";
import { t } from "./i18n.js";
import { refreshQuota } from "./quota.js";
import { announce, isOwnName, mailboxLabel, reportError, state } from "./state.js";
import { $, h, formatCount } from "./util.js";

const ROLE_RANK = { inbox: 0, drafts: 1, sent: 2, archive: 3, junk: 4, trash: 5 };
const rank = (mb) => ROLE_RANK[mb.role] ?? 6;

/** The hierarchy delimiter of one mailbox, guessed from path and display name. */
function delimiterOf(mb) {
  const { path = "", name = "" } = mb;
  if (name && path.length > name.length && path.endsWith(name)) {
    const ch = path[path.length - name.length - 1];
    if (ch === "/" || ch === ".") return ch;
  }
  return null;
}

/**
 * Order mailboxes for display: roots by role (inbox, drafts, sent, archive,
 * junk, trash) then by path; children under their parent, same order. Returns
 * a new array of mailboxes, each with a `depth`.
 */
export function orderMailboxes(list) {
  const items = list.filter((m) => m && typeof m.id === "string");
  // The delimiter is not in the API; most mailboxes reveal it, use the most common.
  const votes = new Map();
  for (const m of items) {
    const d = delimiterOf(m);
    if (d) votes.set(d, (votes.get(d) || 0) + 1);
  }
  const common = [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
  const byPath = new Map(items.map((m) => [m.path, m]));
  const children = new Map();
  for (const m of items) {
    const delim = delimiterOf(m) || common;
    let parent = "";
    if (delim && typeof m.path === "string") {
      const cut = m.path.lastIndexOf(delim);
      if (cut > 0 && byPath.has(m.path.slice(0, cut))) parent = m.path.slice(0, cut);
    }
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(m);
  }
  const cmp = (a, b) =>
    rank(a) - rank(b) || String(a.path).localeCompare(String(b.path), undefined, { numeric: true });
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const m of (children.get(parent) || []).sort(cmp)) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push({ ...m, depth });
      if (m.path !== parent) walk(m.path, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

/** GET /api/mailboxes and redraw the navigation. */
export async function refreshMailboxes() {
  const asked = tick();
  // Asked after every change here was answered: this answer counts them all.
  if (![...counting.values()].some((c) => c.busy)) clearTimeout(settleTimer);
  try {
    const data = await api.get("/api/mailboxes");
    const before = new Map(state.mailboxes.map((mb) => [mb.id, mb]));
    const fresh = Array.isArray(data?.mailboxes) ? data.mailboxes : [];
    for (const mb of fresh) {
      if (countsFor(mb.id, asked)) continue;
      // A change here was under way when the server counted: keep the count shown.
      const shown = before.get(mb.id);
      if (shown) mb.unread = shown.unread;
      if (!counting.get(mb.id).busy) settleSoon(); // else its end() asks

    }
    state.mailboxes = orderMailboxes(fresh);
    renderMailboxes();
    refreshQuota();
  } catch (err) {
    reportError(err, t("mailbox.loadFailed"));
  }
}

// ---------------------------------------------------------------- unread counts
//
// A mailbox's unread count comes from two places: the server's counts (GET /api/mailboxes,
// and the live events of GET /api/events, both STATUS, so absolute) and the page's own
// changes (a message opened, marked read or unread), shown at once. A server count may or
// may not include a change still under way, so the two are never added blindly: while a
// change to a mailbox is under way, server counts for it are set aside; once every change
// there has been answered, one GET /api/mailboxes asked after that gives the count. And
// each message counts once: the page remembers which messages it counted read or unread
// since the last server count it took, so a second answer for the same message changes
// nothing.

let clock = 0;
const tick = () => ++clock;
// mailbox id -> {busy: changes under way, settledAt: the clock at the last answer,
// counted: message id -> seen, for the messages counted here since the last server count}
const counting = new Map();
let settleTimer = null;

function counter(id) {
  let c = counting.get(id);
  if (!c) {
    c = { busy: 0, settledAt: 0, counted: new Map() };
    counting.set(id, c);
  }
  return c;
}

/** Whether a server count for mailbox `id` taken at `asked` (a live event: now) may be
    shown, and if so, forget the messages counted here: the server's count has them. */
function countsFor(id, asked = tick()) {
  const c = counting.get(id);
  if (!c) return true;
  if (c.busy || c.settledAt > asked) return false;
  c.counted.clear();
  return true;
}

function settleSoon() {
  clearTimeout(settleTimer);
  settleTimer = setTimeout(refreshMailboxes, 1000);
}

/**
 * A request that may change the unread count of mailbox `id` is about to go out (opening
 * an unread message, marking read or unread, a bulk action). Until `end()`, server counts
 * for the mailbox are set aside; after it, the server is asked. `counted(messageId,
 * wasSeen, seen)` shows the change the answer says at once, once per message.
 */
export function countChange(id) {
  const c = counter(id);
  c.busy += 1;
  let open = true;
  return {
    counted(messageId, wasSeen, seen) {
      if (!open) return;
      const before = c.counted.has(messageId) ? c.counted.get(messageId) : wasSeen;
      c.counted.set(messageId, seen);
      if (before === seen) return;
      const mb = state.mailboxes.find((m) => m.id === id);
      if (mb) setCounts(id, { unread: (Number(mb.unread) || 0) + (seen ? -1 : 1) });
    },
    end() {
      if (!open) return;
      open = false;
      c.busy -= 1;
      c.settledAt = tick();
      if (!c.busy) settleSoon();
    },
  };
}

/**
 * Around an action on many messages (bulk, conversation, undo): server counts for the
 * given mailboxes and the inbox are set aside until it is answered, so that the badge
 * does not step through the server's counts in between, and live events do not reload
 * the list meanwhile (each message acted on is news; a reload between the messages takes
 * the session's mail connection from the action). Returns `end`; the caller asks
 * GET /api/mailboxes after it and loads the list again.
 */
export function holdCounts(ids) {
  const inbox = state.mailboxes.find((m) => m.role === "inbox")?.id;
  const changes = [...new Set([...ids, inbox].filter(Boolean))].map(countChange);
  state.actionsUnderWay += 1;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    state.actionsUnderWay -= 1;
    changes.forEach((c) => c.end());
  };
}

/** A live event's counts for mailbox `id`: the total always, the unread count unless a
    change here is under way or unconfirmed (the refresh after it has the count). */
export function liveCounts(id, { total, unread }) {
  return setCounts(id, countsFor(id) ? { total, unread } : { total });
}

/** Redraw the mailbox list from state (keeps keyboard focus on the same mailbox). */
export function renderMailboxes() {
  const ul = $("#mailbox-list");
  if (!ul) return;
  const focusedId = document.activeElement?.closest?.("#mailbox-list")
    ? document.activeElement.dataset.id
    : null;
  ul.replaceChildren(
    ...state.mailboxes.map((mb) => {
      const unread = Number(mb.unread) || 0;
      const btn = h(
        "button",
        {
          type: "button",
          class: `mailbox${unread ? " has-unread" : ""}`,
          "data-testid": "mailbox",
          "data-role": mb.role || "",
          "data-id": mb.id,
          "aria-current": mb.id === state.mailboxId ? "page" : null,
          onclick: () => selectMailboxHandler(mb.id),
        },
        h("span", { class: `mailbox-icon role-${mb.role || "folder"}`, "aria-hidden": "true" }),
        h("span", {
          class: "mailbox-name",
          dir: "auto",
          translate: isOwnName(mb) ? "no" : null,
          text: mailboxLabel(mb),
        }),
        unread
          ? h(
              "span",
              { class: "mailbox-unread" },
              h("span", { "aria-hidden": "true", text: formatCount(unread) }),
              h("span", { class: "visually-hidden", text: t("mailbox.unread", { count: unread }) }),
            )
          : null,
      );
      btn.style.setProperty("--depth", String(mb.depth || 0));
      return h("li", { class: "mailbox-item" }, btn, mb.role ? null : folderMenu(mb));
    }),
  );
  if (focusedId) ul.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  updateTitle();
}

/** Window title with the inbox's unread count (no names). */
export function updateTitle() {
  const inbox = state.mailboxes.find((m) => m.role === "inbox");
  const n = Number(inbox?.unread) || 0;
  document.title = n ? `(${formatCount(n)}) mailgate` : "mailgate";
}

/** Apply new counts (from a live event or a local change) to one mailbox. */
export function setCounts(id, { total, unread }) {
  const mb = state.mailboxes.find((m) => m.id === id);
  if (!mb) return false;
  if (Number.isFinite(total)) mb.total = total;
  if (Number.isFinite(unread)) mb.unread = Math.max(0, unread);
  renderMailboxes();
  return true;
}

let selectMailboxHandler = () => {};
/** The app decides what selecting a mailbox does (load its list). */
export function onSelectMailbox(fn) {
  selectMailboxHandler = fn;
}

// ---------------------------------------------------------------- folder management

/** The small menu of a folder without a role: rename (and move) or delete. */
function folderMenu(mb) {
  const name = mailboxLabel(mb);
  const close = (details) => details.removeAttribute("open");
  const details = h("details", { class: "folder-menu", "data-testid": "folder-menu" });
  details.append(
    h(
      "summary",
      {
        class: "folder-menu-toggle",
        "aria-label": t("folder.actions", { name }),
        title: t("folder.actions", { name }),
        "data-testid": "folder-menu-toggle",
      },
      h("span", { "aria-hidden": "true", text: "\u22ef" }),
    ),
    h(
      "div",
      { class: "folder-menu-items" },
      h("button", {
        type: "button",
        class: "btn btn-small",
        "data-testid": "folder-rename",
        text: t("folder.rename"),
        onclick: () => {
          close(details);
          renameFolder(mb);
        },
      }),
      h("button", {
        type: "button",
        class: "btn btn-small btn-danger",
        "data-testid": "folder-delete",
        text: t("folder.delete"),
        onclick: () => {
          close(details);
          deleteFolder(mb);
        },
      }),
    ),
  );
  details.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && details.open) {
      e.preventDefault();
      e.stopPropagation();
      close(details);
      details.querySelector("summary")?.focus();
    }
  });
  return details;
}

/** The choices for "inside": the top level, then every folder but `except` and its children. */
function parentChoices(except = null) {
  const options = [{ value: "", text: t("folder.topLevel") }];
  for (const mb of state.mailboxes) {
    if (except && (mb.path === except.path || isInside(mb, except))) continue;
    options.push({ value: mb.id, text: `${"\u2003".repeat(mb.depth || 0)}${mailboxLabel(mb)}` });
  }
  return options;
}

function isInside(mb, parent) {
  const rest = String(mb.path).slice(String(parent.path).length);
  return String(mb.path).startsWith(parent.path) && rest.length > 1 && (rest[0] === "/" || rest[0] === ".");
}

/** The id of the folder directly above `mb` ("" at the top level). */
function parentIdOf(mb) {
  let best = null;
  for (const other of state.mailboxes) {
    if (other === mb || !isInside(mb, other)) continue;
    if (!best || other.path.length > best.path.length) best = other;
  }
  return best ? best.id : "";
}

function focusMailbox(id) {
  const btn = document.querySelector(`#mailbox-list [data-id="${CSS.escape(id)}"]`);
  if (btn) btn.focus();
  else $("#folder-new")?.focus();
}

/** "New folder": a name and where to put it. */
export async function newFolder() {
  const answer = await promptDialog({
    title: t("folder.new"),
    label: t("folder.name"),
    confirmLabel: t("folder.create"),
    choices: { label: t("folder.inside"), options: parentChoices(), value: "" },
  });
  if (!answer) return;
  try {
    const made = await api.post("/api/mailboxes", { name: answer.value, parent: answer.choice || null });
    await refreshMailboxes();
    announce(t("folder.created", { name: made.name }));
    focusMailbox(made.id);
  } catch (err) {
    reportError(err, t("folder.failed"));
  }
}

async function renameFolder(mb) {
  const answer = await promptDialog({
    title: t("folder.renameTitle"),
    label: t("folder.name"),
    value: mb.name,
    confirmLabel: t("folder.rename"),
    choices: { label: t("folder.inside"), options: parentChoices(mb), value: parentIdOf(mb) },
  });
  if (!answer) return;
  try {
    const done = await api.patch(api.path`/api/mailboxes/${mb.id}`, {
      name: answer.value,
      parent: answer.choice || null,
    });
    const wasCurrent = state.mailboxId === mb.id;
    if (wasCurrent) state.mailboxId = done.id;
    await refreshMailboxes();
    if (wasCurrent) folderHooks.onRenamed(done.id);
    announce(t("folder.renamed", { name: done.name }));
    focusMailbox(done.id);
  } catch (err) {
    reportError(err, t("folder.failed"));
  }
}

async function deleteFolder(mb) {
  const sure = await confirmDialog({
    title: t("folder.deleteTitle", { name: mailboxLabel(mb) }),
    body: t("folder.deleteBody"),
    confirmLabel: t("folder.delete"),
    danger: true,
  });
  if (!sure) return;
  try {
    await api.del(api.path`/api/mailboxes/${mb.id}`);
    const wasCurrent = state.mailboxId === mb.id;
    await refreshMailboxes();
    announce(t("folder.deleted", { name: mailboxLabel(mb) }));
    if (wasCurrent) folderHooks.onDeletedCurrent();
    else focusMailbox(state.mailboxId);
  } catch (err) {
    reportError(err, t("folder.failed"));
  }
}

const folderHooks = { onRenamed: () => {}, onDeletedCurrent: () => {} };
/** The app decides what happens when the open folder is renamed or deleted. */
export function onFolderChanges(hooks) {
  Object.assign(folderHooks, hooks);
}

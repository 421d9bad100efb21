// Choosing many messages in the list (a checkbox per row, Shift and Ctrl clicks, "x",
// all on the page) and acting on them at once: POST /api/messages/actions. Dragging rows
// onto a folder moves them. Moves and deletes can be undone (undo.js).

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { t } from "./i18n.js";
import { loadList, rowById } from "./list.js";
import { holdCounts, refreshMailboxes } from "./mailboxes.js";
import { announce, mailboxById, mailboxLabel, reportError, state } from "./state.js";
import { offerUndo } from "./undo.js";
import { $, h } from "./util.js";

const DRAG_TYPE = "application/x-mailgate-messages";
const CHUNK = 200; // ids per POST /api/messages/actions (its bound)
export const MATCHING_MAX = 5000; // "select all" beyond the page goes up to this many
let anchor = null; // where a Shift range starts: the last row chosen or unchosen
// Every message of the folder (or search), past this page: {key, ids}, or null.
let matching = null;
const matchingKey = () => `${state.mailboxId}\n${state.q}\n${state.sort}`;
let hooks = { removedOpen: () => {} };

/** removedOpen(): the open message was moved or deleted by an action on many. */
export function initSelection(h) {
  hooks = { ...hooks, ...h };
}

const listedIds = () =>
  state.listMode === "conversations" ? [] : state.list.messages.map((m) => m.id);

/** The chosen ids: every matching message when that was chosen, else the chosen rows. */
export function selectedIds() {
  if (matching && matching.key === matchingKey() && state.listMode !== "conversations") {
    return [...matching.ids];
  }
  return listedIds().filter((id) => state.selected.has(id));
}

/** Post one action for any number of ids, CHUNK at a time; the results of all. */
export async function postActions(body, ids) {
  const results = [];
  // The caller asks for the counts afterwards; none from the server meanwhile.
  const end = holdCounts([state.mailboxId, body.mailbox]);
  try {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const data = await api.post("/api/messages/actions", { ...body, ids: ids.slice(i, i + CHUNK) });
      if (Array.isArray(data?.results)) results.push(...data.results);
    }
  } finally {
    end();
  }
  return results;
}

/** "Select all N": the ids of every message of the folder (or search), page by page. */
async function chooseMatching() {
  const mb = mailboxById(state.mailboxId);
  if (!mb) return;
  const key = matchingKey();
  const ids = [];
  try {
    for (let offset = 0; offset < Math.min(state.list.total, MATCHING_MAX); offset += CHUNK) {
      const params = new URLSearchParams({ limit: String(CHUNK), offset: String(offset), sort: state.sort });
      if (state.q) params.set("q", state.q);
      const data = await api.get(api.path`/api/mailboxes/${mb.id}/messages` + `?${params}`);
      const page = Array.isArray(data?.messages) ? data.messages : [];
      ids.push(...page.map((m) => m.id));
      if (page.length < CHUNK) break;
    }
  } catch (err) {
    reportError(err, t("bulk.failed"));
    return;
  }
  if (key !== matchingKey()) return; // the list changed meanwhile
  for (const id of listedIds()) state.selected.add(id);
  matching = { key, ids: [...new Set(ids)] };
  syncSelection();
  announce(t("bulk.count", { count: matching.ids.length }));
  $("#bulk-count")?.focus();
}

/** The checkbox before a row. Not a tab stop of its own: the list has one (the rows). */
export function rowCheckbox(id, subject) {
  return h("input", {
    type: "checkbox",
    class: "row-check",
    "data-testid": "row-select",
    tabindex: "-1",
    "aria-label": t("bulk.selectRow", { subject }),
    checked: state.selected.has(id),
    onclick: (e) => {
      choose(id, e.currentTarget.checked, e.shiftKey);
      // The keys go on from this row (x, arrows), as after a click on the row itself.
      e.currentTarget.nextElementSibling?.focus();
    },
  });
}

/** Choose (or unchoose) one row, or with `range` every row from the anchor to it. */
function choose(id, on, range = false) {
  const ids = listedIds();
  const from = range && anchor ? ids.indexOf(anchor) : -1;
  const to = ids.indexOf(id);
  if (to < 0) return;
  matching = null;
  const span = from >= 0 ? ids.slice(Math.min(from, to), Math.max(from, to) + 1) : [id];
  for (const one of span) {
    if (on) state.selected.add(one);
    else state.selected.delete(one);
  }
  anchor = id;
  syncSelection();
}

/** A click on a row with Shift (a range) or Ctrl/Cmd (one more): true when it chose. */
export function onRowClick(event, id) {
  if (state.listMode === "conversations") return false;
  if (event.shiftKey) {
    event.preventDefault();
    choose(id, true, true);
    return true;
  }
  if (event.ctrlKey || event.metaKey) {
    event.preventDefault();
    choose(id, !state.selected.has(id));
    return true;
  }
  return false;
}

/** Shift+↓/↑: the range from the anchor (else the row left) to the row reached. */
export function extendTo(fromId, toId) {
  if (!toId || state.listMode === "conversations") return;
  const ids = listedIds();
  if (!anchor || !ids.includes(anchor)) anchor = fromId;
  const span = (end) => {
    const a = ids.indexOf(anchor);
    const b = ids.indexOf(end);
    return a < 0 || b < 0 ? [] : ids.slice(Math.min(a, b), Math.max(a, b) + 1);
  };
  // The range shrinks when the arrows come back towards the anchor.
  for (const id of span(fromId)) state.selected.delete(id);
  for (const id of span(toId)) state.selected.add(id);
  syncSelection();
}

/** "x" on a focused row. */
export function toggleRow(id) {
  if (!id || state.listMode === "conversations") return;
  choose(id, !state.selected.has(id));
  announce(state.selected.has(id) ? t("bulk.rowChosen") : t("bulk.rowUnchosen"));
}

export function clearSelection() {
  state.selected.clear();
  anchor = null;
  matching = null;
  syncSelection();
}

/** "Select all on this page": a tri-state checkbox in the list's toolbar. */
export function buildSelectAll() {
  return h(
    "label",
    { id: "select-all-wrap", class: "select-all", hidden: true },
    h("input", {
      id: "select-all",
      type: "checkbox",
      "data-testid": "select-all",
      onchange: (e) => {
        const on = e.currentTarget.checked;
        matching = null;
        for (const id of listedIds()) {
          if (on) state.selected.add(id);
          else state.selected.delete(id);
        }
        anchor = null;
        syncSelection();
      },
    }),
    h("span", { class: "visually-hidden", text: t("bulk.selectAll") }),
  );
}

/** The toolbar of actions on the chosen messages, shown while any are chosen. */
export function buildBulkBar() {
  const button = (testid, text, onclick, extra = {}) =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": testid, text, onclick, ...extra });
  const select = h("select", { id: "bulk-move-select", "data-testid": "bulk-move-select" });
  return h(
    "div",
    {
      id: "bulk-bar",
      class: "bulk-bar",
      role: "toolbar",
      "aria-label": t("bulk.label"),
      "data-testid": "bulk-bar",
      hidden: true,
    },
    h("span", { id: "bulk-count", class: "bulk-count", "data-testid": "bulk-count", tabindex: "-1" }),
    button("bulk-select-matching", "", () => chooseMatching(), { id: "bulk-select-matching", hidden: true }),
    button("bulk-read", t("bulk.markRead"), () => run("read")),
    button("bulk-unread", t("bulk.markUnread"), () => run("unread")),
    button("bulk-flag", t("bulk.flag"), () => run("flag")),
    button("bulk-unflag", t("bulk.unflag"), () => run("unflag")),
    h(
      "span",
      { class: "move" },
      h("label", { for: "bulk-move-select", class: "visually-hidden", text: t("reader.moveTo") }),
      select,
      button("bulk-move", t("reader.move"), () => run("move", select.value)),
    ),
    button("bulk-archive", t("reader.archive"), () => run("archive"), { id: "bulk-archive" }),
    button("bulk-junk", t("reader.junk"), () => run("junk"), { id: "bulk-junk" }),
    button("bulk-delete", t("reader.delete"), () => run("delete"), {
      class: "btn btn-small btn-danger",
    }),
    button("bulk-clear", t("bulk.clear"), () => {
      clearSelection();
      ($("#message-list .message-row[tabindex='0']") || $("#list-title"))?.focus();
    }),
  );
}

/** Draw the selection: the row checkboxes, "select all", and the toolbar. */
export function syncSelection() {
  const ids = listedIds();
  if (matching && (matching.key !== matchingKey() || ids.some((id) => !state.selected.has(id)))) {
    matching = null; // another folder, search or order, or a row unchosen
  }
  const count = selectedIds().length;
  for (const row of document.querySelectorAll('#message-list [data-testid="message-row"]')) {
    const on = state.selected.has(row.dataset.id);
    const li = row.parentElement;
    li.classList.toggle("selected", on);
    const box = li.querySelector(".row-check");
    if (box) box.checked = on;
  }
  const all = $("#select-all");
  if (all) {
    all.checked = ids.length > 0 && count === ids.length;
    all.indeterminate = count > 0 && count < ids.length;
    $("#select-all-wrap").hidden = ids.length === 0;
  }
  const bar = $("#bulk-bar");
  if (!bar) return;
  const wasHidden = bar.hidden;
  bar.hidden = count === 0;
  if (!count) return;
  $("#bulk-count").textContent = t("bulk.count", { count });
  // All rows of this page chosen, and more beyond it: offer every one of them.
  const more = $("#bulk-select-matching");
  const total = Number(state.list.total) || 0;
  more.hidden = Boolean(matching) || count !== ids.length || total <= ids.length;
  if (!more.hidden) {
    more.textContent = t("bulk.selectMatching", { count: Math.min(total, MATCHING_MAX) });
  }
  const role = mailboxById(state.mailboxId)?.role;
  $("#bulk-junk").hidden = role === "junk" || role === "sent" || role === "drafts";
  $("#bulk-archive").hidden = role === "archive" || role === "drafts";
  if (wasHidden) fillTargets();
}

function fillTargets() {
  const select = $("#bulk-move-select");
  if (!select) return;
  const targets = state.mailboxes.filter((m) => m.id !== state.mailboxId);
  select.replaceChildren(
    ...targets.map((m) =>
      h("option", { value: m.id, text: "\u00a0\u00a0".repeat(m.depth || 0) + mailboxLabel(m) }),
    ),
  );
}

function doneText(action, count, target, inTrash) {
  if (action === "move") {
    const name = mailboxLabel(mailboxById(target));
    return name ? t("bulk.movedTo", { count, mailbox: name }) : t("bulk.moved", { count });
  }
  if (action === "delete") return inTrash ? t("bulk.deleted", { count }) : t("bulk.trashed", { count });
  if (action === "junk") return t("bulk.junked", { count });
  if (action === "archive") return t("bulk.archived", { count });
  if (action === "read") return t("bulk.markedRead", { count });
  if (action === "unread") return t("bulk.markedUnread", { count });
  if (action === "flag") return t("bulk.flagged", { count });
  return t("bulk.unflagged", { count });
}

/**
 * Apply `action` to `ids` (default: the chosen rows) from the open mailbox. A move or a
 * delete to Trash offers Undo, which moves the messages back by their new ids.
 */
export async function run(action, target = null, ids = selectedIds()) {
  if (!ids.length) return;
  const from = state.mailboxId;
  const mb = mailboxById(from);
  const inTrash = mb?.role === "trash";
  if (action === "move" && (!target || target === from)) return;
  if (action === "delete" && inTrash) {
    const sure = await confirmDialog({
      title: t("bulk.confirmDelete", { count: ids.length }),
      confirmLabel: t("reader.delete"),
      danger: true,
    });
    if (!sure) return;
  }
  const removing = ["move", "delete", "junk", "archive"].includes(action);
  const before = [...document.querySelectorAll('#message-list [data-testid="message-row"]')].map(
    (r) => r.dataset.id,
  );
  const acted = new Set(ids);
  const first = before.findIndex((id) => acted.has(id));
  const focusedBefore = document.activeElement?.closest?.(".message-row")?.dataset.id || null;
  let results;
  try {
    const body = { action };
    if (action === "move") body.mailbox = target;
    results = await postActions(body, ids);
  } catch (err) {
    reportError(err, t("bulk.failed"));
    await Promise.all([loadList(), refreshMailboxes()]); // some chunks may have gone through
    return;
  }
  matching = null;
  const done = results.filter((r) => !r.error);
  const failed = results.length - done.length;
  for (const id of ids) state.selected.delete(id);
  anchor = null;
  if (removing && state.message && acted.has(state.message.id)) hooks.removedOpen();
  await Promise.all([loadList(), refreshMailboxes()]);
  if (removing) {
    // The row after the first one acted on takes the focus, else the one before it.
    const rest = [...before.slice(first + 1), ...before.slice(0, Math.max(0, first)).reverse()];
    const next = rest.map((id) => (acted.has(id) ? null : rowById(id))).find(Boolean);
    (next || $("#message-list .message-row") || $("#list-title"))?.focus();
  } else {
    (rowById(focusedBefore) || rowById(ids[0]) || $("#list-title"))?.focus();
  }
  let text = doneText(action, done.length, target, inTrash);
  if (failed) text = `${text} ${t("bulk.someFailed", { count: failed })}`;
  const back = done.map((r) => r.new_id).filter((id) => typeof id === "string" && id);
  if (action === "junk" && back.length) {
    offerUndo(text, { ids: back, mailbox: from, how: "restore" });
  } else if ((action === "move" || action === "archive" || (action === "delete" && !inTrash)) && back.length) {
    offerUndo(text, { ids: back, mailbox: from });
  } else {
    announce(text, failed ? "error" : "info");
  }
}

// ---------------------------------------------------------------- dragging onto folders

/** A row starts being dragged: it carries the chosen rows when it is one of them. */
export function dragMessages(event, id) {
  if (state.listMode === "conversations" || !event.dataTransfer) return;
  const ids = state.selected.has(id) ? selectedIds() : [id];
  event.dataTransfer.setData(DRAG_TYPE, JSON.stringify(ids));
  event.dataTransfer.effectAllowed = "move";
}

const dropTarget = (event) => {
  const button = event.target.closest?.('[data-testid="mailbox"]');
  return button && button.dataset.id !== state.mailboxId ? button : null;
};

/** The folder list takes dropped rows (once per shell): a move with Undo. */
export function acceptDrops(nav) {
  nav.addEventListener("dragover", (event) => {
    const button = dropTarget(event);
    if (!button || !event.dataTransfer?.types.includes(DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    for (const el of nav.querySelectorAll(".drop-target")) if (el !== button) el.classList.remove("drop-target");
    button.classList.add("drop-target");
  });
  nav.addEventListener("dragleave", (event) => {
    dropTarget(event)?.classList.remove("drop-target");
  });
  nav.addEventListener("drop", (event) => {
    const button = dropTarget(event);
    for (const el of nav.querySelectorAll(".drop-target")) el.classList.remove("drop-target");
    if (!button) return;
    let ids;
    try {
      ids = JSON.parse(event.dataTransfer?.getData(DRAG_TYPE) || "[]");
    } catch {
      return;
    }
    event.preventDefault();
    const listed = new Set(listedIds());
    ids = Array.isArray(ids) ? ids.filter((id) => typeof id === "string" && listed.has(id)) : [];
    if (ids.length) run("move", button.dataset.id, ids);
  });
}

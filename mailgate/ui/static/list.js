// The message list: loading a page, search, sort, paging, keyboard movement.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { t } from "./i18n.js";
import { refreshMailboxes } from "./mailboxes.js";
import { buildSearchOptions, searchOptions, searchParams } from "./search-panel.js";
import { rowMarks } from "./marks.js";
import {
  buildBulkBar,
  buildSelectAll,
  dragMessages,
  onRowClick,
  rowCheckbox,
  syncSelection,
} from "./selection.js";
import {
  announce,
  isOwnName,
  mailboxById,
  mailboxLabel,
  pageSize,
  reportError,
  state,
} from "./state.js";
import { $, addrName, formatAddr, formatCount, h, shortDate } from "./util.js";

let loadSeq = 0;
let openHandler = () => {};
let openConversationHandler = () => {};

/** The app decides what opening a row does. */
export function onOpenMessage(fn) {
  openHandler = fn;
}

/** …and what opening a conversation row does. */
export function onOpenConversation(fn) {
  openConversationHandler = fn;
}

const ROWS = "#message-list .message-row";
const conversationMode = () => state.listMode === "conversations";
// GET /api/search's bounds: a page of at most 100, starting at most 400 in.
const SEARCH_PAGE_MAX = 100;

/** Whether the list shows GET /api/search's answer: filters, or text in all folders. */
const filtered = () =>
  Object.keys(searchOptions.filters).length > 0 || (searchOptions.everywhere && !!state.q);

/** Load the current page of the open mailbox. keepFocus: return focus to the same row. */
export async function loadList({ keepFocus = false } = {}) {
  const mb = mailboxById(state.mailboxId);
  if (!mb) return;
  const seq = ++loadSeq;
  const threads = conversationMode();
  // "Sender: A to Z" in the inbox is "Recipient: A to Z" in Sent, and back.
  const [key, direction] = state.sort.split("_");
  if (listsRecipients() && key === "from") state.sort = `to_${direction}`;
  if (!listsRecipients() && key === "to") state.sort = `from_${direction}`;
  const searching = !threads && filtered();
  const params = searching ? searchParams(mb.id, state.q) : new URLSearchParams();
  params.set("limit", String(searching ? Math.min(pageSize(), SEARCH_PAGE_MAX) : pageSize()));
  params.set("offset", String(state.list.offset));
  if (!threads && !searching) params.set("sort", state.sort);
  if (state.q && !threads && !searching) params.set("q", state.q);
  $("#message-list")?.setAttribute("aria-busy", "true");
  try {
    const url = threads
      ? api.path`/api/mailboxes/${mb.id}/conversations`
      : searching
        ? "/api/search"
        : api.path`/api/mailboxes/${mb.id}/messages`;
    const data = await api.get(url + `?${params}`);
    if (seq !== loadSeq) return; // a newer request superseded this one
    const total = Number(data?.total) || 0;
    const key = threads ? "conversations" : "messages";
    const items = Array.isArray(data?.[key]) ? data[key] : [];
    // Past the end (after a delete on the last page): step back one page.
    if (!items.length && state.list.offset > 0) {
      state.list.offset = total > 0 ? Math.floor((total - 1) / pageSize()) * pageSize() : 0;
      return loadList({ keepFocus });
    }
    state.list = {
      total,
      offset: Number(data?.offset) || state.list.offset,
      messages: threads ? [] : items,
      conversations: threads ? items : [],
    };
    $("#new-mail")?.setAttribute("hidden", "");
    // Only where a row has focus now: a live refresh must not pull focus back from
    // the reader opened while it loaded.
    const focusedId = keepFocus ? focusedRowId() : null;
    const before = focusedId ? rowIds() : [];
    renderList();
    // The focused row may be gone (moved elsewhere): its neighbour takes the focus.
    if (focusedId && !focusRow(focusedId)) focusNeighbour(before, before.indexOf(focusedId));
  } catch (err) {
    if (seq === loadSeq) reportError(err, t("list.loadFailed"));
  } finally {
    if (seq === loadSeq) $("#message-list")?.removeAttribute("aria-busy");
  }
}

const rowIds = () =>
  [...document.querySelectorAll('#message-list [data-testid="message-row"]')].map((r) => r.dataset.id);

/** Focus the row after `index` in the old order that is still listed, else the one before. */
function focusNeighbour(oldIds, index) {
  const ids = [...oldIds.slice(index + 1), ...oldIds.slice(0, Math.max(0, index)).reverse()];
  for (const id of ids) if (focusRow(id)) return;
  const first = $('#message-list [data-testid="message-row"]');
  (first || $("#list-title"))?.focus();
}

function focusedRowId() {
  const el = document.activeElement;
  return el?.classList?.contains("message-row") && el.closest("#message-list")
    ? el.dataset.id
    : null;
}

export function focusRow(id) {
  const row = rowById(id);
  if (row) row.focus();
  return Boolean(row);
}

export const rowById = (id) =>
  $("#message-list")?.querySelector(`.message-row[data-id="${CSS.escape(id)}"]`);

const openId = () => state.message?.id || state.conversation?.id || null;

const SVG = "http://www.w3.org/2000/svg";

/** A paper clip, drawn as one stroked path (decorative: the row says it in words). */
function clipIcon() {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({
    viewBox: "0 0 10 17",
    "aria-hidden": "true",
    focusable: "false",
  })) {
    svg.setAttribute(key, value);
  }
  const path = document.createElementNS(SVG, "path");
  for (const [key, value] of Object.entries({
    d: "M3 5v6.5a2 2 0 0 0 4 0V3.5a3 3 0 0 0-6 0V12a4 4 0 0 0 8 0V5",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "1.4",
    "stroke-linecap": "round",
  })) {
    path.setAttribute(key, value);
  }
  svg.appendChild(path);
  return svg;
}

/** In Sent and Drafts a row names its recipients ("To: …"), elsewhere its sender. */
const listsRecipients = () => ["sent", "drafts"].includes(mailboxById(state.mailboxId)?.role);

function rowPeople(msg) {
  if (!listsRecipients()) {
    const from = Array.isArray(msg.from) ? msg.from : [];
    const sender = from.map(addrName).join(", ") || t("list.unknownSender");
    return {
      title: from.map(formatAddr).join(", ") || null,
      node: h("bdi", { class: "row-from", translate: from.length ? "no" : null, text: sender }),
    };
  }
  const to = Array.isArray(msg.to) ? msg.to : [];
  return {
    title: to.map(formatAddr).join(", ") || null,
    node: h(
      "span",
      { class: "row-from", "data-testid": "row-recipients" },
      h("span", { class: "row-to", text: `${t("list.toPrefix")} ` }),
      to.length
        ? h("bdi", { translate: "no", text: to.map(addrName).join(", ") })
        : h("span", { text: t("list.noRecipients") }),
    ),
  };
}

function renderRow(msg) {
  const people = rowPeople(msg);
  const subject = (msg.subject || "").trim() || t("list.noSubject");
  const classes = ["message-row"];
  if (!msg.seen) classes.push("unread");
  if (msg.flagged) classes.push("flagged");
  if (openId() === msg.id) classes.push("open");
  const chosen = state.selected.has(msg.id);
  return h(
    "li",
    { class: chosen ? "message-item selected" : "message-item" },
    rowCheckbox(msg.id, subject),
    h(
      "button",
      {
        type: "button",
        class: classes.join(" "),
        "data-testid": "message-row",
        "data-id": msg.id,
        "aria-current": openId() === msg.id ? "true" : null,
        title: people.title,
        tabindex: "-1",
        draggable: "true",
        ondragstart: (e) => dragMessages(e, msg.id),
        // Shift and Ctrl (Cmd) clicks choose rows; a plain click opens the message.
        onclick: (e) => onRowClick(e, msg.id) || openHandler(msg.id),
      },
      h("span", { class: "row-dot", "aria-hidden": "true" }),
      msg.seen ? null : h("span", { class: "visually-hidden", text: `${t("list.unread")} ` }),
      people.node,
      h(
        "time",
        { class: "row-date", datetime: msg.date || null },
        ...rowMarks(msg),
        msg.flagged
          ? h(
              "span",
              { class: "row-flag" },
              h("span", { "aria-hidden": "true", text: "⚑" }),
              h("span", { class: "visually-hidden", text: `${t("list.flagged")} ` }),
            )
          : null,
        msg.has_attachments
          ? h(
              "span",
              { class: "row-clip", "data-testid": "row-attachment" },
              clipIcon(),
              h("span", { class: "visually-hidden", text: `${t("list.attachments")} ` }),
            )
          : null,
        shortDate(msg.date),
      ),
      h("span", {
        class: "row-subject",
        dir: "auto",
        translate: (msg.subject || "").trim() ? "no" : null,
        text: subject,
      }),
      msg.preview
        ? h("span", { class: "row-preview", dir: "auto", translate: "no", text: msg.preview })
        : null,
      folderOf(msg),
    ),
  );
}

/** A found message from another folder names that folder. */
function folderOf(msg) {
  if (!msg.mailbox || msg.mailbox === state.mailboxId) return null;
  const mb = mailboxById(msg.mailbox);
  return h("span", {
    class: "row-folder",
    "data-testid": "row-folder",
    text: t("search.inFolder", { folder: mb ? mailboxLabel(mb) : "…" }),
  });
}

/** One conversation: its people, subject, size, newest date; opened with Enter or a click. */
function renderConversationRow(conv) {
  const people = Array.isArray(conv.participants) ? conv.participants : [];
  const names = people.map(addrName).join(", ") || t("list.unknownSender");
  const subject = (conv.subject || "").trim() || t("list.noSubject");
  const unread = Number(conv.unread) || 0;
  const classes = ["message-row", "conversation-row"];
  if (unread) classes.push("unread");
  if (openId() === conv.id) classes.push("open");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: classes.join(" "),
        "data-testid": "conversation-row",
        "data-id": conv.id,
        "aria-current": openId() === conv.id ? "true" : null,
        tabindex: "-1",
        onclick: () => openConversationHandler(conv.id),
      },
      h("span", { class: "row-dot", "aria-hidden": "true" }),
      unread
        ? h("span", {
            class: "visually-hidden",
            text: `${t("conv.unread", { count: unread })} `,
          })
        : null,
      h("bdi", { class: "row-from", translate: people.length ? "no" : null, text: names }),
      h(
        "time",
        { class: "row-date", datetime: conv.date || null },
        conv.has_attachments
          ? h(
              "span",
              { class: "row-clip" },
              h("span", { class: "visually-hidden", text: `${t("list.attachments")} ` }),
            )
          : null,
        shortDate(conv.date),
      ),
      h(
        "span",
        { class: "row-subject" },
        h("span", {
          dir: "auto",
          translate: (conv.subject || "").trim() ? "no" : null,
          text: subject,
        }),
        h("span", {
          class: "row-count",
          "data-testid": "conversation-count",
          text: t("conv.size", { count: Number(conv.count) || 0 }),
        }),
      ),
    ),
  );
}

/** Redraw the rows, the range and the pager from state. */
export function renderList() {
  const ul = $("#message-list");
  if (!ul) return;
  const threads = conversationMode();
  const { total, offset } = state.list;
  const messages = threads ? state.list.conversations || [] : state.list.messages;
  if (!threads) {
    // The selection keeps only rows still listed (a refresh, a page turn, another folder).
    const listed = new Set(messages.map((m) => m.id));
    for (const id of [...state.selected]) if (!listed.has(id)) state.selected.delete(id);
  } else state.selected.clear();
  ul.replaceChildren(...messages.map(threads ? renderConversationRow : renderRow));
  rovingTabStop();
  syncSelection();
  const mb = mailboxById(state.mailboxId);
  const title = $("#list-title");
  title.textContent = mailboxLabel(mb);
  if (mb && isOwnName(mb)) title.setAttribute("translate", "no");
  else title.removeAttribute("translate");
  const empty = $("#list-empty");
  empty.hidden = messages.length > 0;
  empty.textContent = threads
    ? t("conv.empty")
    : state.q
      ? t("list.noMatch")
      : t("list.empty");
  const whole = offset === 0 && messages.length >= total;
  let range = "";
  if (total && whole) range = t("list.count", { count: total });
  else if (total) {
    range = t("list.range", { first: offset + 1, last: offset + messages.length, total });
  }
  $("#list-range").textContent = range;
  $("#page-prev").disabled = offset <= 0;
  $("#page-next").disabled = offset + messages.length >= total;
  for (const [mode, testid] of [
    ["messages", "mode-messages"],
    ["conversations", "mode-conversations"],
  ]) {
    $(`[data-testid="${testid}"]`)?.setAttribute(
      "aria-pressed",
      String((state.listMode || "messages") === mode),
    );
  }
  // The conversation list has neither search nor another order.
  $("#search-form").hidden = threads;
  const emptyBtn = $("#empty-folder");
  if (emptyBtn) {
    const role = mb?.role;
    emptyBtn.hidden = !(role === "trash" || role === "junk") || !total || Boolean(state.q);
    emptyBtn.textContent = role === "junk" ? t("list.emptyJunk") : t("list.emptyTrash");
  }
  const sortSelect = $("#sort-select");
  $("#sort-choice").hidden = threads;
  // Sent and Drafts sort by recipient where other mailboxes sort by sender.
  const byRecipient = listsRecipients();
  for (const option of sortSelect.options) {
    if (option.value.startsWith("from_")) option.hidden = byRecipient;
    if (option.value.startsWith("to_")) option.hidden = !byRecipient;
  }
  if (sortSelect.value !== state.sort) sortSelect.value = state.sort;
}

/** Update one conversation row after a local change (its unread count). */
export function updateConversationRow(id, changes) {
  const list = state.list.conversations || [];
  const conv = list.find((c) => c.id === id);
  if (!conv) return;
  Object.assign(conv, changes);
  const old = rowById(id);
  if (!old || !conversationMode()) return;
  const hadFocus = document.activeElement === old;
  const wasStop = old.tabIndex === 0;
  const li = renderConversationRow(conv);
  old.parentElement.replaceWith(li);
  if (wasStop) li.querySelector(".message-row").tabIndex = 0;
  if (hadFocus) li.querySelector(".message-row").focus();
}

/** Switch between the list of messages and the list of conversations. */
export function setListMode(mode) {
  if ((state.listMode || "messages") === mode) return;
  state.listMode = mode;
  state.list = { total: 0, offset: 0, messages: [], conversations: [] };
  renderList();
  return loadList();
}

/** Update one row after a local change (seen, flagged). */
export function updateRow(id, changes) {
  const msg = state.list.messages.find((m) => m.id === id);
  if (!msg || conversationMode()) return;
  Object.assign(msg, changes);
  const old = rowById(id);
  if (!old) return;
  const hadFocus = document.activeElement === old;
  const wasStop = old.tabIndex === 0;
  const li = renderRow(msg);
  old.parentElement.replaceWith(li);
  if (wasStop) li.querySelector(".message-row").tabIndex = 0;
  if (hadFocus) li.querySelector(".message-row").focus();
}

/** Mark which row is open (or none). */
export function markOpenRow(id) {
  for (const row of document.querySelectorAll(ROWS)) {
    const on = row.dataset.id === id;
    row.classList.toggle("open", on);
    if (on) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

/**
 * One tab stop for the whole list (roving tabindex): the focused row, else the open one,
 * else the first takes part in the Tab order; the arrow keys move among the rows.
 */
let stopId = null; // the row that holds the list's tab stop, kept across redraws

export function rovingTabStop(id = null) {
  const rows = [...document.querySelectorAll(ROWS)];
  if (!rows.length) return;
  const pick =
    rows.find((r) => r.dataset.id === id) ||
    rows.find((r) => r === document.activeElement) ||
    rows.find((r) => r.dataset.id === stopId) ||
    rows.find((r) => r.dataset.id === openId()) ||
    rows[0];
  stopId = pick.dataset.id;
  for (const row of rows) row.tabIndex = row === pick ? 0 : -1;
}

/** Move keyboard focus by one row (j/k, arrows), or to the first or last (Home, End). */
export function moveSelection(step, { edge = false } = {}) {
  const rows = [...document.querySelectorAll(ROWS)];
  if (!rows.length) return;
  const current = rows.indexOf(document.activeElement);
  let index;
  if (edge) index = step > 0 ? rows.length - 1 : 0;
  else if (current >= 0) index = current + step;
  else {
    const open = rows.findIndex((r) => r.dataset.id === openId());
    index = open >= 0 ? open + step : step > 0 ? 0 : rows.length - 1;
  }
  index = Math.max(0, Math.min(rows.length - 1, index));
  rows[index].focus();
  rows[index].scrollIntoView({ block: "nearest" });
}

export function goPage(step) {
  const next = state.list.offset + step * pageSize();
  if (next < 0 || (step > 0 && next >= state.list.total)) return;
  state.list.offset = next;
  loadList().then(() => $("#message-list")?.scrollTo?.(0, 0));
}

/** The orders GET /api/mailboxes/{id}/messages takes, with what the list calls them. */
const SORTS = [
  ["date_desc", () => t("list.newestFirst")],
  ["date_asc", () => t("list.oldestFirst")],
  ["arrival_desc", () => t("list.sortArrivalNewest")],
  ["arrival_asc", () => t("list.sortArrivalOldest")],
  ["from_asc", () => t("list.sortSenderAsc")],
  ["from_desc", () => t("list.sortSenderDesc")],
  ["to_asc", () => t("list.sortRecipientAsc")],
  ["to_desc", () => t("list.sortRecipientDesc")],
  ["subject_asc", () => t("list.sortSubjectAsc")],
  ["subject_desc", () => t("list.sortSubjectDesc")],
  ["size_desc", () => t("list.sortLargest")],
  ["size_asc", () => t("list.sortSmallest")],
];

export function setSort(sort) {
  const known = SORTS.find(([value]) => value === sort);
  if (!known || state.sort === sort) return;
  state.sort = sort;
  state.list.offset = 0;
  loadList().then(() => announce(t("list.sorted", { order: known[1]() })));
}

function sortChoice() {
  const select = h(
    "select",
    {
      id: "sort-select",
      class: "sort-select",
      "data-testid": "sort-select",
      onchange: (e) => setSort(e.currentTarget.value),
    },
    SORTS.map(([value, label]) => h("option", { value, text: label() })),
  );
  select.value = state.sort;
  return h(
    "span",
    { id: "sort-choice", class: "sort-choice" },
    h("label", { for: "sort-select", class: "visually-hidden", text: t("list.sortLabel") }),
    select,
  );
}

export function search(q) {
  state.q = q.trim();
  state.list.offset = 0;
  loadList();
}

/** Build the list pane's controls (once per session). */
export function buildListPane({ onBack, onModeChange }) {
  const searchInput = h("input", {
    id: "search-input",
    type: "search",
    name: "q",
    autocomplete: "off",
    placeholder: t("list.search"),
    "data-testid": "search-input",
    "aria-keyshortcuts": "/",
  });
  const form = h(
    "form",
    {
      id: "search-form",
      class: "search",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        search(searchInput.value);
      },
    },
    h("label", { for: "search-input", class: "visually-hidden", text: t("list.searchLabel") }),
    searchInput,
    h("button", {
      type: "submit",
      class: "btn",
      "data-testid": "search-submit",
      text: t("list.search"),
    }),
  );
  const options = buildSearchOptions(() => {
    state.q = searchInput.value.trim();
    state.list.offset = 0;
    loadList();
  });
  form.append(options.toggle);
  searchInput.addEventListener("search", () => {
    // Clearing the field (the × button or Escape) shows the whole mailbox again.
    if (!searchInput.value && state.q) search("");
  });
  return h(
    "section",
    { class: "pane pane-list", "aria-labelledby": "list-title" },
    h(
      "div",
      { class: "pane-head" },
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost narrow-only",
          "data-testid": "back-to-mailboxes",
          onclick: onBack,
        },
        h("span", { class: "back-mark", "aria-hidden": "true", text: "‹" }),
        t("shell.mailboxes"),
      ),
      h("h2", { id: "list-title", class: "pane-title", tabindex: "-1" }),
    ),
    form,
    options.panel,
    h(
      "div",
      {
        class: "view-toggle",
        role: "group",
        "aria-label": t("conv.viewLabel"),
      },
      h("button", {
        type: "button",
        class: "btn btn-small",
        "data-testid": "mode-messages",
        "aria-pressed": "true",
        text: t("conv.messages"),
        onclick: () => onModeChange("messages"),
      }),
      h("button", {
        type: "button",
        class: "btn btn-small",
        "data-testid": "mode-conversations",
        "aria-pressed": "false",
        text: t("conv.conversations"),
        onclick: () => onModeChange("conversations"),
      }),
    ),
    h(
      "div",
      { class: "list-toolbar" },
      buildSelectAll(),
      sortChoice(),
      h("button", {
        id: "empty-folder",
        type: "button",
        class: "btn btn-small btn-danger",
        "data-testid": "empty-folder",
        hidden: true,
        onclick: () => emptyFolder(),
      }),
      h("span", { id: "list-range", class: "list-range", "data-testid": "list-range" }),
      h(
        "span",
        { class: "pager" },
        h("button", {
          id: "page-prev",
          type: "button",
          class: "btn btn-small",
          "data-testid": "page-prev",
          "aria-label": t("list.previousPage"),
          text: "‹",
          onclick: () => goPage(-1),
        }),
        h("button", {
          id: "page-next",
          type: "button",
          class: "btn btn-small",
          "data-testid": "page-next",
          "aria-label": t("list.nextPage"),
          text: "›",
          onclick: () => goPage(1),
        }),
      ),
    ),
    buildBulkBar(),
    h("button", {
      id: "new-mail",
      type: "button",
      class: "new-mail",
      "data-testid": "new-mail",
      hidden: true,
      text: t("list.newMail"),
      onclick: () => loadList(),
    }),
    h("ul", {
      id: "message-list",
      class: "message-list",
      "aria-labelledby": "list-title",
      onfocusin: (e) => {
        const row = e.target.closest?.(".message-row");
        if (row) rovingTabStop(row.dataset.id);
      },
    }),
    h("p", { id: "list-empty", class: "list-empty", hidden: true }),
  );
}

/** "Empty Trash" / "Empty Junk": asked first, then every message there is deleted for good. */
async function emptyFolder() {
  const mb = mailboxById(state.mailboxId);
  if (!mb || (mb.role !== "trash" && mb.role !== "junk")) return;
  const junk = mb.role === "junk";
  const sure = await confirmDialog({
    title: junk ? t("list.emptyJunkTitle") : t("list.emptyTrashTitle"),
    body: t("list.emptyBody"),
    confirmLabel: junk ? t("list.emptyJunk") : t("list.emptyTrash"),
    danger: true,
  });
  if (!sure) return;
  try {
    await api.post(api.path`/api/mailboxes/${mb.id}/empty`, {});
    state.list.offset = 0;
    await Promise.all([loadList(), refreshMailboxes()]);
    announce(t("list.emptied"));
    $("#list-title")?.focus();
  } catch (err) {
    reportError(err, t("list.emptyFailed"));
  }
}

// The reader: headers, the sandboxed body frame, attachments, message actions.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { touch } from "./idle.js";
import { loadList, markOpenRow, rowById, updateConversationRow, updateRow } from "./list.js";
import { countChange, holdCounts, refreshMailboxes } from "./mailboxes.js";
import { identityFor } from "./identities.js";
import { remoteSenders, setRemoteSenders, updatePrefs } from "./prefs.js";
import { addSender } from "./contacts-view.js";
import { readerMarks } from "./marks.js";
import { readerTools } from "./reader-tools.js";
import { t } from "./i18n.js";
import { announce, mailboxById, mailboxLabel, reportError, state } from "./state.js";
import { offerUndo } from "./undo.js";
import { $, addrName, addrNodes, formatAddr, fullDate, h, humanSize, shortDate } from "./util.js";

let openSeq = 0;
let hooks = { showPane: () => {}, compose: () => {}, backToList: () => {}, closed: () => {} };

/** showPane(view), compose(mode, message), backToList() come from the app. */
export function initReader(h) {
  hooks = { ...hooks, ...h };
}

const pane = () => $("#reader-pane");

/** The empty reader (nothing open). Also wipes any message content from the DOM. */
export function closeReader() {
  openSeq += 1;
  state.message = null;
  state.conversation = null;
  const p = pane();
  if (!p) return;
  p.replaceChildren(
    h("div", { class: "reader-empty" }, h("p", { text: t("reader.empty") })),
  );
  markOpenRow(null);
  hooks.closed();
}

/**
 * GET /api/messages/{id} and show it. When the list's summary says the message has HTML,
 * the body frame is put in at once and loads beside the message JSON (the server shares
 * one open between the two requests); the headers are filled in around it. Without a
 * summary (a deep link) the frame follows the JSON, as the JSON says.
 */
export async function openMessage(id, { focus = true } = {}) {
  const seq = ++openSeq;
  state.conversation = null;
  const listed = state.list.messages.find((m) => m.id === id);
  const wasUnread = Boolean(listed && !listed.seen);
  // Opening an unread message (or one not listed here) marks it read on the server.
  const change = listed?.seen ? null : countChange(state.mailboxId);
  markOpenRow(id);
  hooks.showPane("reader");
  const loading = h(
    "div",
    { class: "reader-empty", "aria-busy": "true" },
    h("p", { text: t("status.loading") }),
  );
  // The message's own request goes first: the frame's (a peek) then joins its open.
  const answer = api.get(api.path`/api/messages/${id}`);
  const early = listed?.has_html === true ? bodyFrame(api.path`/api/messages/${id}/body.html`) : null;
  pane().replaceChildren(early ? h("article", { class: "reader" }, loading, early) : loading);
  try {
    const msg = await answer;
    if (msg && wasUnread) {
      // Reading marked it seen on the server (even if another message was opened
      // meanwhile); mirror that locally.
      change.counted(id, false, true);
      updateRow(id, { seen: true });
    }
    if (seq !== openSeq || !msg) return;
    // Opening (without peek) marked it seen, whatever flags the answer was built from.
    msg.seen = true;
    state.message = msg;
    renderReader(msg, early);
    if (focus) $("#reader-subject")?.focus();
  } catch (err) {
    if (seq !== openSeq) return;
    closeReader();
    hooks.showPane("list");
    handleGoneMessage(err);
  } finally {
    change?.end();
  }
}

/** 404/409 mean the list is out of date: say so and reload it. */
function handleGoneMessage(err) {
  if (err?.code === "stale_message" || err?.code === "not_found") {
    announce(t("reader.stale"), "error");
    loadList();
    return;
  }
  reportError(err);
}

function bodyUrl(msg) {
  return api.safeApiUrl(msg.html_url, api.path`/api/messages/${msg.id}/body.html`);
}

/** One header line; addresses each in <bdi>, so mixed-direction names keep their order. */
function headerRow(label, value, testid) {
  if (!value || (Array.isArray(value) && !value.length)) return null;
  const content = Array.isArray(value) ? value : [value];
  return [
    h("dt", { text: label }),
    h("dd", { "data-testid": testid, translate: "no" }, ...content),
  ];
}

// Candidate links in plain text: the same pattern and trailing-punctuation rule as the
// server's sanitize.text_links, which says which candidates are links and what their
// cleaned href is. A candidate the server did not list stays text.
const TEXT_URL = /(?:https?:\/\/|mailto:)[^\s<>"'\u0000-\u001f\u007f]+/gi;
const TRAILING = ".,;:!?'\")]}>";

function splitTrailing(url) {
  let end = url.length;
  const count = (s, c) => s.split(c).length - 1;
  while (end && TRAILING.includes(url[end - 1])) {
    const head = url.slice(0, end);
    if (url[end - 1] === ")" && count(head, "(") >= count(head, ")")) break;
    end -= 1;
  }
  return url.slice(0, end);
}

/** The text body as text nodes and links (DOM only, never markup). */
function linkedText(text, links) {
  const hrefs = new Map();
  for (const link of Array.isArray(links) ? links : []) {
    if (typeof link?.text === "string" && typeof link?.href === "string") {
      hrefs.set(link.text, link.href);
    }
  }
  if (!hrefs.size) return [text];
  const out = [];
  let pos = 0;
  for (const match of text.matchAll(TEXT_URL)) {
    const url = splitTrailing(match[0]);
    const href = hrefs.get(url);
    if (!href || !/^(https?:|mailto:)/i.test(href)) continue;
    out.push(text.slice(pos, match.index));
    out.push(
      h("a", {
        href,
        target: "_blank",
        rel: "noopener noreferrer",
        referrerpolicy: "no-referrer",
        "data-testid": "text-link",
        text: url,
      }),
    );
    pos = match.index + url.length;
  }
  out.push(text.slice(pos));
  return out;
}

/** The sandboxed frame for an HTML body at ``src``. */
function bodyFrame(src) {
  // No scripts, opaque origin, no forms, no top navigation. Popups only, so that a link
  // (target=_blank, rel=noopener noreferrer, set by the server's sanitizer) opens a new
  // tab that is not itself sandboxed. Never allow-scripts or allow-same-origin.
  return h("iframe", {
    sandbox: "allow-popups allow-popups-to-escape-sandbox",
    src,
    referrerpolicy: "no-referrer",
    title: t("reader.frameTitle"),
    class: "reader-frame",
    "data-testid": "reader-frame",
  });
}

/** The body: the frame (``early``, the one already loading, when given) or the text. */
function renderBody(msg, early = null) {
  if (msg.has_html) {
    const src = bodyUrl(msg);
    if (!early) return bodyFrame(src);
    // The JSON's URL wins: it asks for remote images when the reader always loads them.
    if (early.getAttribute("src") !== src) early.src = src;
    return early;
  }
  if (typeof msg.text === "string") {
    return h(
      "pre",
      { class: "reader-text", "data-testid": "reader-text", dir: "auto", translate: "no" },
      ...linkedText(msg.text, msg.text_links),
    );
  }
  return h("p", { class: "reader-text muted", text: t("reader.noText") });
}

/** The sender's address (lower case) for the per-sender remote-image list, or "". */
function senderOf(msg) {
  const first = Array.isArray(msg.from) ? msg.from[0] : null;
  const email = (typeof first === "string" ? first : first?.email || "").trim().toLowerCase();
  return email.includes("@") ? email : "";
}

/** The body URL with or without `remote=allow` (html_url may already carry it). */
function bodyUrlWith(msg, allow) {
  const url = new URL(bodyUrl(msg), window.location.origin);
  if (allow) url.searchParams.set("remote", "allow");
  else url.searchParams.delete("remote");
  return url.pathname + url.search;
}

function blockedText(msg) {
  const n = Number(msg.remote_content_blocked) || 0;
  return n > 0 ? t("reader.remoteBlockedCount", { count: n }) : t("reader.remoteBlocked");
}

/**
 * A message asking for a read receipt (Disposition-Notification-To): a choice, never an
 * automatic answer. Nothing is sent unless "Send receipt" is clicked; either answer is
 * final (the server flags the message $MDNSent and it is not asked again).
 */
function receiptNotice(msg) {
  const to = Array.isArray(msg.receipt_to) ? msg.receipt_to : [];
  if (!to.length || msg.receipt_handled === true) return null;
  const text = h("span", { text: t("reader.receiptAsk", { sender: formatAddr(to[0]) }) });
  const box = h("div", { class: "notice", "data-testid": "receipt-notice" }, text);
  const buttons = [];
  const answer = async (action) => {
    for (const b of buttons) b.disabled = true;
    try {
      const identity = identityFor(msg);
      await api.post(api.path`/api/messages/${msg.id}/receipt`, {
        action,
        identity: identity ? identity.id : null,
      });
      msg.receipt_handled = true;
      const done = action === "send" ? t("reader.receiptSent") : t("reader.receiptIgnored");
      box.replaceChildren(h("span", { "data-testid": "receipt-done", text: done }));
      announce(done);
    } catch (err) {
      for (const b of buttons) b.disabled = false;
      reportError(err, t("reader.receiptFailed"));
    }
  };
  const button = (testid, label, action) =>
    h("button", {
      type: "button",
      class: "btn btn-small",
      "data-testid": testid,
      text: label,
      onclick: () => answer(action),
    });
  buttons.push(
    button("receipt-send", t("reader.receiptSend"), "send"),
    button("receipt-ignore", t("reader.receiptIgnore"), "ignore"),
  );
  box.append(...buttons);
  return box;
}

/**
 * The remote-content notice above the body. Modes: "blocked" (offer a one-off load and,
 * per sender, always loading), "loaded" (this once) and "allowed" (the sender is on the
 * list: msg.remote_allowed, or just added). Buttons only with the proxy and an HTML frame.
 */
function remoteNotice(msg, frame) {
  const allowed = msg.remote_allowed === true;
  if (!allowed && !(Number(msg.remote_content_blocked) > 0)) return null;
  const box = h("div", { class: "notice", "data-testid": "remote-blocked" });
  const canLoad = state.features.proxy === true && frame?.tagName === "IFRAME";
  const sender = senderOf(msg);
  const show = (mode) => renderRemoteNotice(box, msg, frame, { mode, canLoad, sender, show });
  show(allowed ? "allowed" : "blocked");
  return box;
}

function renderRemoteNotice(box, msg, frame, { mode, canLoad, sender, show }) {
  const hadFocus = box.contains(document.activeElement);
  box.dataset.testid = mode === "blocked" ? "remote-blocked" : "remote-loaded";
  const button = (testid, text, onclick) =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": testid, text, onclick });
  const load = (allow) => {
    frame.src = bodyUrlWith(msg, allow);
    // The frame's request counts as activity on the server.
    touch();
  };
  const always =
    canLoad && sender
      ? button("remote-always", t("reader.remoteAlways"), async () => {
          if ((await changeSender(sender, true)) && box.isConnected) {
            msg.remote_allowed = true;
            if (mode !== "loaded") load(true);
            show("allowed");
          }
        })
      : null;
  const parts = [];
  if (mode === "blocked") {
    parts.push(h("span", { text: blockedText(msg) }));
    if (canLoad) {
      parts.push(
        button("load-remote", t("reader.remoteLoad"), () => {
          load(true);
          show("loaded");
        }),
      );
    }
    parts.push(always);
  } else {
    parts.push(h("span", { text: t("reader.remoteLoaded") }));
    if (mode === "loaded") parts.push(always);
    else if (sender && frame?.tagName === "IFRAME") {
      parts.push(
        button("remote-stop", t("reader.remoteStop"), async () => {
          if ((await changeSender(sender, false)) && box.isConnected) {
            msg.remote_allowed = false;
            load(false);
            show("blocked");
          }
        }),
      );
    }
  }
  box.replaceChildren(...parts.filter(Boolean));
  if (hadFocus) (box.querySelector("button") || $("#reader-subject"))?.focus();
}

/**
 * Add the sender to remote_images_senders, or take it off (with its domain, when a
 * domain entry is what matched). Returns whether the preferences were saved.
 */
async function changeSender(sender, add) {
  const domain = sender.slice(sender.lastIndexOf("@") + 1);
  let wholeDomain = false;
  try {
    await updatePrefs((prefs) => {
      const list = remoteSenders(prefs);
      wholeDomain = !add && list.includes(domain);
      const next = add
        ? [...list.filter((s) => s !== sender), sender]
        : list.filter((s) => s !== sender && s !== domain);
      setRemoteSenders(prefs, next);
    });
    // Status messages never name anyone.
    announce(
      add
        ? t("reader.senderAdded")
        : wholeDomain
          ? t("reader.domainRemoved")
          : t("reader.senderRemoved"),
    );
    return true;
  } catch (err) {
    reportError(err, t("prefs.saveFailed"));
    return false;
  }
}

// Attachments with a preview: raster images (never SVG, which could carry script) up to
// 10 MiB, and PDFs up to 20 MiB (their first page). The server sends a small PNG it made
// itself (GET …/parts/{part}/preview): PDFium draws the page in a reading worker, where
// no script of the PDF's runs and nothing remote loads.
const PREVIEW_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const PREVIEW_MAX_BYTES = 10 * 1024 * 1024;
const PDF_PREVIEW_MAX_BYTES = 20 * 1024 * 1024;

function attachmentPreview(a, url, name) {
  const type = String(a.content_type || "").toLowerCase();
  const pdf = type === "application/pdf";
  const cap = pdf ? PDF_PREVIEW_MAX_BYTES : PREVIEW_TYPES.has(type) ? PREVIEW_MAX_BYTES : 0;
  if (!(Number(a.size) > 0) || a.size > cap) return null;
  return h(
    "span",
    { class: "attachment-preview" },
    h("img", {
      src: `${url}/preview`,
      alt: pdf ? t("reader.pdfPreview", { name }) : t("reader.imagePreview", { name }),
      loading: "lazy",
      decoding: "async",
      "data-testid": "attachment-preview",
      // No preview (too large, encrypted, not what it claims): the file is still listed.
      onerror: (e) => e.currentTarget.closest(".attachment-preview")?.remove(),
    }),
  );
}

function attachmentList(msg) {
  const list = (Array.isArray(msg.attachments) ? msg.attachments : []).filter((a) => !a.inline);
  if (!list.length) return null;
  return h(
    "section",
    { class: "attachments", "aria-labelledby": "attachments-title" },
    h("h3", { id: "attachments-title", text: t("reader.attachments", { count: list.length }) }),
    h(
      "ul",
      {},
      list.map((a) => {
        const name = a.filename || t("reader.attachmentName");
        const url = api.safeApiUrl(a.url, api.path`/api/messages/${msg.id}/parts/${a.part}`);
        return h(
          "li",
          {},
          attachmentPreview(a, url, name),
          h(
            "a",
            {
              href: url,
              download: name,
              rel: "noopener noreferrer",
              "data-testid": "attachment-link",
              class: "attachment-link",
            },
            h("bdi", { class: "attachment-name", translate: a.filename ? "no" : null, text: name }),
          ),
          h("data", {
            class: "attachment-size",
            value: String(a.size ?? ""),
            text: humanSize(a.size),
          }),
        );
      }),
    ),
  );
}

function moveControl(msg) {
  const targets = state.mailboxes.filter((m) => m.id !== state.mailboxId);
  if (!targets.length) return null;
  const select = h(
    "select",
    { id: "move-select", "data-testid": "move-select" },
    targets.map((m) =>
      h("option", { value: m.id, text: "\u00a0\u00a0".repeat(m.depth || 0) + mailboxLabel(m) }),
    ),
  );
  return h(
    "span",
    { class: "move" },
    h("label", { for: "move-select", text: t("reader.moveTo") }),
    select,
    h("button", {
      type: "button",
      class: "btn btn-small",
      "data-testid": "move-submit",
      text: t("reader.move"),
      onclick: () => moveMessage(msg, select.value),
    }),
  );
}

function renderReader(msg, early = null) {
  const body = renderBody(msg, early);
  const flagBtn = h("button", {
    type: "button",
    class: "btn btn-small",
    "data-testid": "flag-toggle",
    "aria-pressed": msg.flagged ? "true" : "false",
    text: msg.flagged ? t("reader.unflag") : t("reader.flag"),
    onclick: () => setFlag(msg, !msg.flagged),
  });
  const action = (testid, text, onclick, extra = {}) =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": testid, text, onclick, ...extra });
  const toolbar = h(
    "div",
    { class: "reader-toolbar", role: "toolbar", "aria-label": t("reader.actions") },
    h(
      "button",
      {
        type: "button",
        class: "btn btn-ghost narrow-only",
        "data-testid": "back-to-list",
        onclick: () => hooks.backToList(),
      },
      h("span", { class: "back-mark", "aria-hidden": "true", text: "‹" }),
      t("reader.back"),
    ),
    // A draft is for finishing: "Continue editing" opens it in the compose form.
    mailboxById(state.mailboxId)?.role === "drafts"
      ? action(
          "edit-draft",
          t("reader.editDraft"),
          async (e) => {
            // Busy while the server copies the draft's files for the form.
            const button = e.currentTarget;
            button.disabled = true;
            try {
              await hooks.compose("draft", msg);
            } finally {
              button.disabled = false;
            }
          },
          { class: "btn btn-small btn-primary", "aria-keyshortcuts": "e" },
        )
      : null,
    action("reply", t("reader.reply"), () => hooks.compose("reply", msg), {
      "aria-keyshortcuts": "r",
    }),
    action("reply-all", t("reader.replyAll"), () => hooks.compose("replyAll", msg), {
      "aria-keyshortcuts": "a",
    }),
    action("forward", t("reader.forward"), () => hooks.compose("forward", msg), {
      "aria-keyshortcuts": "f",
    }),
    action("forward-attachment", t("reader.forwardAttachment"), () =>
      hooks.compose("forwardAttachment", msg),
    ),
    state.features.contacts && msg.from?.[0]?.email
      ? action("add-sender", t("reader.addSender"), () => addSender(msg.from[0]))
      : null,
    flagBtn,
    seenButton(msg),
    moveControl(msg),
    archiveAction(msg, action),
    ...junkActions(msg, action),
    action("delete", t("reader.delete"), () => deleteMessage(msg), {
      class: "btn btn-small btn-danger",
    }),
  );
  const subject = (msg.subject || "").trim() || t("list.noSubject");
  const parts = [
    toolbar,
    h("h2", {
      id: "reader-subject",
      class: "reader-subject",
      tabindex: "-1",
      "data-testid": "reader-subject",
      dir: "auto",
      translate: (msg.subject || "").trim() ? "no" : null,
      text: subject,
    }),
    h(
      "dl",
      { class: "reader-headers" },
      headerRow(t("reader.from"), addrNodes(msg.from), "reader-from"),
      headerRow(t("reader.to"), addrNodes(msg.to), "reader-to"),
      headerRow(t("reader.cc"), addrNodes(msg.cc), "reader-cc"),
      headerRow(
        t("reader.date"),
        msg.date ? h("time", { datetime: msg.date, text: fullDate(msg.date) }) : null,
        "reader-date",
      ),
    ),
    readerMarks(msg),
    receiptNotice(msg),
    remoteNotice(msg, body),
    body,
    attachmentList(msg),
    readerTools(msg),
  ];
  const article = body === early ? early.parentElement : null;
  if (article?.isConnected) {
    // Filled in around the frame already loading: moving a frame would load it again.
    const nodes = (list) => list.flat(Infinity).filter((n) => n instanceof Node);
    const at = parts.indexOf(body);
    for (const node of [...article.childNodes]) if (node !== body) node.remove();
    body.before(...nodes(parts.slice(0, at)));
    body.after(...nodes(parts.slice(at + 1)));
    article.setAttribute("aria-labelledby", "reader-subject");
    return;
  }
  pane().replaceChildren(
    h("article", { class: "reader", "aria-labelledby": "reader-subject" }, ...parts),
  );
}

async function setFlag(msg, flagged) {
  try {
    const updated = await api.patch(api.path`/api/messages/${msg.id}`, { flagged });
    msg.flagged = updated && typeof updated.flagged === "boolean" ? updated.flagged : flagged;
    updateRow(msg.id, { flagged: msg.flagged });
    if (state.message?.id === msg.id) {
      const btn = $('[data-testid="flag-toggle"]');
      btn.textContent = msg.flagged ? t("reader.unflag") : t("reader.flag");
      btn.setAttribute("aria-pressed", msg.flagged ? "true" : "false");
    }
    announce(msg.flagged ? t("reader.flagged") : t("reader.unflagged"));
  } catch (err) {
    handleGoneMessage(err);
  }
}

/**
 * "Mark unread" while the message is read, "Mark as read" once it is not. Marking is a
 * flag change, not a navigation: the message stays open, as in Outlook on the web,
 * Thunderbird or Fastmail, and opening it again later marks it read as usual.
 */
function seenButton(msg) {
  const seen = msg.seen !== false;
  return h("button", {
    type: "button",
    class: "btn btn-small",
    "data-testid": seen ? "mark-unread" : "mark-read",
    text: seen ? t("reader.markUnread") : t("reader.markRead"),
    onclick: () => setSeen(msg, !seen),
  });
}

async function setSeen(msg, seen) {
  const listed = state.list.messages.find((m) => m.id === msg.id);
  const wasSeen = listed ? Boolean(listed.seen) : null;
  const change = countChange(state.mailboxId);
  try {
    const updated = await api.patch(api.path`/api/messages/${msg.id}`, { seen });
    if (listed) change.counted(msg.id, wasSeen, seen);
    msg.seen = updated && typeof updated.seen === "boolean" ? updated.seen : seen;
    updateRow(msg.id, { seen: msg.seen });
    if (state.message?.id === msg.id) {
      const old = $('[data-testid="mark-unread"], [data-testid="mark-read"]');
      const hadFocus = old && document.activeElement === old;
      const next = seenButton(msg);
      old?.replaceWith(next);
      if (hadFocus) next.focus();
    }
    announce(msg.seen ? t("reader.markedRead") : t("reader.markedUnread"));
  } catch (err) {
    handleGoneMessage(err);
  } finally {
    change.end();
  }
}

/** "Archive" anywhere but in the Archive itself and in Drafts (a draft is for finishing). */
function archiveAction(msg, action) {
  const role = mailboxById(state.mailboxId)?.role;
  if (role === "archive" || role === "drafts") return null;
  return action("archive", t("reader.archive"), () => archiveMessage(msg), {
    "aria-keyshortcuts": "e",
  });
}

/** Move to the Archive (made on demand by the server), with Undo as for a move. */
async function archiveMessage(msg) {
  const from = state.mailboxId;
  try {
    const moved = await api.post(api.path`/api/messages/${msg.id}/archive`, {});
    await afterRemoval(msg.id);
    offerUndo(t("reader.archived"), { ids: moved?.id ? [moved.id] : [], mailbox: from });
  } catch (err) {
    handleGoneMessage(err);
  }
}

/** "Mark as junk" outside Junk (not in Sent or Drafts), "Not junk" in it, "Restore" in Trash. */
function junkActions(msg, action) {
  const role = mailboxById(state.mailboxId)?.role;
  const out = [];
  if (role === "trash") out.push(action("restore", t("reader.restore"), () => relocate(msg, "restore")));
  if (role === "junk") out.push(action("not-junk", t("reader.notJunk"), () => relocate(msg, "not-junk")));
  // Your own mail (Sent, Drafts) is never junk.
  else if (role !== "sent" && role !== "drafts") {
    out.push(action("junk", t("reader.junk"), () => relocate(msg, "junk")));
  }
  return out;
}

/** junk, not-junk or restore: the server moves the message; the list takes its place.
    "Mark as junk" can be undone: the server's restore puts it back, keywords and all. */
async function relocate(msg, how) {
  const from = state.mailboxId;
  try {
    let moved;
    if (how === "junk") moved = await api.post(api.path`/api/messages/${msg.id}/junk`, {});
    else if (how === "not-junk") await api.post(api.path`/api/messages/${msg.id}/not-junk`, {});
    else await api.post(api.path`/api/messages/${msg.id}/restore`, {});
    if (how === "not-junk") announce(t("reader.markedNotJunk"));
    else if (how === "restore") announce(t("reader.restored"));
    await afterRemoval(msg.id);
    if (how === "junk") {
      offerUndo(t("reader.markedJunk"), {
        ids: moved?.id ? [moved.id] : [],
        mailbox: from,
        how: "restore",
      });
    }
  } catch (err) {
    handleGoneMessage(err);
  }
}

/** After a move or delete: close the reader and focus the row that took its place. */
async function afterRemoval(id) {
  const rows = [...document.querySelectorAll("#message-list .message-row")];
  const index = rows.indexOf(rowById(id));
  // The row that takes its place: the next one, or the previous one at the end. Named by
  // id, since a live refresh may redraw the list meanwhile.
  const next = index >= 0 ? rows[index + 1] || rows[index - 1] : null;
  const nextId = next?.dataset.id || null;
  closeReader();
  hooks.showPane("list");
  await Promise.all([loadList(), refreshMailboxes()]);
  const target = nextId ? rowById(nextId) : null;
  const now = [...document.querySelectorAll('[data-testid="message-row"]')].filter(
    (row) => row.dataset.id !== id,
  );
  if (target) target.focus();
  else if (now.length) now[Math.max(0, Math.min(index, now.length - 1))].focus();
  else $("#list-title")?.focus();
}

async function moveMessage(msg, target) {
  if (!target) return;
  const from = state.mailboxId;
  try {
    const moved = await api.post(api.path`/api/messages/${msg.id}/move`, { mailbox: target });
    const name = mailboxLabel(mailboxById(target));
    const text = name ? t("reader.movedTo", { mailbox: name }) : t("reader.moved");
    await afterRemoval(msg.id);
    offerUndo(text, { ids: moved?.id ? [moved.id] : [], mailbox: from });
  } catch (err) {
    handleGoneMessage(err);
  }
}

async function deleteMessage(msg) {
  const inTrash = mailboxById(state.mailboxId)?.role === "trash";
  if (inTrash) {
    const sure = await confirmDialog({
      title: t("reader.confirmDelete"),
      confirmLabel: t("reader.delete"),
      danger: true,
    });
    if (!sure) return;
  }
  const from = state.mailboxId;
  try {
    // The action on many answers the id in Trash, which Undo moves back.
    const data = await api.post("/api/messages/actions", { action: "delete", ids: [msg.id] });
    const result = data?.results?.[0];
    if (result?.error) {
      handleGoneMessage({ code: result.error });
      return;
    }
    await afterRemoval(msg.id);
    if (inTrash) announce(t("reader.deleted"));
    else offerUndo(t("reader.movedToTrash"), { ids: result?.new_id ? [result.new_id] : [], mailbox: from });
  } catch (err) {
    handleGoneMessage(err);
  }
}

// ---------------------------------------------------------------- conversations

/** GET /api/conversations/{id} and show its messages: read ones collapsed, unread open. */
export async function openConversation(id, { focus = true } = {}) {
  const seq = ++openSeq;
  state.message = null;
  markOpenRow(id);
  hooks.showPane("reader");
  pane().replaceChildren(
    h(
      "div",
      { class: "reader-empty", "aria-busy": "true" },
      h("p", { text: t("status.loading") }),
    ),
  );
  try {
    const conv = await api.get(api.path`/api/conversations/${id}`);
    if (seq !== openSeq || !conv) return;
    state.conversation = conv;
    renderConversation(conv);
    if (focus) $("#reader-subject")?.focus();
  } catch (err) {
    if (seq !== openSeq) return;
    closeReader();
    hooks.showPane("list");
    handleGoneMessage(err);
  }
}

function renderConversation(conv) {
  const messages = Array.isArray(conv.messages) ? conv.messages : [];
  const action = (testid, text, onclick, extra = {}) =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": testid, text, onclick, ...extra });
  const toolbar = h(
    "div",
    { class: "reader-toolbar", role: "toolbar", "aria-label": t("reader.actions") },
    h(
      "button",
      {
        type: "button",
        class: "btn btn-ghost narrow-only",
        "data-testid": "back-to-list",
        onclick: () => hooks.backToList(),
      },
      h("span", { class: "back-mark", "aria-hidden": "true", text: "‹" }),
      t("reader.back"),
    ),
    action("conversation-read", t("conv.markRead"), () => conversationAction(conv, "read")),
    action("conversation-unread", t("conv.markUnread"), () => conversationAction(conv, "unread")),
    action("conversation-delete", t("conv.delete"), () => conversationAction(conv, "delete"), {
      class: "btn btn-small btn-danger",
    }),
  );
  const subject = (conv.subject || "").trim() || t("list.noSubject");
  pane().replaceChildren(
    h(
      "article",
      { class: "reader conversation", "aria-labelledby": "reader-subject" },
      toolbar,
      h("h2", {
        id: "reader-subject",
        class: "reader-subject",
        tabindex: "-1",
        "data-testid": "reader-subject",
        dir: "auto",
        translate: (conv.subject || "").trim() ? "no" : null,
        text: subject,
      }),
      h(
        "ol",
        { class: "conversation-messages", "data-testid": "conversation-messages" },
        messages.map((m) => conversationItem(conv, m)),
      ),
    ),
  );
}

/** One message of a conversation: a header that folds its body in and out. */
function conversationItem(conv, m) {
  const from = Array.isArray(m.from) ? m.from : [];
  const sender = from.map(addrName).join(", ") || t("list.unknownSender");
  const box = m.mailbox && m.mailbox !== state.mailboxId ? mailboxById(m.mailbox) : null;
  const body = h("div", { class: "conversation-body", hidden: true });
  const toggle = h(
    "button",
    {
      type: "button",
      class: "conversation-head",
      "aria-expanded": "false",
      "data-testid": "conversation-toggle",
      onclick: () => expand(toggle.getAttribute("aria-expanded") !== "true"),
    },
    h("bdi", { class: "row-from", translate: from.length ? "no" : null, text: sender }),
    box ? h("span", { class: "conversation-where", text: mailboxLabel(box) }) : null,
    h("time", { class: "row-date", datetime: m.date || null, text: shortDate(m.date) }),
    m.preview
      ? h("span", { class: "row-preview", dir: "auto", translate: "no", text: m.preview })
      : null,
  );
  const item = h(
    "li",
    {
      class: m.seen ? "conversation-message" : "conversation-message unread",
      "data-testid": "conversation-message",
      "data-id": m.id,
      "data-expanded": "false",
    },
    toggle,
    body,
  );
  let loading = null;
  function expand(on) {
    toggle.setAttribute("aria-expanded", String(on));
    item.dataset.expanded = String(on);
    body.hidden = !on;
    if (on && !loading) loading = load();
  }
  async function load() {
    body.replaceChildren(h("p", { class: "muted", text: t("status.loading") }));
    const wasSeen = Boolean(m.seen);
    // Reading an unread message marks it read in its own mailbox.
    const change = wasSeen ? null : countChange(m.mailbox || state.mailboxId);
    try {
      const msg = await api.get(api.path`/api/messages/${m.id}`);
      if (msg && !wasSeen) change.counted(m.id, false, true);
      if (!body.isConnected || !msg) return;
      body.replaceChildren(
        h(
          "dl",
          { class: "reader-headers" },
          headerRow(t("reader.to"), addrNodes(msg.to), "reader-to"),
          headerRow(t("reader.cc"), addrNodes(msg.cc), "reader-cc"),
          headerRow(
            t("reader.date"),
            msg.date ? h("time", { datetime: msg.date, text: fullDate(msg.date) }) : null,
            "reader-date",
          ),
        ),
        renderBody(msg),
      );
      if (!m.seen) {
        // Reading marked it seen on the server; mirror that locally.
        m.seen = true;
        item.classList.remove("unread");
        const left = Math.max(0, (Number(conv.unread) || 0) - 1);
        conv.unread = left;
        updateConversationRow(conv.id, { unread: left });
      }
    } catch (err) {
      loading = null;
      body.replaceChildren();
      reportError(err);
    } finally {
      change?.end();
    }
  }
  if (!m.seen) expand(true);
  return item;
}

async function conversationAction(conv, action) {
  const inTrash = mailboxById(state.mailboxId)?.role === "trash";
  if (action === "delete" && inTrash) {
    const sure = await confirmDialog({
      title: t("reader.confirmDelete"),
      confirmLabel: t("reader.delete"),
      cancelLabel: t("dialog.cancel"),
      danger: true,
    });
    if (!sure) return;
  }
  const end = holdCounts([state.mailboxId]);
  try {
    try {
      await api.post(api.path`/api/conversations/${conv.id}/actions`, { action });
    } finally {
      end(); // counts from the server again, asked for below
    }
    if (action === "delete") {
      announce(t("conv.deleted"));
      await afterRemoval(conv.id);
      return;
    }
    announce(action === "read" ? t("conv.markedRead") : t("conv.markedUnread"));
    await refreshMailboxes();
    if (action === "unread") {
      await loadList();
      hooks.backToList();
    } else {
      await loadList();
      if (state.conversation?.id === conv.id) await openConversation(conv.id, { focus: false });
    }
  } catch (err) {
    handleGoneMessage(err);
  }
}

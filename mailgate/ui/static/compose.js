// The compose form: new message, reply, reply all, forward; uploads with progress.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { refreshMailboxes } from "./mailboxes.js";
import { t } from "./i18n.js";
import { signatureBlock } from "./prefs.js";
import { announce, reportError, state } from "./state.js";
import {
  $,
  formatAddr,
  formatAddrList,
  fullDate,
  h,
  humanSize,
  parseAddrList,
  quoteLines,
} from "./util.js";

let hooks = { showPane: () => {}, close: () => {} };

/** showPane(view) and close() (show the reader/list again) come from the app. */
export function initCompose(h) {
  hooks = { ...hooks, ...h };
}

const addrKey = (a) => (typeof a === "string" ? a : a?.email || "").trim().toLowerCase();

function withPrefix(prefix, subject) {
  const s = (subject || "").trim();
  const re = prefix === "Re:" ? /^re:/i : /^(fwd?|fw):/i;
  return re.test(s) ? s : `${prefix} ${s}`.trim();
}

function quote(msg) {
  const body = typeof msg.text === "string" ? msg.text : msg.preview || "";
  const who = formatAddrList(msg.from) || t("compose.someone");
  const when = fullDate(msg.date);
  const head = when
    ? t("compose.quoteHeadDate", { date: when, sender: who })
    : t("compose.quoteHead", { sender: who });
  const quoted = quoteLines(body);
  return quoted ? `\n\n${head}\n${quoted}\n` : `\n\n${head}\n`;
}

function forwardBody(msg) {
  const lines = [
    "",
    "",
    `---------- ${t("compose.forwarded")} ----------`,
    `${t("reader.from")}: ${formatAddrList(msg.from)}`,
    `${t("reader.date")}: ${fullDate(msg.date)}`,
    `${t("compose.subject")}: ${msg.subject || ""}`,
    `${t("reader.to")}: ${formatAddrList(msg.to)}`,
  ];
  if (msg.cc?.length) lines.push(`${t("reader.cc")}: ${formatAddrList(msg.cc)}`);
  lines.push("", typeof msg.text === "string" ? msg.text : msg.preview || "");
  return lines.join("\n");
}

/** Initial field values for a mode: new | reply | replyAll | forward. */
function prefill(mode, msg) {
  if (!msg || mode === "new") return { title: t("compose.new") };
  if (mode === "forward") {
    return {
      title: t("reader.forward"),
      subject: withPrefix("Fwd:", msg.subject),
      text: forwardBody(msg),
    };
  }
  const me = addrKey(state.account?.email);
  const replyTo = msg.reply_to?.length ? msg.reply_to : msg.from || [];
  const to = replyTo.filter((a) => addrKey(a) && addrKey(a) !== me);
  const cc = [];
  if (mode === "replyAll") {
    const seen = new Set([me, ...to.map(addrKey)]);
    for (const a of [...(msg.to || []), ...(msg.cc || [])]) {
      const k = addrKey(a);
      if (k && !seen.has(k)) {
        seen.add(k);
        cc.push(a);
      }
    }
  }
  return {
    title: mode === "replyAll" ? t("reader.replyAll") : t("reader.reply"),
    // Replying to one's own message: answer its recipients instead of oneself.
    to: (to.length ? to : msg.to || []).map(formatAddr).join(", "),
    cc: cc.map(formatAddr).join(", "),
    subject: withPrefix("Re:", msg.subject),
    text: quote(msg),
    inReplyTo: msg.id,
  };
}

function field(id, label, testid, attrs = {}, tag = "input") {
  const input = h(tag, { id, name: id, "data-testid": testid, ...attrs });
  return { input, row: h("div", { class: "field" }, h("label", { for: id, text: label }), input) };
}

/** Open the compose form in the reader pane. */
export function openCompose(mode = "new", msg = null) {
  const init = prefill(mode, msg);
  const addrAttrs = {
    type: "text",
    autocomplete: "email",
    spellcheck: "false",
    autocapitalize: "off",
    dir: "auto",
  };
  const to = field("compose-to", t("reader.to"), "compose-to", {
    ...addrAttrs,
    value: init.to || "",
  });
  const cc = field("compose-cc", t("reader.cc"), "compose-cc", {
    ...addrAttrs,
    value: init.cc || "",
  });
  const bcc = field("compose-bcc", t("compose.bcc"), "compose-bcc", addrAttrs);
  const subject = field("compose-subject", t("compose.subject"), "compose-subject", {
    type: "text",
    dir: "auto",
    value: init.subject || "",
  });
  const text = field(
    "compose-text",
    t("compose.message"),
    "compose-text",
    { rows: "14", dir: "auto" },
    "textarea",
  );
  // The signature goes above any quote or forwarded message, where a reply is written.
  text.input.value = signatureBlock() + (init.text || "");
  const file = field("compose-file", t("compose.attach"), "compose-file", {
    type: "file",
    multiple: true,
  });
  const uploadList = h("ul", { class: "uploads", "aria-label": t("compose.attachments") });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "compose-error", hidden: true });
  const sendBtn = h("button", {
    type: "submit",
    class: "btn btn-primary",
    "data-testid": "compose-send",
    "aria-keyshortcuts": "Control+Enter",
    text: t("compose.send"),
  });
  const draftBtn = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "compose-draft",
    text: t("compose.saveDraft"),
  });
  const discardBtn = h("button", {
    type: "button",
    class: "btn btn-ghost",
    "data-testid": "compose-discard",
    text: t("compose.discard"),
  });
  const form = h(
    "form",
    { class: "compose", "aria-labelledby": "compose-title", novalidate: true },
    h(
      "div",
      { class: "pane-head" },
      h("h2", { id: "compose-title", class: "pane-title", tabindex: "-1", text: init.title }),
    ),
    to.row,
    cc.row,
    bcc.row,
    subject.row,
    text.row,
    file.row,
    uploadList,
    error,
    h("div", { class: "compose-actions" }, sendBtn, draftBtn, discardBtn),
  );

  const c = {
    mode,
    inReplyTo: init.inReplyTo || null,
    uploads: [],
    busy: false,
    initial: "",
    fields: { to: to.input, cc: cc.input, bcc: bcc.input, subject: subject.input, text: text.input },
  };
  c.initial = snapshot(c);
  state.compose = c;

  const showError = (msg) => {
    error.textContent = msg || "";
    error.hidden = !msg;
  };

  file.input.addEventListener("change", () => {
    for (const f of file.input.files) addUpload(c, f, uploadList);
    file.input.value = "";
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit(c, "send", showError, [sendBtn, draftBtn]);
  });
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit(c, "send", showError, [sendBtn, draftBtn]);
    }
  });
  draftBtn.addEventListener("click", () => submit(c, "draft", showError, [sendBtn, draftBtn]));
  discardBtn.addEventListener("click", () => closeCompose({ confirm: true }));

  const p = $("#reader-pane");
  p.replaceChildren(form);
  hooks.showPane("reader");
  if (mode === "reply" || mode === "replyAll") {
    text.input.focus();
    text.input.setSelectionRange(0, 0);
    text.input.scrollTop = 0;
  } else {
    to.input.focus();
  }
  if (mode === "forward" && msg) forwardAttachments(c, msg, uploadList);
}

function snapshot(c) {
  return JSON.stringify(Object.values(c.fields).map((f) => f.value));
}

const isDirty = (c) => snapshot(c) !== c.initial || c.uploads.length > 0;

/** Upload one file, showing progress; removable while or after uploading. */
function addUpload(c, file, ul) {
  const progress = h("progress", {
    max: "1",
    "data-testid": "upload-progress",
    "aria-label": t("compose.uploading", { name: file.name }),
  });
  // <data>: the size is a number in Intl's words, not a catalog text.
  const status = h("data", {
    class: "upload-size",
    value: String(file.size),
    text: humanSize(file.size),
  });
  const item = { file, id: null, status: "uploading", task: null, li: null };
  const remove = h("button", {
    type: "button",
    class: "btn btn-small btn-ghost",
    "data-testid": "attachment-remove",
    "aria-label": t("compose.removeFile", { name: file.name }),
    text: t("compose.remove"),
    onclick: () => removeUpload(c, item),
  });
  item.li = h(
    "li",
    { class: "upload", "data-testid": "compose-attachment" },
    h("bdi", { class: "upload-name", translate: "no", text: file.name }),
    status,
    progress,
    remove,
  );
  ul.appendChild(item.li);
  c.uploads.push(item);
  item.task = api.upload(file, (fraction) => {
    if (fraction === null) progress.removeAttribute("value");
    else progress.value = fraction;
  });
  item.task.promise.then(
    (data) => {
      item.id = data.id;
      item.status = "done";
      progress.remove();
      status.textContent = humanSize(data.size ?? file.size);
      if (!c.uploads.includes(item)) deleteUpload(item.id); // removed while uploading
    },
    (err) => {
      item.status = "error";
      progress.remove();
      if (api.isAborted(err)) return;
      status.replaceWith(h("span", { class: "upload-size error-text", text: err.message }));
      reportError(err, t("compose.attachFailed", { name: file.name }));
    },
  );
}

function deleteUpload(id) {
  if (id) api.del(api.path`/api/uploads/${id}`).catch(() => {});
}

function removeUpload(c, item) {
  c.uploads = c.uploads.filter((u) => u !== item);
  item.li.remove();
  if (item.status === "uploading") item.task.abort();
  else deleteUpload(item.id);
  announce(t("compose.removed", { name: item.file.name }));
}

/** Forwarding keeps the attachments: fetch each and upload it again. */
async function forwardAttachments(c, msg, ul) {
  const list = (msg.attachments || []).filter((a) => !a.inline);
  for (const a of list) {
    const url = api.safeApiUrl(a.url, api.path`/api/messages/${msg.id}/parts/${a.part}`);
    try {
      const blob = await api.getBlob(url);
      if (state.compose !== c) return;
      const name = a.filename || t("reader.attachmentName");
      addUpload(c, new File([blob], name, { type: a.content_type || blob.type }), ul);
    } catch (err) {
      reportError(err, t("compose.forwardFailed"));
    }
  }
}

async function submit(c, kind, showError, buttons) {
  if (c.busy) return;
  showError("");
  const body = {
    to: parseAddrList(c.fields.to.value),
    cc: parseAddrList(c.fields.cc.value),
    bcc: parseAddrList(c.fields.bcc.value),
    subject: c.fields.subject.value,
    text: c.fields.text.value,
    attachments: [],
    save_sent: true,
  };
  if (c.inReplyTo) body.in_reply_to = c.inReplyTo;
  if (c.uploads.some((u) => u.status === "uploading")) {
    showError(t("compose.waitUploads"));
    return;
  }
  if (c.uploads.some((u) => u.status === "error")) {
    showError(t("compose.failedUploads"));
    return;
  }
  body.attachments = c.uploads.map((u) => u.id);
  if (kind === "send" && !body.to.length && !body.cc.length && !body.bcc.length) {
    showError(t("compose.noRecipient"));
    c.fields.to.focus();
    return;
  }
  c.busy = true;
  for (const b of buttons) b.disabled = true;
  try {
    if (kind === "send") {
      await api.post("/api/send", body);
      announce(t("compose.sent"));
      // The message holds the files now; free the session's upload space.
      closeCompose();
    } else {
      await api.post("/api/drafts", body);
      c.initial = snapshot(c);
      announce(t("compose.draftSaved"));
    }
    refreshMailboxes();
  } catch (err) {
    if (api.isAborted(err)) return;
    // Nothing is lost on failure: the form and the uploads stay.
    showError(err.message);
  } finally {
    c.busy = false;
    for (const b of buttons) b.disabled = false;
  }
}

/**
 * Close the compose form. confirm: ask first when there is unsent content.
 * Resolves false when the user chose to keep editing.
 */
export async function closeCompose({ confirm = false } = {}) {
  const c = state.compose;
  if (!c) return true;
  if (confirm && isDirty(c)) {
    const discard = await confirmDialog({
      title: t("compose.confirmDiscard"),
      confirmLabel: t("dialog.discard"),
      cancelLabel: t("dialog.keepEditing"),
      danger: true,
    });
    if (!discard || state.compose !== c) return false;
  }
  state.compose = null;
  for (const u of c.uploads) {
    if (u.status === "uploading") u.task.abort();
    else deleteUpload(u.id);
  }
  hooks.close();
  return true;
}

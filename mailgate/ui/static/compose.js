// The compose form: new message, reply, reply all, forward, a draft taken up again;
// uploads with progress.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { fieldErrorText } from "./field-error.js";
import { attachAutocomplete } from "./autocomplete.js";
import { refreshMailboxes } from "./mailboxes.js";
import { t } from "./i18n.js";
import { identities, identityById, identityFor, identityLabel, ownAddresses } from "./identities.js";
import { signatureBlock } from "./prefs.js";
import { richEditor } from "./rich.js";
import { loadList, updateRow } from "./list.js";
import { readerMarks } from "./marks.js";
import { announce, mailboxById, reportError, state } from "./state.js";
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
  // Closing the tab or reloading is leaving too: the unsaved changes go to Drafts in a
  // request that outlives the page (the session lives on until its idle timeout).
  window.addEventListener("pagehide", () => {
    const c = state.compose;
    if (!c || c.busy || !isDirty(c)) return;
    const body = composeBody(c);
    if (body) api.post("/api/drafts", body, { keepalive: true }).catch(() => {});
  });
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

/** Initial field values for a mode: new | reply | replyAll | forward | forwardAttachment |
    draft. */
function prefill(mode, msg) {
  if (!msg || mode === "new") return { title: t("compose.new") };
  if (mode === "draft") {
    // msg is GET /api/messages/{id}/draft: the fields as saved, the files already uploads.
    const list = (v) => (Array.isArray(v) ? v : []).map(formatAddr).join(", ");
    return {
      title: t("compose.editDraft"),
      to: list(msg.to),
      cc: list(msg.cc),
      bcc: list(msg.bcc),
      subject: msg.subject || "",
      text: typeof msg.text === "string" ? msg.text : "",
      // Its HTML body (parsed from body.html): it is continued in the HTML editor.
      doc: msg.doc || null,
      draftId: msg.id || null,
      // Written as an identity: that one again (matched by its From address).
      identity: identityFor({ to: Array.isArray(msg.from) ? msg.from : [] }),
      thread: msg.thread || null,
      uploads: Array.isArray(msg.attachments) ? msg.attachments : [],
      asSaved: true,
    };
  }
  if (mode === "forwardAttachment") {
    // The message goes along whole, as an attachment (attachOriginal); the body is the user's.
    return {
      title: t("reader.forwardAttachment"),
      subject: withPrefix("Fwd:", msg.subject),
      text: "",
      identity: identityFor(msg),
    };
  }
  if (mode === "forward") {
    return {
      title: t("reader.forward"),
      subject: withPrefix("Fwd:", msg.subject),
      text: forwardBody(msg),
      identity: identityFor(msg),
      // Sending marks the original $Forwarded.
      forwardOf: msg.id || null,
    };
  }
  // Any of the user's addresses (the login's, each identity's) is "me".
  const own = ownAddresses();
  const replyTo = msg.reply_to?.length ? msg.reply_to : msg.from || [];
  const to = replyTo.filter((a) => addrKey(a) && !own.has(addrKey(a)));
  const cc = [];
  if (mode === "replyAll") {
    const seen = new Set([...own, ...to.map(addrKey)]);
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
    // The identity the message was addressed to answers it.
    identity: identityFor(msg),
  };
}

function field(id, label, testid, attrs = {}, tag = "input") {
  const input = h(tag, { id, name: id, "data-testid": testid, ...attrs });
  return { input, row: h("div", { class: "field" }, h("label", { for: id, text: label }), input) };
}

/** The From selector (only when there are identities): the login's address, then each
    identity; its value is the identity id ("" for the login's address). */
function fromField(chosen) {
  const list = identities();
  if (!list.length) return null;
  const name = typeof state.prefs?.display_name === "string" ? state.prefs.display_name : "";
  const input = h(
    "select",
    { id: "compose-from", name: "compose-from", "data-testid": "compose-from" },
    h("option", {
      value: "",
      selected: !chosen,
      translate: "no",
      text: formatAddr({ name, email: state.account?.email || "" }),
    }),
    list.map((i) =>
      h("option", {
        value: i.id,
        selected: chosen?.id === i.id,
        translate: "no",
        text: identityLabel(i),
      }),
    ),
  );
  return {
    input,
    row: h("div", { class: "field" }, h("label", { for: "compose-from", text: t("compose.from") }), input),
  };
}

/** Open the compose form in the reader pane. */
export function openCompose(mode = "new", msg = null) {
  const init = prefill(mode, msg);
  const from = fromField(init.identity || null);
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
  const bcc = field("compose-bcc", t("compose.bcc"), "compose-bcc", {
    ...addrAttrs,
    value: init.bcc || "",
  });
  // Cc and Bcc stay out of the way until asked for (shown at once when they hold someone).
  const toggles = h("div", { class: "compose-toggles" });
  for (const [f, label, aria, testid] of [
    [cc, t("reader.cc"), t("compose.showCc"), "compose-show-cc"],
    [bcc, t("compose.bcc"), t("compose.showBcc"), "compose-show-bcc"],
  ]) {
    if (f.input.value.trim()) continue;
    f.row.hidden = true;
    const btn = h("button", {
      type: "button",
      class: "btn btn-small btn-ghost",
      "data-testid": testid,
      "aria-label": aria,
      text: label,
    });
    btn.addEventListener("click", () => {
      f.row.hidden = false;
      btn.remove();
      if (!toggles.childElementCount) toggles.hidden = true;
      f.input.focus();
    });
    toggles.appendChild(btn);
  }
  if (!toggles.childElementCount) toggles.hidden = true;
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
  // The signature goes above any quote or forwarded message, where a reply is written;
  // a draft taken up again has it already, as the user left it.
  text.input.value = (init.asSaved ? "" : signatureBlock(init.identity || null)) + (init.text || "");
  // The HTML editor when the preference says so, and for a draft that was written in HTML
  // (a plain-text draft stays plain text).
  const rich =
    (state.prefs?.compose_format === "html" && !init.asSaved) || init.doc
      ? richEditor(
          text.input.value,
          t("compose.message"),
          (file) => {
          const task = api.upload(file, () => {});
          return task.promise.then((data) => {
            // Freed with the form, as attachments are.
            if (state.compose?.rich === rich) state.compose.inlineIds.push(data.id);
            else deleteUpload(data.id);
            return data;
          });
          },
          init.doc,
        )
      : null;
  const textRow = rich
    ? h("div", { class: "field field-rich" }, h("span", { text: t("compose.message") }), rich.el)
    : text.row;
  const textField = rich ? { get value() { return rich.text(); }, focus: () => rich.focus() } : text.input;
  if (from) {
    // Another identity, another signature: swapped while the old one is there untouched.
    let shownSignature = init.asSaved ? "" : signatureBlock(init.identity || null);
    from.input.addEventListener("change", () => {
      if (rich) return; // the rich editor keeps its text as it is
      const next = signatureBlock(identityById(from.input.value));
      const body = text.input.value;
      if (shownSignature && body.includes(shownSignature)) {
        text.input.value = body.replace(shownSignature, next);
      } else if (!shownSignature && next && !init.asSaved) {
        text.input.value = next + body;
      }
      shownSignature = next;
    });
  }
  // Off by default: a read receipt is asked for only when the user ticks it.
  const receipt = h("input", {
    type: "checkbox",
    id: "compose-receipt",
    "data-testid": "compose-receipt",
  });
  const priority = h(
    "select",
    { id: "compose-priority", name: "compose-priority", "data-testid": "compose-priority" },
    h("option", { value: "normal", selected: true, text: t("compose.priorityNormal") }),
    h("option", { value: "high", text: t("compose.priorityHigh") }),
    h("option", { value: "low", text: t("compose.priorityLow") }),
  );
  const options = h(
    "div",
    { class: "field compose-options" },
    h("label", { class: "prefs-choice", for: "compose-receipt" }, receipt, t("compose.requestReceipt")),
    h("label", { for: "compose-priority", text: t("compose.priority") }),
    priority,
  );
  const file = field("compose-file", t("compose.attach"), "compose-file", {
    type: "file",
    multiple: true,
  });
  // The largest file the server takes, said before one is picked.
  const maxBytes = Number(state.limits?.upload_max_bytes);
  if (maxBytes > 0) {
    const hint = h("span", {
      id: "compose-file-limit",
      class: "muted upload-limit",
      "data-testid": "compose-file-limit",
      text: t("compose.uploadLimit", { size: humanSize(maxBytes) }),
    });
    file.row.appendChild(hint);
    file.input.setAttribute("aria-describedby", hint.id);
  }
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
  const status = h("span", { class: "compose-status muted", "data-testid": "compose-status" });
  const form = h(
    "form",
    { class: "compose", "aria-labelledby": "compose-title", novalidate: true },
    // The title with Send, Save and Discard: a bar that stays in sight while the form
    // scrolls.
    h(
      "div",
      { class: "pane-head compose-head" },
      h("h2", { id: "compose-title", class: "pane-title", tabindex: "-1", text: init.title }),
      h("div", { class: "compose-actions" }, sendBtn, draftBtn, discardBtn, status),
    ),
    from?.row,
    to.row,
    toggles,
    cc.row,
    bcc.row,
    subject.row,
    textRow,
    options,
    file.row,
    uploadList,
    error,
  );

  const c = {
    mode,
    inReplyTo: init.inReplyTo || null,
    forwardOf: init.forwardOf || null,
    // The id of this message's copy in Drafts, once saved: the next save replaces it.
    draftId: init.draftId || null,
    // A draft taken up again keeps its In-Reply-To/References as it held them.
    thread: init.thread || null,
    uploads: [],
    busy: false,
    busyKind: null,
    pending: null,
    timer: null,
    status,
    buttons: [sendBtn, draftBtn],
    showError: () => {},
    initial: "",
    fields: { to: to.input, cc: cc.input, bcc: bcc.input, subject: subject.input, text: textField },
    rich,
    inlineIds: [],
    from: from?.input || null,
    receipt,
    priority,
  };
  for (const info of init.uploads || []) addUploaded(c, info, uploadList);
  c.initial = snapshot(c);
  state.compose = c;
  if (rich && init.doc) {
    // A draft's images are uploaded again: the form as it opened holds them.
    const opened = c.initial;
    rich.ready.then(() => {
      if (state.compose === c && c.initial === opened && !c.edited) c.initial = snapshot(c);
    });
  }

  c.showError = (msg) => {
    error.textContent = msg || "";
    error.hidden = !msg;
  };

  file.input.addEventListener("change", () => {
    for (const f of file.input.files) addUpload(c, f, uploadList);
    file.input.value = "";
  });
  // Files dropped anywhere on the form are attached (an image dropped into the rich
  // editor is shown inline instead: the editor takes that drop first).
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  let dragDepth = 0;
  form.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    dragDepth += 1;
    form.classList.add("compose-dropping");
  });
  form.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) form.classList.remove("compose-dropping");
  });
  form.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  form.addEventListener("drop", (e) => {
    dragDepth = 0;
    form.classList.remove("compose-dropping");
    if (e.defaultPrevented || !e.dataTransfer?.files?.length) return;
    e.preventDefault();
    for (const f of e.dataTransfer.files) addUpload(c, f, uploadList);
    announce(t("compose.filesDropped"));
  });
  form.addEventListener("input", (e) => {
    if (e.target === file.input) return;
    c.edited = true;
    c.status.textContent = ""; // "Draft saved." holds until the next change
    scheduleAutosave(c);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit(c, "send");
  });
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit(c, "send");
    }
  });
  draftBtn.addEventListener("click", () => submit(c, "draft"));
  discardBtn.addEventListener("click", () => discard(c));

  const p = $("#reader-pane");
  p.replaceChildren(form);
  // Suggestions under each address field (the lists are part of the form: they go with it).
  for (const input of [to.input, cc.input, bcc.input]) attachAutocomplete(input);
  hooks.showPane("reader");
  if (mode === "reply" || mode === "replyAll" || (mode === "draft" && to.input.value)) {
    if (rich) rich.focus();
    else {
      text.input.focus();
      text.input.setSelectionRange(0, 0);
      text.input.scrollTop = 0;
    }
  } else {
    to.input.focus();
  }
  if (mode === "forward" && msg) forwardAttachments(c, msg, uploadList);
  if (mode === "forwardAttachment" && msg) attachOriginal(c, msg, uploadList);
}

/** The fields and the attachments (their upload ids, or the files still uploading). */
function snapshot(c) {
  return JSON.stringify([
    ...Object.values(c.fields).map((f) => f.value),
    c.from?.value || "",
    c.receipt.checked,
    c.priority.value,
    c.rich ? c.rich.html() : "",
    ...c.uploads.map((u) => u.key || u.id || `pending:${u.file.name}`),
  ]);
}

const isDirty = (c) => snapshot(c) !== c.initial;

/** One attachment row: name, size, a remove button; `progress` while uploading. */
function uploadRow(c, item, name, size, ul, progress = null) {
  // <data>: the size is a number in Intl's words, not a catalog text.
  const status = h("data", {
    class: "upload-size",
    value: String(size ?? ""),
    text: humanSize(size),
  });
  const remove = h("button", {
    type: "button",
    class: "btn btn-small btn-ghost",
    "data-testid": "attachment-remove",
    "aria-label": t("compose.removeFile", { name }),
    text: t("compose.remove"),
    onclick: () => removeUpload(c, item),
  });
  item.li = h(
    "li",
    { class: "upload", "data-testid": "compose-attachment" },
    h("bdi", { class: "upload-name", translate: "no", text: name }),
    status,
    progress,
    remove,
  );
  ul.appendChild(item.li);
  c.uploads.push(item);
  return status;
}

/** An attachment that is an upload already (a draft's files, copied by the server). */
function addUploaded(c, info, ul) {
  const name = info.filename || t("reader.attachmentName");
  const item = { file: { name }, id: info.id, status: "done", task: null, li: null };
  uploadRow(c, item, name, info.size, ul);
}

/** Upload one file, showing progress; removable while or after uploading. `key` names
    a file that came with the form (a forwarded one): the same while and after uploading.
    `task` ({promise, abort}) makes the upload some other way than from the file's bytes. */
function addUpload(c, file, ul, key = null, task = null) {
  const progress = h("progress", {
    max: "1",
    "data-testid": "upload-progress",
    "aria-label": t("compose.uploading", { name: file.name }),
  });
  const item = { file, id: null, status: "uploading", task: null, li: null, key };
  const limit = Number(state.limits?.upload_max_bytes);
  if (!task && limit > 0 && file.size > limit) {
    // Larger than the server takes: said at once, nothing sent.
    item.status = "error";
    uploadRow(c, item, file.name, file.size, ul).replaceWith(
      h("span", {
        class: "upload-size error-text",
        "data-testid": "upload-too-large",
        text: t("compose.tooLarge", { size: humanSize(limit) }),
      }),
    );
    return;
  }
  const status = uploadRow(c, item, file.name, file.size, ul, progress);
  item.task =
    task ||
    api.upload(file, (fraction) => {
      if (fraction === null) progress.removeAttribute("value");
      else progress.value = fraction;
    });
  if (task) progress.removeAttribute("value");
  item.task.promise.then(
    (data) => {
      item.id = data.id;
      item.status = "done";
      progress.remove();
      status.textContent = humanSize(data.size ?? file.size);
      if (data.filename) item.li.querySelector(".upload-name").textContent = data.filename;
      // Removed while uploading, or the form is gone.
      if (!c.uploads.includes(item) || state.compose !== c) deleteUpload(item.id);
      else if (state.compose === c) scheduleAutosave(c);
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
  scheduleAutosave(c);
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
      // The forwarded files are part of the form as it opened: no change to save.
      const clean = !isDirty(c);
      const file = new File([blob], name, { type: a.content_type || blob.type });
      addUpload(c, file, ul, `forwarded:${a.part}`);
      if (clean) c.initial = snapshot(c);
    } catch (err) {
      reportError(err, t("compose.forwardFailed"));
    }
  }
}

/** Forwarding as an attachment: the server keeps the message, whole, as an upload. */
function attachOriginal(c, msg, ul) {
  const name = `${(msg.subject || "").trim() || t("list.noSubject")}.eml`;
  const task = { promise: api.post(api.path`/api/messages/${msg.id}/attachment`), abort: () => {} };
  // Part of the form as it opened: no change to save.
  const clean = !isDirty(c);
  addUpload(c, { name, size: undefined }, ul, "original", task);
  if (clean) c.initial = snapshot(c);
}

/** The body of POST /api/send and /api/drafts; null while files are still uploading or
    failed (then the form says so). */
function composeBody(c) {
  if (c.uploads.some((u) => u.status !== "done")) return null;
  const body = {
    to: parseAddrList(c.fields.to.value),
    cc: parseAddrList(c.fields.cc.value),
    bcc: parseAddrList(c.fields.bcc.value),
    subject: c.fields.subject.value,
    text: c.fields.text.value,
    // The HTML and its text part, written from the same editor content.
    ...(c.rich ? { html: c.rich.html() } : {}),
    ...(c.rich && c.rich.inline().length ? { inline: c.rich.inline() } : {}),
    attachments: c.uploads.map((u) => u.id),
    save_sent: true,
  };
  if (c.from?.value) body.identity = c.from.value;
  if (c.receipt.checked) body.request_receipt = true;
  if (c.priority.value !== "normal") body.priority = c.priority.value;
  if (c.inReplyTo) body.in_reply_to = c.inReplyTo;
  else if (c.thread) body.thread = c.thread;
  if (c.forwardOf) body.forward_of = c.forwardOf;
  // The copy in Drafts this message replaces: the next save's, or the send's, to remove.
  if (c.draftId) body.replaces = c.draftId;
  return body;
}

/** The server flagged the replied-to or forwarded message: show it where it is listed
    or open. */
function showSentMarks(body) {
  for (const [id, key] of [
    [body.in_reply_to, "answered"],
    [body.forward_of, "forwarded"],
  ]) {
    if (!id) continue;
    updateRow(id, { [key]: true });
    if (state.message?.id === id) {
      state.message[key] = true;
      $("#reader-marks")?.replaceWith(readerMarks(state.message));
    }
  }
}

/** Idle time after the last change before the draft saves itself. */
const AUTOSAVE_MS = 3000;

/** Save the draft AUTOSAVE_MS after the last change (each save replaces the last copy). */
function scheduleAutosave(c) {
  clearTimeout(c.timer);
  c.timer = setTimeout(() => {
    if (state.compose === c && isDirty(c)) submit(c, "autosave");
  }, AUTOSAVE_MS);
}

/**
 * Send, or save to Drafts. kind: "send" | "draft" (the button) | "autosave" (quiet: no
 * announcement, buttons stay) | "leave" (saving before the form closes). Saves one at a
 * time: a click while an autosave is on its way waits for it, so it replaces its copy.
 * Resolves to whether it succeeded.
 */
async function submit(c, kind) {
  const quiet = kind === "autosave";
  if (c.busy) {
    if (quiet || c.busyKind !== "autosave") return false;
    await c.pending;
    if (c.busy || state.compose !== c) return false;
  }
  const showError = c.showError;
  showError("");
  if (c.uploads.some((u) => u.status === "uploading") || c.rich?.pending()) {
    // An autosave waits for the files (each finished upload schedules one).
    if (!quiet) showError(t("compose.waitUploads"));
    return false;
  }
  if (c.uploads.some((u) => u.status === "error")) {
    if (!quiet) showError(t("compose.failedUploads"));
    return false;
  }
  const body = composeBody(c);
  if (kind === "send" && !body.to.length && !body.cc.length && !body.bcc.length) {
    showError(t("compose.noRecipient"));
    c.fields.to.focus();
    return false;
  }
  clearTimeout(c.timer);
  const saving = snapshot(c);
  c.busy = true;
  c.busyKind = kind;
  if (!quiet) for (const b of c.buttons) b.disabled = true;
  let ok = false;
  const run = async () => {
    try {
      if (kind === "send") {
        await api.post("/api/send", body);
        showSentMarks(body);
        announce(t("compose.sent"));
        // The message holds the files now (and its draft is gone): free the uploads.
        closeCompose();
      } else {
        const saved = await api.post("/api/drafts", body);
        // null when the server does not say the new UID: the next save adds a copy.
        c.draftId = saved?.id || null;
        // What was saved; anything typed meanwhile is still to save.
        c.initial = saving;
        c.status.textContent = t("compose.draftSaved");
        if (!quiet) announce(t("compose.draftSaved"));
      }
      ok = true;
      // The first copy changes the Drafts count; a replacing one does not.
      if (kind === "send" || !body.replaces) refreshMailboxes();
      // The Drafts list on show has a copy more, or another one, or none now.
      if (mailboxById(state.mailboxId)?.role === "drafts") loadList({ keepFocus: true });
    } catch (err) {
      if (api.isAborted(err)) return;
      // Nothing is lost on failure: the form and the uploads stay.
      const text = fieldErrorText(err, c.fields, { focus: !quiet });
      showError(quiet ? `${t("compose.autosaveFailed")} ${text}` : text);
    } finally {
      c.busy = false;
      c.busyKind = null;
      for (const b of c.buttons) b.disabled = false;
      // Typed while saving: that is saved in turn (not after a failure: the next change).
      if (ok && state.compose === c && isDirty(c)) scheduleAutosave(c);
    }
  };
  c.pending = run();
  await c.pending;
  return ok;
}

/**
 * Leave the compose form. With `confirm` (navigating elsewhere), unsaved changes are
 * saved to Drafts first: the form stays until that succeeded, then closes and `then`
 * runs (the navigation); if the save fails the form stays with the error. Returns
 * whether the form is closed now. Without `confirm` (after sending) it just closes.
 */
export function closeCompose({ confirm = false, then = null } = {}) {
  const c = state.compose;
  if (!c) return true;
  if (confirm && (isDirty(c) || c.busy)) {
    const leave = async () => {
      if (c.busy) await c.pending;
      if (state.compose !== c) return;
      if (isDirty(c) && !(await submit(c, "leave"))) return;
      if (state.compose === c && !isDirty(c) && closeCompose()) then?.();
    };
    leave();
    return false;
  }
  close(c);
  return true;
}

function close(c) {
  clearTimeout(c.timer);
  state.compose = null;
  for (const u of c.uploads) {
    if (u.status === "uploading") u.task.abort();
    else deleteUpload(u.id);
  }
  for (const id of c.inlineIds || []) deleteUpload(id);
  hooks.close();
}

/** Before signing out: unsaved changes go to Drafts (best effort; the form then goes). */
export async function saveBeforeLeaving() {
  const c = state.compose;
  if (!c) return;
  if (c.busy) await c.pending;
  if (state.compose === c && isDirty(c)) await submit(c, "leave");
}

/** Discard: after a confirmation, the form closes and its saved draft goes to Trash. */
async function discard(c) {
  if (c.busy) await c.pending;
  if (state.compose !== c) return;
  if (c.draftId || isDirty(c)) {
    const sure = await confirmDialog({
      title: t(c.draftId ? "compose.confirmDiscardDraft" : "compose.confirmDiscard"),
      confirmLabel: t("dialog.discard"),
      cancelLabel: t("dialog.keepEditing"),
      danger: true,
    });
    if (!sure || state.compose !== c) return;
  }
  const draftId = c.draftId;
  close(c);
  if (!draftId) return;
  try {
    await api.del(api.path`/api/messages/${draftId}`);
    announce(t("compose.draftDiscarded"));
    refreshMailboxes();
    if (mailboxById(state.mailboxId)?.role === "drafts") loadList();
  } catch (err) {
    reportError(err);
  }
}

/** "Continue editing" a draft: its fields and files from the server, then the form. */
export async function openDraft(msg) {
  let data;
  try {
    data = await api.get(api.path`/api/messages/${msg.id}/draft`);
  } catch (err) {
    reportError(err, t("compose.resumeFailed"));
    return;
  }
  if (!data) return;
  if (data.html === true) {
    // Written in HTML: its body, sanitized, for the HTML editor.
    try {
      data.doc = await api.getDocument(api.path`/api/messages/${msg.id}/body.html`);
    } catch (err) {
      for (const a of data.attachments || []) deleteUpload(a.id);
      reportError(err, t("compose.resumeFailed"));
      return;
    }
  }
  if (state.compose || state.message?.id !== msg.id) {
    // The user moved on meanwhile: the copied files are nobody's.
    for (const a of data.attachments || []) deleteUpload(a.id);
    return;
  }
  openCompose("draft", data);
}

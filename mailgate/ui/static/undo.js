// "Undo" after a move, an archive, a delete to Trash or "Mark as junk": a toast with the
// button for a few seconds (and the "z" key); undoing moves the messages back by the new
// ids the server answered (for junk: the server's restore, which also sets $Junk and
// $NotJunk back as they were).

import { t } from "./i18n.js";
import { postActions } from "./selection.js";
import { announce, reportError } from "./state.js";
import { $, h } from "./util.js";

export const UNDO_MS = 10_000;

let pending = null; // {ids, mailbox, how}: the messages where they are now, where they were,
// and how they go back ("move", or "restore" after junk)
let timer = null;
let hooks = { restored: async () => {} };

/** restored(mailboxId, ids): after an undo, redraw and focus (from the app). */
export function initUndo(h) {
  hooks = { ...hooks, ...h };
}

/** The toast, built once per shell: the text is a live region, the button appears with it. */
export function buildUndoToast() {
  return h(
    "div",
    { id: "undo-toast", class: "undo-toast", "data-testid": "undo-toast" },
    h("span", { id: "undo-text", role: "status", "aria-live": "polite", "aria-atomic": "true" }),
    h("button", {
      id: "undo-button",
      type: "button",
      class: "btn btn-small",
      "data-testid": "undo",
      "aria-keyshortcuts": "z",
      hidden: true,
      text: t("undo.undo"),
      onclick: () => undo(),
    }),
  );
}

/** Say `text` with an Undo button that moves `ids` back to `mailbox` (`how`: "move", or
    "restore" for messages marked as junk). */
export function offerUndo(text, { ids, mailbox, how = "move" }) {
  const toast = $("#undo-toast");
  if (!toast || !ids?.length || !mailbox) {
    announce(text);
    return;
  }
  announce(""); // one toast at a time
  clearTimeout(timer);
  pending = { ids: [...ids], mailbox, how };
  $("#undo-text").textContent = text;
  $("#undo-button").hidden = false;
  toast.classList.add("visible");
  timer = setTimeout(dismissUndo, UNDO_MS);
  // Kept while the pointer or the focus is on it, so the button never vanishes under them.
  toast.onpointerenter = () => clearTimeout(timer);
  toast.onpointerleave = () => {
    clearTimeout(timer);
    if (pending) timer = setTimeout(dismissUndo, UNDO_MS / 2);
  };
}

export const canUndo = () => pending !== null;

export function dismissUndo() {
  clearTimeout(timer);
  pending = null;
  const toast = $("#undo-toast");
  if (!toast) return;
  const hadFocus = toast.contains(document.activeElement);
  toast.classList.remove("visible");
  $("#undo-text").textContent = "";
  $("#undo-button").hidden = true;
  if (hadFocus) ($("#message-list .message-row[tabindex='0']") || $("#list-title"))?.focus();
}

/** Move the last moved or deleted messages back. */
export async function undo() {
  if (!pending) return;
  const { ids, mailbox, how } = pending;
  dismissUndo();
  try {
    const body = how === "restore" ? { action: "restore" } : { action: "move", mailbox };
    const results = await postActions(body, ids);
    const back = results.filter((r) => !r.error);
    await hooks.restored(mailbox, back.map((r) => r.new_id).filter(Boolean));
    const failed = results.length - back.length;
    announce(
      failed ? t("undo.partly", { count: failed }) : t("undo.done", { count: back.length }),
      failed ? "error" : "info",
    );
  } catch (err) {
    reportError(err, t("undo.failed"));
  }
}

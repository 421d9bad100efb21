// The app's own confirmation dialog: a modal <dialog> instead of window.confirm().

import { t } from "./i18n.js";
import { h, uid } from "./util.js";

/** The dialog on screen, if any: a second request answers the first with "cancel". */
let current = null;

/**
 * Ask the user to confirm. Resolves true when the confirm button was chosen, false on
 * the cancel button, Escape or a newer dialog. Focus stays inside the dialog while it is
 * open (showModal makes the page inert; Tab wraps between the buttons) and returns to
 * the element that had it before. danger: the confirm button is styled as destructive
 * and the cancel button gets the first focus.
 */
export function confirmDialog({ title, body = "", confirmLabel, cancelLabel, danger = false } = {}) {
  if (current) current.close("cancel");
  const opener = document.activeElement;
  const titleId = uid("dialog-title");
  const bodyId = uid("dialog-body");
  const cancelBtn = h("button", {
    type: "button",
    class: "btn",
    "data-testid": "dialog-cancel",
    text: cancelLabel || t("dialog.cancel"),
  });
  const confirmBtn = h("button", {
    type: "button",
    class: danger ? "btn btn-danger-solid" : "btn btn-primary",
    "data-testid": "dialog-confirm",
    text: confirmLabel || t("dialog.confirm"),
  });
  const dlg = h(
    "dialog",
    {
      class: "confirm-dialog",
      "aria-labelledby": titleId,
      "aria-describedby": body ? bodyId : null,
      "data-testid": "confirm-dialog",
    },
    h("h2", { id: titleId, class: "confirm-dialog-title", text: title || "" }),
    body ? h("p", { id: bodyId, class: "confirm-dialog-body", text: body }) : null,
    h("div", { class: "confirm-dialog-actions" }, cancelBtn, confirmBtn),
  );
  current = dlg;
  return new Promise((resolve) => {
    cancelBtn.addEventListener("click", () => dlg.close("cancel"));
    confirmBtn.addEventListener("click", () => dlg.close("confirm"));
    dlg.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const order = [cancelBtn, confirmBtn];
      const i = order.indexOf(document.activeElement);
      const next = event.shiftKey ? (i <= 0 ? order.length - 1 : i - 1) : (i + 1) % order.length;
      event.preventDefault();
      order[next].focus();
    });
    // Escape fires "cancel" and then "close" with an empty returnValue.
    dlg.addEventListener("close", () => {
      if (current === dlg) current = null;
      dlg.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(dlg.returnValue === "confirm");
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    (danger ? cancelBtn : confirmBtn).focus();
  });
}

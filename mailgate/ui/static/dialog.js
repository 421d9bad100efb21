// The app's own modal dialogs: a <dialog> instead of window.confirm() and prompt().

import { t } from "./i18n.js";
import { h, uid } from "./util.js";

/** The dialog on screen, if any: a newer request answers it with "cancel". */
let current = null;

/**
 * Show a modal <dialog> and resolve true when its confirm button (or Enter in a field)
 * was chosen, false on the cancel button, Escape or a newer dialog. Focus stays inside
 * while it is open (showModal makes the page inert; Tab wraps among its controls) and
 * returns afterwards to the element that had it before.
 */
function modal({
  title,
  body = "",
  fields = [],
  confirmLabel,
  cancelLabel,
  danger = false,
  focus,
  single = false,
  testid = "confirm-dialog",
  extraClass = "",
}) {
  if (current) current.close("cancel");
  const opener = document.activeElement;
  const titleId = uid("dialog-title");
  const bodyId = uid("dialog-body");
  // single: one button that closes it (a dialog that only shows something).
  const cancelBtn = single
    ? null
    : h("button", {
        type: "button",
        class: "btn",
        "data-testid": "dialog-cancel",
        text: cancelLabel || t("dialog.cancel"),
      });
  const confirmBtn = h("button", {
    type: "submit",
    class: danger ? "btn btn-danger-solid" : "btn btn-primary",
    "data-testid": "dialog-confirm",
    text: confirmLabel || t("dialog.confirm"),
  });
  const form = h(
    "form",
    { class: "confirm-dialog-form" },
    h("h2", { id: titleId, class: "confirm-dialog-title", text: title || "" }),
    body ? h("p", { id: bodyId, class: "confirm-dialog-body", text: body }) : null,
    ...fields,
    h("div", { class: "confirm-dialog-actions" }, cancelBtn, confirmBtn),
  );
  const dlg = h(
    "dialog",
    {
      class: extraClass ? `confirm-dialog ${extraClass}` : "confirm-dialog",
      "aria-labelledby": titleId,
      "aria-describedby": body ? bodyId : null,
      "data-testid": testid,
    },
    form,
  );
  current = dlg;
  return new Promise((resolve) => {
    cancelBtn?.addEventListener("click", () => dlg.close("cancel"));
    // Never a real submission (the CSP has form-action 'none'): the dialog just closes.
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      dlg.close("confirm");
    });
    dlg.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const order = [...dlg.querySelectorAll("input, select, textarea, button")].filter(
        (el) => !el.disabled,
      );
      const i = order.indexOf(document.activeElement);
      const next = event.shiftKey ? (i <= 0 ? order.length - 1 : i - 1) : (i + 1) % order.length;
      event.preventDefault();
      order[next]?.focus();
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
    const first = focus || (danger && cancelBtn ? cancelBtn : confirmBtn);
    first.focus();
    if (first instanceof HTMLInputElement) first.select();
  });
}

/**
 * Ask the user to confirm. Resolves true for the confirm button, false otherwise.
 * danger: the confirm button looks destructive and the cancel button gets the focus.
 */
export function confirmDialog({ title, body = "", confirmLabel, cancelLabel, danger = false } = {}) {
  return modal({ title, body, confirmLabel, cancelLabel, danger });
}

/**
 * Ask for a name (and optionally a choice from a list). Resolves {value, choice} with
 * the trimmed text, or null when cancelled. choices: {label, options: [{value, text}],
 * value} for a <select> below the text field.
 */
export async function promptDialog({ title, label, value = "", confirmLabel, maxLength = 200, choices = null }) {
  const inputId = uid("dialog-input");
  const input = h("input", {
    id: inputId,
    class: "input",
    type: "text",
    required: true,
    maxlength: String(maxLength),
    autocomplete: "off",
    dir: "auto",
    "data-testid": "dialog-input",
  });
  input.value = value;
  const fields = [
    h("div", { class: "confirm-dialog-field" }, h("label", { for: inputId, text: label }), input),
  ];
  let select = null;
  if (choices) {
    const selectId = uid("dialog-select");
    select = h(
      "select",
      { id: selectId, class: "input", "data-testid": "dialog-select" },
      choices.options.map((o) => h("option", { value: o.value, text: o.text })),
    );
    select.value = choices.value ?? "";
    fields.push(
      h("div", { class: "confirm-dialog-field" }, h("label", { for: selectId, text: choices.label }), select),
    );
  }
  const ok = await modal({ title, fields, confirmLabel, focus: input });
  if (!ok || !input.value.trim()) return null;
  return { value: input.value.trim(), choice: select ? select.value : null };
}

/** Show something (the keyboard shortcuts) in the dialog style, with one Close button. */
export function infoDialog({ title, content, closeLabel, testid, extraClass = "" }) {
  return modal({ title, fields: [content], confirmLabel: closeLabel, single: true, testid, extraClass });
}

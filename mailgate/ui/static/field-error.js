// A refusal the server tied to one field of a form (ApiError.field): say it with the
// label the user sees, never the API's field name, and mark and focus that input.

import { t } from "./i18n.js";

const ADDRESS_FIELDS = new Set(["to", "cc", "bcc"]);

function labelOf(input) {
  const label = input.labels?.[0]?.textContent || input.getAttribute("aria-label") || "";
  return label.trim();
}

/**
 * The sentence to show for `err`. `inputs` maps the API's field names to the form's
 * inputs; an error about a field not on the form keeps the server's message. `focus:
 * false` leaves the caret where it is (an autosave while the user types).
 */
export function fieldErrorText(err, inputs, { focus = true } = {}) {
  const input = err?.status === 400 && err.field ? inputs[err.field] : null;
  const label = input ? labelOf(input) : "";
  if (!input || !label) return err?.message || "";
  input.setAttribute("aria-invalid", "true");
  input.addEventListener("input", () => input.removeAttribute("aria-invalid"), { once: true });
  if (focus && input.offsetParent !== null) input.focus();
  return ADDRESS_FIELDS.has(err.field)
    ? t("form.invalidAddressIn", { label })
    : t("form.invalidField", { label });
}

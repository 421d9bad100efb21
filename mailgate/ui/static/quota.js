// The account's quota under the mailbox list, where the mail server offers IMAP QUOTA
// (GET /api/quota); nothing at all where it does not.

import * as api from "./api.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { $, h, humanSize } from "./util.js";

// Asked at most this often (the mailbox list refreshes far more often).
const MIN_INTERVAL_MS = 30_000;
// The last answer, for whom and when (kept in memory only, like the rest of the state).
let last = null;
let pending = null;

function usage(value) {
  const used = Number(value?.used);
  const limit = Number(value?.limit);
  return Number.isFinite(used) && Number.isFinite(limit) && limit > 0 ? { used, limit } : null;
}

function render(data) {
  $("#quota")?.remove();
  const storage = usage(data?.storage);
  const messages = usage(data?.messages);
  const shown = storage || messages;
  if (!shown) return;
  const text = storage
    ? t("quota.storage", { used: humanSize(storage.used), limit: humanSize(storage.limit) })
    : t("quota.messages", { used: messages.used, limit: messages.limit });
  const percent = Math.min(100, Math.round((shown.used / shown.limit) * 100));
  $(".pane-nav")?.append(
    h(
      "div",
      { id: "quota", class: "quota", "data-testid": "quota" },
      h("p", { id: "quota-text", class: "quota-text", text }),
      h("meter", {
        class: "quota-meter",
        "data-testid": "quota-meter",
        min: "0",
        max: String(shown.limit),
        value: String(Math.min(shown.used, shown.limit)),
        high: String(Math.round(shown.limit * 0.9)),
        "aria-labelledby": "quota-text",
        "aria-valuetext": t("quota.percent", { percent }),
      }),
    ),
  );
}

/** Ask for the quota (unless this account asked lately) and show it. Never reports
    errors: the quota is a nicety, and the mailbox list says when the server is away. */
export async function refreshQuota() {
  const now = Date.now();
  const account = state.account?.email || null;
  if (pending) return pending;
  if (last && last.account === account && now - last.at < MIN_INTERVAL_MS) {
    if (!$("#quota")) render(last.data); // the shell was drawn again meanwhile
    return;
  }
  last = null;
  pending = api
    .get("/api/quota")
    .then(
      (data) => {
        // Signed out (or in as someone else) meanwhile: not this page's to show.
        if ((state.account?.email || null) !== account) return;
        last = { account, at: now, data };
        render(data);
      },
      () => {},
    )
    .finally(() => {
      pending = null;
    });
  return pending;
}

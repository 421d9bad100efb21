// Idle deadline tracking and the "Still there?" warning. Never talks to the
// server on a timer except the single check when the deadline has passed.

import { t } from "./i18n.js";
import { $ } from "./util.js";

const WARN_BEFORE_MS = 60_000;
// Check a little after the deadline so the server has surely expired the session.
const GRACE_MS = 2_000;

let timeoutS = null;
let deadline = null;
let warnTimer = null;
let expireTimer = null;
let tickTimer = null;
let previousFocus = null;
let handlers = { onStay: () => {}, onLogout: () => {}, onDeadline: () => {} };

/** Wire the warning's buttons. onDeadline() is called once when the deadline passes. */
export function initIdle(h) {
  handlers = { ...handlers, ...h };
  $("#idle-stay").addEventListener("click", () => handlers.onStay());
  $("#idle-logout").addEventListener("click", () => handlers.onLogout());
}

/** Remember the session's idle timeout (seconds) from the login answer. */
export function setIdleTimeout(seconds) {
  timeoutS = Number(seconds) > 0 ? Number(seconds) : null;
}

/** Restart the clock: `seconds` left (idle_expires_in_s), else the full timeout. */
export function touch(seconds) {
  const left = Number(seconds) >= 0 && seconds !== null ? Number(seconds) : timeoutS;
  if (left === null || left === undefined) return;
  deadline = Date.now() + left * 1000;
  clearTimers();
  hideWarning();
  warnTimer = setTimeout(showWarning, Math.max(0, deadline - WARN_BEFORE_MS - Date.now()));
  expireTimer = setTimeout(() => {
    expireTimer = null;
    handlers.onDeadline();
  }, deadline - Date.now() + GRACE_MS);
}

/** Stop all timers and hide the warning (logout). */
export function stopIdle() {
  clearTimers();
  hideWarning();
  deadline = null;
  timeoutS = null;
}

function clearTimers() {
  clearTimeout(warnTimer);
  clearTimeout(expireTimer);
  clearInterval(tickTimer);
  warnTimer = expireTimer = tickTimer = null;
}

function updateText() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  $("#idle-text").textContent =
    left > 0 ? t("idle.countdown", { count: left }) : t("idle.checking");
}

function showWarning() {
  const box = $("#idle-warning");
  if (!box.hidden || deadline === null) return;
  updateText();
  // A local countdown only; it makes no request.
  tickTimer = setInterval(updateText, 1000);
  previousFocus = document.activeElement;
  box.hidden = false;
  $("#idle-stay").focus();
}

function hideWarning() {
  const box = $("#idle-warning");
  if (box.hidden) return;
  const hadFocus = box.contains(document.activeElement);
  box.hidden = true;
  clearInterval(tickTimer);
  tickTimer = null;
  if (hadFocus && previousFocus?.isConnected) previousFocus.focus();
  previousFocus = null;
}

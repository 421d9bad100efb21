// Preferences: load them, apply them (theme; page size via state.pageSize) and change
// them on the server. They are the only data mailgate keeps after logout, so nothing
// here touches browser storage: the copy in `state.prefs` dies with the session.

import * as api from "./api.js";
import { state } from "./state.js";

const FORCED_THEMES = new Set(["light", "dark"]);
const SENDERS = "remote_images_senders";

const asObject = (value) =>
  value && typeof value === "object" && !Array.isArray(value) ? value : {};

function setPrefs(prefs) {
  state.prefs = asObject(prefs);
  applyTheme();
  return state.prefs;
}

/** GET /api/preferences into state (retained_until too); returns the preferences. */
export async function loadPrefs() {
  const data = await api.get("/api/preferences");
  state.prefsRetainedUntil = typeof data?.retained_until === "string" ? data.retained_until : null;
  if (Number.isFinite(data?.retention_days)) state.prefsRetentionDays = data.retention_days;
  return setPrefs(data?.preferences);
}

/** light/dark force a palette on <html>; system (or nothing) leaves it to the CSS media query. */
export function applyTheme() {
  const theme = state.prefs?.theme;
  const root = document.documentElement;
  if (FORCED_THEMES.has(theme)) root.dataset.theme = theme;
  else delete root.dataset.theme;
}

/** Back to the system palette (logout: the login screen shows no one's settings). */
export function clearTheme() {
  delete document.documentElement.dataset.theme;
}

/**
 * Read-modify-write of the whole object: GET the stored preferences (another tab may
 * have changed them), let `change` edit a copy, PUT it. Returns the saved preferences.
 */
export async function updatePrefs(change) {
  const data = await api.get("/api/preferences");
  const next = structuredClone(asObject(data?.preferences));
  change(next);
  const saved = await api.put("/api/preferences", next);
  state.prefsRetainedUntil =
    typeof saved?.retained_until === "string" ? saved.retained_until : state.prefsRetainedUntil;
  return setPrefs(saved?.preferences ?? next);
}

/** DELETE /api/preferences: erased on the server at once; defaults apply again. */
export async function erasePrefs() {
  await api.del("/api/preferences");
  state.prefsRetainedUntil = null;
  return setPrefs({});
}

/** The saved list of senders (addresses or domains) whose remote images always load. */
export function remoteSenders(prefs = state.prefs) {
  const list = asObject(prefs)[SENDERS];
  return Array.isArray(list) ? list.filter((s) => typeof s === "string") : [];
}

/** Put `list` back into `prefs` (dropping the key when it is empty). */
export function setRemoteSenders(prefs, list) {
  if (list.length) prefs[SENDERS] = list;
  else delete prefs[SENDERS];
}

/** The signature block for a new compose body ("-- " delimiter), or "": the given
    identity's own signature, else the one of the preferences. */
export function signatureBlock(identity = null) {
  const own = typeof identity?.signature === "string" ? identity.signature : "";
  const sig = own.trim()
    ? own
    : typeof state.prefs?.signature === "string"
      ? state.prefs.signature
      : "";
  return sig.trim() ? `\n\n-- \n${sig.replace(/\r\n/g, "\n")}` : "";
}

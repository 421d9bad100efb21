// mailgate webmail: entry module. Session start/end, the app shell, keyboard
// shortcuts and live updates. All state lives in memory (state.js).

import * as api from "./api.js";
import {
  closeCompose,
  initCompose,
  openCompose,
  openDraft,
  saveBeforeLeaving,
} from "./compose.js";
import { initIdle, setIdleTimeout, stopIdle, touch } from "./idle.js";
import {
  buildListPane,
  focusRow,
  loadList,
  moveSelection,
  rowById,
  onOpenConversation,
  onOpenMessage,
  renderList,
  setListMode,
} from "./list.js";
import {
  liveCounts,
  newFolder,
  onFolderChanges,
  onSelectMailbox,
  refreshMailboxes,
  renderMailboxes,
} from "./mailboxes.js";
import { clearTheme, loadPrefs, updatePrefs } from "./prefs.js";
import { closePrefs, initPrefsView, openPrefs } from "./prefs-view.js";
import { closeContacts, initContactsView, openContacts } from "./contacts-view.js";
import { closeReader, initReader, openConversation, openMessage } from "./reader.js";
import { clearOptions } from "./search-panel.js";
import {
  LANGUAGES,
  language,
  languageName,
  matchLanguage,
  negotiate,
  onLanguageChange,
  setLanguage,
  setTimeZone,
  t,
} from "./i18n.js";
import { clearRoute, formatRoute, onRouteChange, parseRoute, setRoute } from "./router.js";
import {
  acceptDrops,
  clearSelection,
  extendTo,
  initSelection,
  run as actOnSelection,
  selectedIds,
  toggleRow,
} from "./selection.js";
import { showShortcuts } from "./shortcuts.js";
import { announce, mailboxById, reportError, resetState, state } from "./state.js";
import { buildUndoToast, canUndo, dismissUndo, initUndo, undo } from "./undo.js";
import { $, h, isTypingTarget } from "./util.js";

const NARROW = window.matchMedia("(max-width: 799.98px)");
// Live events refresh the open list only if someone used the page this recently;
// otherwise a button offers the refresh, so arriving mail does not keep an idle session alive.
const PRESENCE_MS = 120_000;

let sessionGen = 0;
let events = null;
// After the stream failed with a server error: reopen it this long after, then give up.
const EVENTS_RETRY_MS = [15_000, 60_000, 240_000];
let eventsRetries = 0;
let eventsRetryTimer = null;
let idleCheckPending = false;
// The language the login screen starts in (the server's pick from Accept-Language), and
// one chosen there by hand, saved as the preference at sign-in.
let startLanguage = "en";
let pickedAtLogin = null;

const loginView = $("#login-view");
const loginForm = $("#login-form");
const emailInput = $("#login-email");
const passwordInput = $("#login-password");
const loginSubmit = $("#login-submit");
const appRoot = $("#app");

// ---------------------------------------------------------------- login screen

function setLoginMessage(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

function loginErrorText(err) {
  const code = err?.code || "";
  if (code === "auth_failed") return t("login.authFailed");
  if (code === "too_many_requests") {
    const seconds = err.retryAfter;
    if (seconds === null || seconds === undefined) return t("login.throttledMoment");
    if (seconds < 90) return t("login.throttledSeconds", { count: seconds });
    return t("login.throttledMinutes", { count: Math.ceil(seconds / 60) });
  }
  if (code.startsWith("upstream_")) return t("login.upstream", { message: err.message });
  return err?.message || t("login.failed");
}

/** The login screen's language list: each language in its own name. */
function fillLanguageSelect(select, current) {
  select.replaceChildren(
    ...LANGUAGES.map((lang) =>
      h("option", { value: lang, lang, selected: lang === current, text: languageName(lang) }),
    ),
  );
}

async function onLoginLanguage(event) {
  pickedAtLogin = event.target.value;
  await setLanguage(pickedAtLogin);
  // Messages already shown were in the old language; the form itself is re-labelled.
  setLoginMessage("#login-error", "");
  setLoginMessage("#login-info", "");
}

function showLogin(info = "") {
  appRoot.hidden = true;
  loginView.hidden = false;
  passwordInput.value = "";
  setLoginMessage("#login-error", "");
  setLoginMessage("#login-info", info);
  showProviderLogout(null);
  (emailInput.value ? passwordInput : emailInput).focus();
}

let lockTimer = null;
let servedDomains = [];
let providers = [];
// The provider this session signed in through (GET /api/session's `provider`), if any.
let signedInWith = null;

/** The domains this server serves, shown under the address only where the operator
    chose to list them (GET /api/domains answers an empty list otherwise). */
async function loadServedDomains() {
  try {
    const data = await api.get("/api/domains", { auth: false, activity: false });
    servedDomains = Array.isArray(data?.domains) ? data.domains.filter((d) => typeof d === "string") : [];
    providers = Array.isArray(data?.providers) ? data.providers : [];
  } catch {
    servedDomains = [];
    providers = [];
  }
  showServedDomains();
  showProviders();
}

/** "Sign in with …" for each domain whose OpenID provider signs its users in. */
function showProviders() {
  const box = $("#login-providers");
  if (!box) return;
  box.replaceChildren(
    ...providers.map((p) =>
      h("button", {
        type: "button",
        class: "btn btn-block",
        "data-testid": "login-provider",
        "data-domain": p.domain,
        text: t("login.provider", { name: p.name, domain: p.domain }),
        onclick: () => startProvider(p.domain),
      }),
    ),
  );
  box.hidden = providers.length === 0;
  updatePasswordField();
}

// The page that starts a provider sign-in keeps the flow's binding in this tab's
// sessionStorage (not a cookie) until the provider sends the tab back to /oidc/callback;
// only then does the sign-in finish (docs/decisions/0021-openid-sign-in.md).
const OIDC_BINDING = "mailgate.oidc.binding";
const OIDC_ROUTE = "mailgate.oidc.route";

async function startProvider(domain) {
  setLoginMessage("#login-error", "");
  try {
    const flow = await api.post("/api/oidc/start", { domain }, { auth: false });
    sessionStorage.setItem(OIDC_BINDING, flow.binding);
    // A deep link opened before sign-in survives the trip to the provider.
    if (parseRoute().mailbox) sessionStorage.setItem(OIDC_ROUTE, window.location.hash);
    window.location.assign(flow.authorization_url);
  } catch (err) {
    if (!api.isAborted(err)) setLoginMessage("#login-error", loginErrorText(err));
  }
}

/** Back from the provider: the code leaves the address bar and history at once. */
async function finishProvider() {
  const params = new URLSearchParams(window.location.search);
  const route = parseRoute(sessionStorage.getItem(OIDC_ROUTE) || "");
  sessionStorage.removeItem(OIDC_ROUTE);
  window.history.replaceState(null, "", `/${formatRoute(route)}`);
  const binding = sessionStorage.getItem(OIDC_BINDING);
  sessionStorage.removeItem(OIDC_BINDING);
  const code = params.get("code");
  const stateParam = params.get("state");
  if (!code || !stateParam || !binding || params.has("error")) {
    showLogin();
    setLoginMessage("#login-error", t("login.providerFailed"));
    return;
  }
  try {
    const body = { code, state: stateParam, binding };
    if (params.get("iss")) body.iss = params.get("iss");
    const session = await api.post("/api/oidc/finish", body, { auth: false });
    await startSession(session);
  } catch (err) {
    showLogin();
    if (!api.isAborted(err)) setLoginMessage("#login-error", loginErrorText(err));
  }
}

function showServedDomains() {
  const hint = $("#login-domains");
  if (!hint) return;
  hint.hidden = servedDomains.length === 0;
  hint.textContent = servedDomains.length
    ? t("login.domains", { domains: servedDomains.join(", ") })
    : "";
  if (servedDomains.length) emailInput.setAttribute("aria-describedby", "login-domains");
  else emailInput.removeAttribute("aria-describedby");
}

/** The provider of an address's domain when that domain takes no password, else null. */
function providerOnlyFor(address) {
  const at = address.lastIndexOf("@");
  const domain = at < 0 ? "" : address.slice(at + 1).toLowerCase();
  return providers.find((p) => p.domain === domain && p.passwords === false) || null;
}

/** No password field for an address whose domain signs in only through its provider. */
function updatePasswordField() {
  const only = providerOnlyFor(completeAddress(emailInput.value.trim())) !== null;
  const label = $('label[for="login-password"]');
  if (label) label.hidden = only;
  passwordInput.hidden = only;
  loginSubmit.hidden = only;
}

/** With exactly one domain served, a bare user name means an address there. */
function completeAddress(typed) {
  if (typed.includes("@") || servedDomains.length !== 1) return typed;
  return `${typed}@${servedDomains[0]}`;
}

async function onLogin(event) {
  event.preventDefault();
  if (loginSubmit.disabled) return;
  const email = completeAddress(emailInput.value.trim());
  const only = providerOnlyFor(email);
  if (only) {
    await startProvider(only.domain);
    return;
  }
  const password = passwordInput.value;
  setLoginMessage("#login-info", "");
  if (!email || !password) {
    setLoginMessage("#login-error", t("login.missing"));
    (email ? passwordInput : emailInput).focus();
    return;
  }
  setLoginMessage("#login-error", "");
  loginSubmit.disabled = true;
  loginSubmit.textContent = t("login.busy");
  loginForm.setAttribute("aria-busy", "true");
  let locked = false;
  try {
    const session = await api.post("/api/session", { email, password }, { auth: false });
    passwordInput.value = "";
    await startSession(session);
  } catch (err) {
    passwordInput.value = "";
    if (api.isAborted(err)) return;
    setLoginMessage("#login-error", loginErrorText(err));
    if (err.code === "too_many_requests") {
      locked = true;
      clearTimeout(lockTimer);
      lockTimer = setTimeout(
        () => {
          loginSubmit.disabled = false;
        },
        Math.min(err.retryAfter ?? 5, 3600) * 1000,
      );
    }
    passwordInput.focus();
  } finally {
    loginSubmit.textContent = t("login.submit");
    loginSubmit.disabled = locked;
    loginForm.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------- session

async function startSession(session) {
  const gen = ++sessionGen;
  api.setCsrfToken(session?.csrf_token);
  state.account = session?.account || { email: "" };
  state.features = {
    proxy: session?.features?.proxy === true,
    contacts: session?.features?.contacts === true,
  };
  state.limits = session?.limits || null;
  signedInWith = session?.provider || null;
  setIdleTimeout(session?.idle_timeout_s);
  touch(session?.idle_expires_in_s ?? session?.idle_timeout_s);
  // Settings first: the language and time zone the shell is drawn in.
  await loadStartPrefs();
  if (gen !== sessionGen) return;
  await applyPersonalLocale();
  if (gen !== sessionGen) return;
  state.listMode = state.prefs?.list_view === "conversations" ? "conversations" : "messages";
  buildShell();
  loginView.hidden = true;
  appRoot.hidden = false;
  setLoginMessage("#login-error", "");
  setLoginMessage("#login-info", "");
  const pending = [refreshMailboxes()];
  if (!session?.features) pending.push(loadFeatures());
  await Promise.all(pending);
  if (gen !== sessionGen) return;
  // A deep link (a bookmark, a reload) opens where it points; else the inbox.
  const route = parseRoute();
  const wanted = route.mailbox ? mailboxById(route.mailbox) : null;
  const inbox = state.mailboxes.find((m) => m.role === "inbox") || state.mailboxes[0];
  const start = wanted || inbox;
  if (start) selectMailbox(start.id, { focus: false, history: "replace" });
  $("#list-title")?.focus();
  if (wanted && route.message) openMessage(route.message);
  else if (wanted && route.conversation) openConversation(route.conversation);
  if (wanted) setRoute(route, { push: false });
  eventsRetries = 0;
  openEvents();
}

/** Settings before the first list (its page size); the defaults if they cannot be read. */
async function loadStartPrefs() {
  try {
    await loadPrefs();
  } catch (err) {
    reportError(err, t("prefs.loadFailed"));
  }
}

/**
 * After sign-in the saved language and time zone apply. A language picked on the login
 * screen (and none saved yet, or another one) becomes the saved one.
 */
async function applyPersonalLocale() {
  setTimeZone(state.prefs?.time_zone);
  const saved = matchLanguage(state.prefs?.language);
  if (pickedAtLogin && pickedAtLogin !== saved) {
    const lang = pickedAtLogin;
    try {
      await updatePrefs((prefs) => {
        prefs.language = lang;
      });
    } catch (err) {
      reportError(err, t("prefs.saveFailed"));
    }
  } else if (saved && saved !== language()) {
    await setLanguage(saved);
  }
  pickedAtLogin = null;
}

/** The login answer may lack `features`; GET /api/session carries it (missing = false). */
async function loadFeatures() {
  try {
    const s = await api.get("/api/session");
    state.features = {
      proxy: s?.features?.proxy === true,
      contacts: s?.features?.contacts === true,
    };
    state.limits = s?.limits || state.limits;
    touch(s?.idle_expires_in_s);
  } catch (err) {
    if (!api.isAborted(err)) state.features = { proxy: false, contacts: false };
  }
}

/** Wipe every trace of the session from memory and the DOM, show the login screen. */
/** After logging out of a provider-signed session: a link to end the sign-in at the
    provider too (OpenID Connect RP-initiated logout), which brings the browser back here. */
function showProviderLogout(provider) {
  const link = $("#login-provider-logout");
  if (!link) return;
  const url = provider?.end_session_url;
  link.hidden = !url;
  if (!url) {
    link.removeAttribute("href");
    link.textContent = "";
    return;
  }
  link.href = url;
  link.textContent = t("login.providerLogout", { name: provider.name });
}

function endSession(info = "", provider = null) {
  sessionGen += 1;
  signedInWith = null;
  api.resetSession();
  stopIdle();
  closeEvents();
  clearTheme();
  idleCheckPending = false;
  // Blank the mail frame first so its document is discarded, then drop the whole shell.
  for (const frame of appRoot.querySelectorAll("iframe")) frame.src = "about:blank";
  appRoot.replaceChildren();
  dismissUndo();
  resetState();
  clearRoute();
  announce("");
  document.title = "mailgate";
  setTimeZone(null);
  // The login screen speaks the browser's language again, not the last user's.
  setLanguage(startLanguage)
    .catch(() => {})
    .then(() => {
      showLogin(info ? t(info) : "");
      showProviderLogout(provider);
    });
}

async function logout() {
  let info = "login.signedOut";
  await saveBeforeLeaving();
  if (!state.account) return; // the save found the session over already
  const provider = signedInWith;
  try {
    await api.del("/api/session", { auth: false });
  } catch (err) {
    if (err?.code === "network") {
      info = "login.signedOutOffline";
    }
  }
  endSession(info, provider);
}

/** "Stay signed in": one GET /api/session, which counts as activity. */
async function staySignedIn() {
  try {
    const s = await api.get("/api/session");
    touch(s?.idle_expires_in_s);
    announce(t("idle.stillSignedIn"));
  } catch (err) {
    reportError(err);
  }
}

/** The idle deadline passed: ask the server once; a 401 ends the session here too. */
async function onIdleDeadline() {
  idleCheckPending = true;
  try {
    const s = await api.get("/api/session");
    idleCheckPending = false;
    touch(s?.idle_expires_in_s);
  } catch (err) {
    if (api.isAborted(err)) return;
    // Unreachable server: the session is past its idle limit anyway, so wipe it here.
    endSession("login.signedOutIdle");
  }
}

function onUnauthorized() {
  if (!state.account) return;
  endSession(
    idleCheckPending ? "login.signedOutIdle" : "login.sessionEnded",
  );
}

// ---------------------------------------------------------------- live updates

function openEvents() {
  closeEvents();
  if (typeof window.EventSource !== "function") return;
  try {
    events = new EventSource("/api/events");
  } catch {
    events = null;
    return;
  }
  const source = events;
  source.addEventListener("mailbox", onMailboxEvent);
  source.addEventListener("error", () => onEventsError(source));
}

/**
 * While the browser reconnects by itself (readyState CONNECTING: the stream ended or
 * the network dropped) there is nothing to do. CLOSED means an answer other than a
 * stream (401 after the session was wiped, 404 while the endpoint is missing, a 5xx),
 * which the browser never retries. One status check then tells a wiped session (end it
 * here too) from a server fault (a few spaced retries) and the rest (stay quiet).
 */
function onEventsError(source) {
  if (source !== events || source.readyState !== EventSource.CLOSED) return;
  closeEvents();
  const gen = sessionGen;
  api.statusOf("/api/events").then((status) => {
    // A 401 has already ended the session through the API's unauthorized hook.
    if (gen !== sessionGen || status === 401) return;
    // A passing server fault: try again a few times, further and further apart. A 200
    // means the stream works again (the check itself opened one): reopen at once.
    const passing = status === 200 || status >= 500;
    if (passing && eventsRetries < EVENTS_RETRY_MS.length) {
      const delay = status === 200 ? 0 : EVENTS_RETRY_MS[eventsRetries];
      eventsRetryTimer = setTimeout(openEvents, delay);
      eventsRetries += 1;
    }
  });
}

function closeEvents() {
  clearTimeout(eventsRetryTimer);
  eventsRetryTimer = null;
  if (events) events.close();
  events = null;
}

function onMailboxEvent(event) {
  eventsRetries = 0; // the stream works: a later fault gets the full set of retries
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!data || typeof data.mailbox !== "string") return;
  liveCounts(data.mailbox, { total: Number(data.total), unread: Number(data.unread) });
  if (data.mailbox !== state.mailboxId) return;
  const present =
    document.visibilityState === "visible" &&
    Date.now() - state.lastInputAt < PRESENCE_MS &&
    $("#idle-warning").hidden;
  // While an action on many messages is answered, its own reload comes after it; should
  // that not happen (it failed), the hint stays to load the news.
  if (present && state.list.offset === 0 && !state.actionsUnderWay) loadList({ keepFocus: true });
  else $("#new-mail")?.removeAttribute("hidden");
}

// ---------------------------------------------------------------- shell and navigation

function showPane(view) {
  state.view = view;
  const panes = $("#panes");
  if (panes) panes.dataset.view = view;
}

function buildShell() {
  appRoot.replaceChildren(
    h("a", {
      class: "skip-link",
      href: "#list-title",
      text: t("shell.skip"),
      // Focus moves without a new history entry: the address keeps naming the view.
      onclick: (e) => {
        e.preventDefault();
        $("#list-title")?.focus();
      },
    }),
    h(
      "header",
      { class: "topbar" },
      h(
        "h1",
        { class: "brand", translate: "no" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }),
        h("span", { class: "brand-name", text: "mailgate" }),
      ),
      h("bdi", {
        class: "account",
        "data-testid": "account-email",
        translate: "no",
        text: state.account.email,
      }),
      h("button", {
        type: "button",
        class: "btn btn-primary",
        "data-testid": "compose-button",
        "aria-keyshortcuts": "c",
        text: t("shell.compose"),
        onclick: () => compose("new"),
      }),
      state.features.contacts
        ? h("button", {
            type: "button",
            id: "contacts-button",
            class: "btn",
            "data-testid": "contacts-button",
            text: t("shell.contacts"),
            onclick: showContacts,
          })
        : null,
      h(
        "button",
        {
          type: "button",
          id: "prefs-button",
          class: "btn btn-icon-narrow",
          "data-testid": "prefs-button",
          "aria-label": t("shell.settings"),
          onclick: showPrefs,
        },
        h("span", { class: "btn-icon", "aria-hidden": "true", text: "⚙" }),
        h("span", { class: "btn-label", "aria-hidden": "true", text: t("shell.settings") }),
      ),
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "logout",
        text: t("shell.signOut"),
        onclick: logout,
      }),
    ),
    // One <main> around whatever shows: the panes (narrow screens show one of them,
    // the mailbox list included) or the settings screen.
    h(
      "main",
      { id: "main-content", class: "app-main" },
      h(
        "div",
        { id: "panes", class: "panes", "data-view": "list" },
        h(
          "nav",
          { class: "pane pane-nav", "aria-labelledby": "nav-title" },
          h("h2", { id: "nav-title", class: "pane-title", text: t("shell.mailboxes") }),
          h("ul", { id: "mailbox-list", class: "mailbox-list" }),
          h(
            "div",
            { class: "folder-actions" },
            h("button", {
              type: "button",
              id: "folder-new",
              class: "btn btn-small btn-ghost",
              "data-testid": "folder-new",
              text: t("folder.new"),
              onclick: () => newFolder(),
            }),
          ),
        ),
        h(
          "div",
          { class: "main" },
          buildListPane({ onBack: () => showMailboxes(), onModeChange: changeListMode }),
          h("section", {
            id: "reader-pane",
            class: "pane pane-reader",
            "aria-label": t("reader.label"),
          }),
        ),
      ),
      h("section", {
        id: "prefs-view",
        class: "prefs-view",
        "aria-labelledby": "prefs-title",
        hidden: true,
      }),
      h("section", {
        id: "contacts-view",
        class: "prefs-view contacts-view",
        "aria-labelledby": "contacts-title",
        "data-testid": "contacts-view",
        hidden: true,
      }),
    ),
    buildUndoToast(),
  );
  acceptDrops($(".pane-nav"));
  closeReader();
}

/**
 * The language changed (in Settings): draw the shell again in it. The open list, the
 * open message and the settings screen come back; nothing is lost (compose is closed
 * while the settings screen shows).
 */
async function redrawShell() {
  if (!state.account || !appRoot.firstChild) return;
  const route = parseRoute();
  const messageId = state.message?.id;
  const conversationId = state.conversation?.id;
  const prefsWereOpen = state.prefsOpen;
  const contactsWereOpen = state.contactsOpen;
  const view = state.view;
  closePrefs();
  closeContacts();
  buildShell();
  renderMailboxes();
  renderList();
  showPane(view);
  if (messageId) await openMessage(messageId, { focus: false });
  if (conversationId) await openConversation(conversationId, { focus: false });
  if (prefsWereOpen) await openPrefs();
  if (contactsWereOpen) await openContacts();
  setRoute(route, { push: false });
}

async function showPrefs() {
  if (state.prefsOpen) return;
  if (!closeCompose({ confirm: true, then: showPrefs })) return;
  closeContacts();
  openPrefs();
}

function showContacts() {
  if (state.contactsOpen) return;
  if (state.prefsOpen && !closePrefs({ confirm: true })) return;
  if (!closeCompose({ confirm: true, then: showContacts })) return;
  openContacts();
}

/** The preferences screen closed: the panes are back, focus returns to its button. */
function afterPrefsClosed() {
  $("#prefs-button")?.focus();
}

/** A new time zone: the list's and the open message's dates again. */
function onTimeZoneChanged() {
  renderList();
  if (state.message) openMessage(state.message.id, { focus: false });
}

/** A new page size: start the open mailbox's list again from its first page. */
function onPageSizeChanged() {
  state.list.offset = 0;
  loadList();
}

function showMailboxes() {
  showPane("mailboxes");
  const current =
    $('#mailbox-list [aria-current="page"]') || $('#mailbox-list [data-testid="mailbox"]');
  current?.focus();
}

/** history: "push" a new entry (the user chose it), "replace" the current one, or "none"
    (Back or Forward got here). */
function selectMailbox(id, { focus = true, history = "push" } = {}) {
  if (!closeCompose({ confirm: true, then: () => selectMailbox(id, { focus, history }) })) {
    return Promise.resolve();
  }
  if (history !== "none") setRoute({ mailbox: id }, { push: history === "push" });
  if (id !== state.mailboxId) state.selected.clear();
  state.mailboxId = id;
  state.list = { total: 0, offset: 0, messages: [], conversations: [] };
  state.q = "";
  const search = $("#search-input");
  if (search) search.value = "";
  clearOptions();
  closeReader();
  renderMailboxes();
  renderList();
  showPane("list");
  const done = loadList();
  if (focus && NARROW.matches) done.then(() => $("#list-title")?.focus());
  return done;
}

async function openFromList(id) {
  if (!closeCompose({ confirm: true, then: () => openFromList(id) })) return;
  setRoute({ mailbox: state.mailboxId, message: id });
  openMessage(id);
}

function openConversationFromList(id) {
  if (!closeCompose({ confirm: true })) return;
  setRoute({ mailbox: state.mailboxId, conversation: id });
  openConversation(id);
}

// While Back or Forward is being followed, the reader closing does not rewrite the route.
let followingRoute = false;

/** The reader closed: the address names the mailbox alone again (in place). */
function onReaderClosed() {
  if (followingRoute || !state.account || !state.mailboxId) return;
  const route = parseRoute();
  if (route.message || route.conversation) setRoute({ mailbox: state.mailboxId }, { push: false });
}

/** Back or Forward: show the mailbox and the message the address names. */
async function followRoute(route) {
  if (!state.account || !appRoot.firstChild) return;
  // An in-page anchor (the skip link's #list-title) is not a route.
  if (!window.location.hash.startsWith("#/")) return;
  if (state.compose && !closeCompose({ confirm: true })) return;
  if (state.prefsOpen && !(await closePrefs({ confirm: true }))) return;
  closeContacts();
  followingRoute = true;
  try {
    const inbox = state.mailboxes.find((m) => m.role === "inbox") || state.mailboxes[0];
    const known = route.mailbox ? mailboxById(route.mailbox) : null;
    const mb = known || inbox;
    if (!mb) return;
    // A message is looked for only in the folder the link names.
    if (!known) route = { mailbox: mb.id, message: null, conversation: null };
    const open = state.message?.id || state.conversation?.id || null;
    if (mb.id !== state.mailboxId) {
      await selectMailbox(mb.id, { focus: false, history: "none" });
    }
    if (route.message) {
      if (state.message?.id !== route.message) await openMessage(route.message);
    } else if (route.conversation) {
      if (state.conversation?.id !== route.conversation) await openConversation(route.conversation);
    } else if (state.message || state.conversation || state.view !== "list") {
      closeReader();
      showPane("list");
      if (!(open && focusRow(open))) ($("#message-list .message-row") || $("#list-title"))?.focus();
    } else if (!$("#panes")?.contains(document.activeElement)) {
      $("#list-title")?.focus();
    }
  } finally {
    followingRoute = false;
  }
  // What could not be followed (an unknown folder, a gone message) leaves the address.
  if (state.account && state.mailboxId) {
    const shown = {
      mailbox: state.mailboxId,
      message: state.message?.id || null,
      conversation: state.conversation?.id || null,
    };
    setRoute(shown, { push: false });
  }
}

/** The "Messages / Conversations" toggle above the list. */
function changeListMode(mode) {
  if (!closeCompose({ confirm: true })) return;
  closeReader();
  showPane("list");
  setListMode(mode);
}

/** Escape / u / the back buttons: close the reader or compose form, focus the list. */
async function backToList() {
  if (state.compose && !closeCompose({ confirm: true, then: backToList })) return;
  const id = state.message?.id || state.conversation?.id;
  closeReader();
  showPane("list");
  if (!(id && focusRow(id))) {
    ($("#message-list .message-row") || $("#list-title"))?.focus();
  }
}

async function compose(mode, msg = null) {
  if (state.prefsOpen && !(await closePrefs({ confirm: true }))) return;
  closeContacts();
  if (state.compose && !closeCompose({ confirm: true, then: () => compose(mode, msg) })) return;
  if (mode === "draft") return openDraft(msg);
  openCompose(mode, msg);
}

/** After the compose form closes: back to the list, focus where the user was. */
function afterComposeClosed() {
  const id = state.message?.id;
  closeReader();
  showPane("list");
  if (!(id && focusRow(id))) $("#list-title")?.focus();
}

/** Undo moved messages back to `mailboxId`: redraw, and focus the first one if listed. */
async function afterUndo(mailboxId, ids) {
  await Promise.all([loadList(), refreshMailboxes()]);
  if (mailboxId !== state.mailboxId) return;
  // A newer load (a live update, say) may have superseded this one: wait for its rows.
  for (let tries = 0; tries < 30; tries += 1) {
    const row = ids.map((id) => rowById(id)).find(Boolean);
    if (row) {
      row.focus();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------- keyboard

function focusMailboxButton(id) {
  $(`#mailbox-list [data-id="${CSS.escape(id)}"]`)?.focus();
}

function moveInNav(step) {
  const buttons = [...document.querySelectorAll('#mailbox-list [data-testid="mailbox"]')];
  const i = buttons.indexOf(document.activeElement);
  const next = buttons[Math.max(0, Math.min(buttons.length - 1, i + step))];
  next?.focus();
}

function onKeyDown(e) {
  if (!state.account || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target;
  if (isTypingTarget(target)) {
    if (e.key === "Escape" && target.id === "search-input") {
      target.blur();
      ($("#message-list .message-row") || $("#list-title"))?.focus();
    }
    return;
  }
  if (target.closest?.("#idle-warning") || target.closest?.("dialog")) return;
  // The settings screen handles its own keys (Escape); list shortcuts stay off there.
  if (state.prefsOpen || state.contactsOpen) return;
  const inList = Boolean(target.closest?.("#message-list"));
  const inNav = Boolean(target.closest?.("#mailbox-list"));
  const readerOnly = NARROW.matches && state.view !== "list";
  const handled = () => e.preventDefault();
  switch (e.key) {
    case "ArrowDown":
    case "ArrowUp": {
      const step = e.key === "ArrowDown" ? 1 : -1;
      if (inList && e.shiftKey) {
        // Shift+arrows choose a range, as Shift+click does.
        const from = target.closest?.(".message-row")?.dataset.id;
        moveSelection(step);
        const to = document.activeElement?.closest?.(".message-row")?.dataset.id;
        if (from && to) extendTo(from, to);
      } else if (inList) moveSelection(step);
      else if (inNav) moveInNav(step);
      else return;
      return handled();
    }
    case "Home":
    case "End":
      if (!inList) return;
      moveSelection(e.key === "End" ? 1 : -1, { edge: true });
      return handled();
    case "?":
      showShortcuts();
      return handled();
    case "x": {
      const row = target.closest?.("#message-list .message-row");
      if (!row || state.compose) return;
      toggleRow(row.dataset.id);
      return handled();
    }
    case "z":
      if (!canUndo() || state.compose) return;
      undo();
      return handled();
    case "Delete":
    case "#":
      if (state.compose) return;
      if (selectedIds().length) actOnSelection("delete");
      else if (state.message) $('[data-testid="delete"]')?.click();
      else return;
      return handled();
    // The chosen rows, else the open message: flag, junk, read, unread.
    case "s":
    case "!":
    case "I":
    case "U": {
      if (state.compose) return;
      const chosen = selectedIds();
      if (chosen.length) {
        if (e.key === "s") {
          const all = chosen.every((id) => state.list.messages.find((m) => m.id === id)?.flagged);
          actOnSelection(all ? "unflag" : "flag");
        } else if (e.key === "!") {
          if (!$("#bulk-junk") || $("#bulk-junk").hidden) return;
          actOnSelection("junk");
        } else actOnSelection(e.key === "I" ? "read" : "unread");
        return handled();
      }
      if (!state.message) return;
      const testid = { s: "flag-toggle", "!": "junk", I: "mark-read", U: "mark-unread" }[e.key];
      const button = $(`#reader-pane [data-testid="${testid}"]`);
      if (!button) return;
      button.click();
      return handled();
    }
    // While reading: open the next or the previous message of the list.
    case "n":
    case "p": {
      if (state.compose || state.listMode === "conversations") return;
      const ids = state.list.messages.map((m) => m.id);
      const here = ids.indexOf(state.message?.id || target.closest?.(".message-row")?.dataset.id);
      const next = ids[here < 0 ? 0 : here + (e.key === "n" ? 1 : -1)];
      if (!next) return;
      openFromList(next);
      return handled();
    }
    case "j":
    case "k":
      if (readerOnly || state.compose) return;
      moveSelection(e.key === "j" ? 1 : -1);
      return handled();
    case "Escape":
    case "u":
      if (!state.compose && !state.message && !state.conversation && state.view === "list") {
        if (e.key !== "Escape" || !selectedIds().length) return;
        clearSelection();
        announce(t("bulk.cleared"));
        return handled();
      }
      backToList();
      return handled();
    case "c":
      compose("new");
      return handled();
    case "r":
    case "a":
    case "f":
      if (!state.message || state.compose) return;
      compose({ r: "reply", a: "replyAll", f: "forward" }[e.key], state.message);
      return handled();
    case "e": {
      // In Drafts: continue editing the open draft. Elsewhere: archive (as Gmail does)
      // the chosen rows, else the open message.
      if (state.compose) return;
      const role = state.mailboxes.find((m) => m.id === state.mailboxId)?.role;
      if (role === "drafts") {
        if (!state.message) return;
        compose("draft", state.message);
        return handled();
      }
      if (selectedIds().length) {
        if (!$("#bulk-archive") || $("#bulk-archive").hidden) return;
        actOnSelection("archive");
        return handled();
      }
      const button = state.message && $('#reader-pane [data-testid="archive"]');
      if (!button) return;
      button.click();
      return handled();
    }
    case "/":
      if (state.compose) return;
      // Search is in the message list: leave the conversation list for it.
      if (state.listMode === "conversations") changeListMode("messages");
      showPane("list");
      $("#search-input")?.focus();
      return handled();
    default:
  }
}

// ---------------------------------------------------------------- start

async function probeSession() {
  loginView.hidden = true;
  startLanguage = matchLanguage(document.documentElement.lang) || negotiate(navigator.languages);
  try {
    await setLanguage(startLanguage);
  } catch {
    // No catalog at all: the markup's English stays.
  }
  const select = $("#login-language");
  fillLanguageSelect(select, language());
  select.addEventListener("change", onLoginLanguage);
  onLanguageChange((lang) => {
    select.value = lang;
    showServedDomains();
    showProviders();
    redrawShell();
  });
  loadServedDomains();
  if (window.location.pathname === "/oidc/callback") {
    await finishProvider();
    return;
  }
  try {
    const { session } = await api.get("/api/session/probe", { auth: false });
    if (!session) {
      showLogin();
      return;
    }
    await startSession(session);
  } catch (err) {
    showLogin();
    if (err?.status !== 401 && !api.isAborted(err)) {
      setLoginMessage("#login-error", loginErrorText(err));
    }
  }
}

function init() {
  api.configure({ onActivity: () => touch(), onUnauthorized });
  initIdle({ onStay: staySignedIn, onLogout: logout, onDeadline: onIdleDeadline });
  initReader({ showPane, compose, backToList, closed: onReaderClosed });
  initSelection({
    removedOpen: () => {
      closeReader();
      showPane("list");
    },
  });
  initUndo({ restored: afterUndo });
  onRouteChange(followRoute);
  initCompose({ showPane, close: afterComposeClosed });
  initContactsView({ onClose: () => $("#contacts-button")?.focus() });
  initPrefsView({
    onClose: afterPrefsClosed,
    onPageSize: onPageSizeChanged,
    onListView: changeListMode,
    onTimeZone: onTimeZoneChanged,
  });
  onSelectMailbox((id) => selectMailbox(id));
  onFolderChanges({
    onRenamed: () => loadList(),
    onDeletedCurrent: () => {
      const inbox = state.mailboxes.find((m) => m.role === "inbox");
      if (inbox) selectMailbox(inbox.id, { focus: false }).then(() => focusMailboxButton(inbox.id));
    },
  });
  onOpenMessage(openFromList);
  onOpenConversation(openConversationFromList);
  loginForm.addEventListener("submit", onLogin);
  emailInput.addEventListener("input", updatePasswordField);
  document.addEventListener("keydown", onKeyDown);
  const noteInput = () => {
    state.lastInputAt = Date.now();
  };
  document.addEventListener("pointerdown", noteInput, { capture: true, passive: true });
  document.addEventListener("keydown", noteInput, { capture: true, passive: true });
  probeSession();
}

init();

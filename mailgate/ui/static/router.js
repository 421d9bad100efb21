// Deep links and history: the fragment names the open mailbox and the open message or
// conversation, e.g. #/mailbox/<id>/message/<id>. Only opaque ids go there, and only in
// the fragment, which the browser never sends to the server (nor does it reach a log).

const ID = /^[A-Za-z0-9_-]{1,2048}$/;

/** The route in a fragment: {mailbox, message, conversation} (each an id or null). */
export function parseRoute(hash = window.location.hash) {
  const parts = String(hash || "").replace(/^#\/?/, "").split("/");
  const route = { mailbox: null, message: null, conversation: null };
  if (parts[0] !== "mailbox" || !ID.test(parts[1] || "")) return route;
  route.mailbox = parts[1];
  if (parts[2] === "message" && ID.test(parts[3] || "")) route.message = parts[3];
  else if (parts[2] === "conversation" && ID.test(parts[3] || "")) route.conversation = parts[3];
  return route;
}

export function formatRoute({ mailbox = null, message = null, conversation = null } = {}) {
  if (!mailbox) return "";
  let hash = `#/mailbox/${mailbox}`;
  if (message) hash += `/message/${message}`;
  else if (conversation) hash += `/conversation/${conversation}`;
  return hash;
}

/**
 * Show `route` in the address bar: a new history entry when `push` (the user went
 * somewhere), else in place of the current one (a side effect, such as a deleted message).
 */
export function setRoute(route, { push = true } = {}) {
  const hash = formatRoute(route);
  const url = `${window.location.pathname}${window.location.search}${hash}`;
  if (hash === window.location.hash || (!hash && !window.location.hash)) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

/** Forget the route (sign-out): the next account starts in its inbox. */
export function clearRoute() {
  if (!window.location.hash) return;
  window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}`);
}

/** Back and Forward (and a fragment typed or pasted, which fires popstate too): fn(route). */
export function onRouteChange(fn) {
  window.addEventListener("popstate", () => fn(parseRoute()));
}

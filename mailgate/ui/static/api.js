// HTTP client for the mailgate API (see docs/api.md). Holds the CSRF token in memory only.

import { language, t } from "./i18n.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An error answer from the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    // The request body's field at fault (its JSON name), when the server named one.
    this.field = field;
  }
}

let csrfToken = null;
let controller = new AbortController();
const hooks = { onActivity: () => {}, onUnauthorized: () => {} };

/** Register callbacks: onActivity() after each activity-counting answer, onUnauthorized() on 401. */
export function configure({ onActivity, onUnauthorized }) {
  if (onActivity) hooks.onActivity = onActivity;
  if (onUnauthorized) hooks.onUnauthorized = onUnauthorized;
}

export function setCsrfToken(token) {
  csrfToken = typeof token === "string" ? token : null;
}

/** Forget the token and abort every request still in flight (logout, 401). */
export function resetSession() {
  csrfToken = null;
  controller.abort();
  controller = new AbortController();
}

/** True for errors that only mean "the session was reset while this ran". */
export function isAborted(err) {
  return err?.name === "AbortError" || err?.code === "aborted";
}

/** Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or null. */
export function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

function errorFrom(status, data, retryAfter) {
  const err = data && typeof data === "object" ? data.error : null;
  const code = typeof err?.code === "string" ? err.code : `http_${status}`;
  const message =
    typeof err?.message === "string" && err.message
      ? err.message
      : t("api.status", { status: String(status) });
  const field = typeof err?.field === "string" ? err.field : null;
  return new ApiError(status, code, message, parseRetryAfter(retryAfter), field);
}

/** Headers of every call: the UI's language, so error messages come back in it. */
function unsafeHeaders(method) {
  const headers = { "Accept-Language": language() };
  if (UNSAFE.has(method)) {
    headers["X-Mailgate"] = "1";
    if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  }
  return headers;
}

/**
 * Call the API. `auth: false` for calls where 401 is an expected answer (login,
 * the start-up session probe); `activity: false` for calls the server does not
 * count as activity; `keepalive: true` for a call that must outlive the page.
 */
export async function request(
  method,
  path,
  body,
  { auth = true, activity = true, keepalive = false } = {},
) {
  const headers = { Accept: "application/json", ...unsafeHeaders(method) };
  const init = {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    referrerPolicy: "no-referrer",
    signal: controller.signal,
  };
  if (keepalive) init.keepalive = true;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (isAborted(e)) throw new ApiError(0, "aborted", t("api.cancelled"));
    throw new ApiError(0, "network", t("api.network"));
  }
  if (res.status === 401 && auth) {
    hooks.onUnauthorized();
    throw new ApiError(0, "aborted", t("api.signedOut"));
  }
  if (auth && activity) hooks.onActivity();
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (!res.ok) throw errorFrom(res.status, data, res.headers.get("Retry-After"));
  return data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const patch = (path, body, opts) => request("PATCH", path, body, opts);
export const put = (path, body, opts) => request("PUT", path, body, opts);
export const del = (path, opts) => request("DELETE", path, undefined, opts);

/**
 * The HTTP status of a GET, read from the headers only: the body is never read and the
 * request is cut as soon as they arrive. A 401 runs the unauthorized hook. Used once
 * after the event stream failed for good, to tell "session gone" from "no such endpoint"
 * (EventSource hides the status); GET /api/events does not count as activity.
 */
export async function statusOf(path) {
  const own = new AbortController();
  const session = controller.signal;
  const cut = () => own.abort();
  session.addEventListener("abort", cut, { once: true });
  try {
    const res = await fetch(path, {
      credentials: "same-origin",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      signal: own.signal,
    });
    if (res.status === 401) hooks.onUnauthorized();
    return res.status;
  } catch {
    return 0;
  } finally {
    own.abort();
    session.removeEventListener("abort", cut);
  }
}

/** GET a same-origin resource that is not JSON; errors as for `request`. */
async function fetchOwn(path) {
  let res;
  try {
    res = await fetch(path, {
      credentials: "same-origin",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: { "Accept-Language": language() },
      signal: controller.signal,
    });
  } catch (e) {
    if (isAborted(e)) throw new ApiError(0, "aborted", t("api.cancelled"));
    throw new ApiError(0, "network", t("api.network"));
  }
  if (res.status === 401) {
    hooks.onUnauthorized();
    throw new ApiError(0, "aborted", t("api.signedOut"));
  }
  hooks.onActivity();
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw errorFrom(res.status, data, res.headers.get("Retry-After"));
  }
  return res;
}

/** Fetch a same-origin resource as a Blob (used to forward attachments). */
export async function getBlob(path) {
  return (await fetchOwn(path)).blob();
}

/**
 * The first `maxBytes` of a same-origin resource as text (UTF-8, invalid bytes shown as
 * U+FFFD), read as it streams and the rest never downloaded: {text, cut}.
 */
export async function getTextStart(path, maxBytes) {
  const res = await fetchOwn(path);
  const reader = res.body.getReader();
  const chunks = [];
  let size = 0;
  let cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > maxBytes) {
      cut = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.length;
  }
  return { text: new TextDecoder("utf-8").decode(bytes), cut };
}

/**
 * Upload one file to POST /api/uploads with XMLHttpRequest so that progress can
 * be shown. Returns {promise, abort}; onProgress gets a fraction 0..1 or null.
 */
export function upload(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const signal = controller.signal;
  const promise = new Promise((resolve, reject) => {
    const aborted = () => reject(new ApiError(0, "aborted", t("api.uploadCancelled")));
    xhr.open("POST", "/api/uploads");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    for (const [k, v] of Object.entries(unsafeHeaders("POST"))) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (e) => {
      onProgress?.(e.lengthComputable && e.total > 0 ? e.loaded / e.total : null);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 401) {
        hooks.onUnauthorized();
        aborted();
        return;
      }
      hooks.onActivity();
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data);
      else reject(errorFrom(xhr.status, data, xhr.getResponseHeader("Retry-After")));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", t("api.uploadFailed"))),
    );
    xhr.addEventListener("abort", aborted);
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** GET an HTML document (such as a message's sanitized body.html), parsed by the browser
    into an inert document: nothing in it runs or loads. */
export function getDocument(path) {
  const signal = controller.signal;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("GET", path);
    xhr.withCredentials = true;
    xhr.responseType = "document";
    xhr.addEventListener("load", () => {
      if (xhr.status === 401) {
        hooks.onUnauthorized();
        reject(new ApiError(0, "aborted", t("api.signedOut")));
        return;
      }
      hooks.onActivity();
      if (xhr.status === 200 && xhr.responseXML) resolve(xhr.responseXML);
      else reject(errorFrom(xhr.status, null, xhr.getResponseHeader("Retry-After")));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", t("api.network"))));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", t("api.cancelled"))));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send();
  });
}

/** Build an API path from fixed segments and opaque ids (ids are only percent-encoded). */
export function path(strings, ...ids) {
  return strings.reduce((acc, s, i) => acc + s + (i < ids.length ? encodeURIComponent(ids[i]) : ""), "");
}

/** Accept a URL from the server only when it is a same-origin API path. */
export function safeApiUrl(url, fallback) {
  if (typeof url === "string" && url.startsWith("/api/") && !url.startsWith("//")) {
    try {
      const u = new URL(url, window.location.origin);
      if (u.origin === window.location.origin) return u.pathname + u.search;
    } catch {
      // fall through to the fallback
    }
  }
  return fallback;
}

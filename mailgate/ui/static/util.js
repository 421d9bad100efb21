// DOM building without innerHTML, address helpers; locale-aware formatting is in i18n.js.

/**
 * Create an element. attrs: "class", "text" (textContent), "on<event>" handlers,
 * true for boolean attributes, null/false to skip. Children: nodes or strings
 * (strings become text nodes, never markup).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

let idCounter = 0;
export const uid = (prefix) => `${prefix}-${++idCounter}`;

export { formatCount, fullDate, humanSize, shortDate } from "./i18n.js";

/** {name, email} -> "Name <email>" or just the e-mail. */
export function formatAddr(addr) {
  if (!addr) return "";
  if (typeof addr === "string") return addr;
  const name = (addr.name || "").trim();
  const email = (addr.email || "").trim();
  if (name && email && name !== email) return `${name} <${email}>`;
  return email || name;
}

/** Display name only (for the list). */
export function addrName(addr) {
  if (!addr) return "";
  return (addr.name || "").trim() || (addr.email || "").trim();
}

export const formatAddrList = (list) => (Array.isArray(list) ? list.map(formatAddr).join(", ") : "");

/** Split "a@x, \"B, C\" <b@y>; c@z" into address strings, respecting quotes and <>. */
export function parseAddrList(text) {
  const out = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (const ch of String(text || "")) {
    if (ch === '"' && !angle) quoted = !quoted;
    else if (ch === "<" && !quoted) angle = true;
    else if (ch === ">" && !quoted) angle = false;
    if ((ch === "," || ch === ";" || ch === "\n") && !quoted && !angle) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else {
      cur += ch;
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/**
 * A message body as quoted lines for a reply: "> " before each line, ">" before a line
 * already quoted (so ">>"), and a bare ">" for an empty line (no trailing space). Blank
 * lines at the start and end of the body are left out, so a body ending in a newline
 * does not leave an empty ">" line at the end of the quote. "" when nothing is left.
 */
export function quoteLines(text) {
  const lines = String(text ?? "")
    .replace(/\r\n?/g, "\n")
    .split("\n");
  const blank = (line) => !line.trim();
  let start = 0;
  let end = lines.length;
  while (start < end && blank(lines[start])) start += 1;
  while (end > start && blank(lines[end - 1])) end -= 1;
  return lines
    .slice(start, end)
    .map((line) => (blank(line) ? ">" : line.startsWith(">") ? `>${line}` : `> ${line}`))
    .join("\n");
}

/**
 * Save `value` as a JSON file: a Blob URL behind an <a download>, so nothing goes over
 * the network. The URL is revoked once the click has started the download.
 */
export function downloadJson(filename, value) {
  const blob = new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Is the user typing somewhere (single-key shortcuts must not fire)? */
export function isTypingTarget(el) {
  if (!el || !(el instanceof Element)) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (el.getAttribute("type") || "text").toLowerCase();
  return !["button", "submit", "reset", "checkbox", "radio", "file", "range"].includes(type);
}

/** Addresses as <bdi> elements between commas: each keeps its own direction in RTL text. */
export function addrNodes(list) {
  const out = [];
  for (const addr of Array.isArray(list) ? list : []) {
    const text = formatAddr(addr);
    if (!text) continue;
    if (out.length) out.push(", ");
    out.push(h("bdi", { text }));
  }
  return out;
}

// Translations and locale-aware formatting. Catalogs are static JSON files
// (static/i18n/<lang>.json, the same files the server uses for API error messages):
// a flat object of key -> text, where a text may hold {placeholders} and a plural
// text is an object of CLDR plural categories (zero one two few many other), chosen
// with Intl.PluralRules. No eval, no markup: t() returns plain text for textContent.
// Dates, times, numbers and sizes come from Intl in the chosen language and time zone.

export const LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "nb", "pl", "pt-BR", "ar"];
const RTL = new Set(["ar"]);
const FALLBACK = "en";

let current = FALLBACK;
let catalog = {};
let timeZone; // undefined: the browser's own
const loaded = new Map();
const listeners = new Set();
let cache = new Map(); // Intl objects for the current language and time zone

/** The supported language a BCP 47 tag asks for ("de-AT" -> "de", "no" -> "nb"), or null. */
export function matchLanguage(tag) {
  if (typeof tag !== "string" || !tag.trim()) return null;
  const lower = tag.trim().toLowerCase().replace(/_/g, "-");
  const exact = LANGUAGES.find((l) => l.toLowerCase() === lower);
  if (exact) return exact;
  let primary = lower.split("-")[0];
  if (primary === "no" || primary === "nn") primary = "nb";
  return LANGUAGES.find((l) => l.toLowerCase().split("-")[0] === primary) || null;
}

/** The first supported language of a preference list, else English. */
export function negotiate(tags) {
  for (const tag of tags || []) {
    const match = matchLanguage(tag);
    if (match) return match;
  }
  return FALLBACK;
}

export const language = () => current;
export const direction = (lang = current) => (RTL.has(lang) ? "rtl" : "ltr");

/** The language's own name ("Deutsch", "العربية"), from Intl rather than a table. */
export function languageName(lang) {
  try {
    const name = new Intl.DisplayNames([lang], { type: "language" }).of(lang) || lang;
    return name.charAt(0).toLocaleUpperCase(lang) + name.slice(1);
  } catch {
    return lang;
  }
}

async function fetchCatalog(lang) {
  if (loaded.has(lang)) return loaded.get(lang);
  const res = await fetch(`/static/i18n/${encodeURIComponent(lang)}.json`, {
    credentials: "same-origin",
    referrerPolicy: "no-referrer",
  });
  if (!res.ok) throw new Error(`catalog ${lang}: ${res.status}`);
  const data = await res.json();
  const messages = data && typeof data === "object" ? data : {};
  loaded.set(lang, messages);
  return messages;
}

/**
 * Switch the UI language: load its catalog, set <html lang dir>, translate the static
 * markup (data-i18n) and tell the listeners, which redraw what they built.
 */
export async function setLanguage(tag) {
  const lang = matchLanguage(tag) || FALLBACK;
  let messages;
  try {
    messages = await fetchCatalog(lang);
  } catch {
    if (lang === FALLBACK) throw new Error("no catalog");
    return setLanguage(FALLBACK);
  }
  const changed = lang !== current || messages !== catalog;
  current = lang;
  catalog = messages;
  cache = new Map();
  const root = document.documentElement;
  root.lang = lang;
  root.dir = direction(lang);
  translateStatic(document);
  if (changed) for (const fn of listeners) fn(lang);
  return lang;
}

/** Call fn(lang) after every language change. */
export function onLanguageChange(fn) {
  listeners.add(fn);
}

/** Translate markup carrying data-i18n (text) and data-i18n-<attribute> (attributes). */
export function translateStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
}

function intl(kind, options) {
  const key = `${kind}:${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    const opts = kind === "date" ? { ...options, timeZone } : options;
    const Ctor = {
      date: Intl.DateTimeFormat,
      number: Intl.NumberFormat,
      plural: Intl.PluralRules,
      relative: Intl.RelativeTimeFormat,
    }[kind];
    cache.set(key, new Ctor(current, opts));
  }
  return cache.get(key);
}

/** Replace {name} by params[name] (numbers in the language's digits); unknown names stay. */
export function format(text, params = {}) {
  return String(text).replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name) => {
    if (!Object.hasOwn(params, name)) return whole;
    const value = params[name];
    return typeof value === "number" ? intl("number", {}).format(value) : String(value);
  });
}

/** The plural category of n in the current language (Intl.PluralRules). */
export const pluralCategory = (n) => intl("plural", {}).select(Number(n) || 0);

/**
 * The text for `key` in the current language with {placeholders} filled in. A plural
 * text picks its form by params.count. A key missing from the catalog shows as itself
 * (the catalog test fails on that long before a user could see it).
 */
export function t(key, params = {}) {
  let value = catalog[key];
  if (value === undefined) return key;
  if (value && typeof value === "object") {
    value = value[pluralCategory(params.count)] ?? value.other ?? "";
  }
  return format(value, params);
}

// ------------------------------------------------------------------ time and numbers

/** Use an IANA time zone for every date shown; an unknown or empty one means the browser's. */
export function setTimeZone(zone) {
  let next;
  if (typeof zone === "string" && zone) {
    try {
      next = new Intl.DateTimeFormat("en", { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      next = undefined;
    }
  }
  if (next !== timeZone) {
    timeZone = next;
    cache = new Map();
  }
}

/** The zone dates are shown in (the preference, else the browser's). */
export const activeTimeZone = () => timeZone || browserTimeZone();
export const browserTimeZone = () => new Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** Every time zone the browser knows, for the settings list. */
export function timeZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [browserTimeZone()];
  }
}

function parseDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

const DAY_PARTS = { year: "numeric", month: "numeric", day: "numeric", numberingSystem: "latn" };

/** Days since the epoch of the calendar day `d` falls on in the active time zone. */
function dayIndex(d) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", { ...DAY_PARTS, timeZone }).formatToParts(d)) {
    parts[p.type] = Number(p.value);
  }
  return Math.round(Date.UTC(parts.year, parts.month - 1, parts.day) / 86_400_000);
}

const capitalize = (text) => text.charAt(0).toLocaleUpperCase(current) + text.slice(1);

/**
 * Compact date for the list: the time today, "Yesterday", the weekday within the last
 * week, the day this year, else the date. Words and order come from Intl.
 */
export function shortDate(iso, now = new Date()) {
  const d = parseDate(iso);
  if (!d) return "";
  const days = dayIndex(now) - dayIndex(d);
  if (days === 0) return intl("date", { timeStyle: "short" }).format(d);
  if (days === 1) return capitalize(intl("relative", { numeric: "auto" }).format(-1, "day"));
  if (days > 1 && days < 7) return capitalize(intl("date", { weekday: "long" }).format(d));
  const year = intl("date", { year: "numeric" });
  const sameYear = year.format(d) === year.format(now);
  if (sameYear) return intl("date", { month: "short", day: "numeric" }).format(d);
  return intl("date", { dateStyle: "medium" }).format(d);
}

/** Date and time in full ("Wednesday, 25 November 2026 at 08:58"). */
export function fullDate(iso) {
  const d = parseDate(iso);
  return d ? intl("date", { dateStyle: "full", timeStyle: "short" }).format(d) : "";
}

export const formatCount = (n) => intl("number", {}).format(Number(n) || 0);

const SIZE_UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"];

/** 1536 -> "1.5 kB" (binary multiples; unit names and digits from Intl). */
export function humanSize(bytes) {
  let n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "";
  let unit = 0;
  while (n >= 1024 && unit < SIZE_UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return intl("number", {
    style: "unit",
    unit: SIZE_UNITS[unit],
    unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(n);
}

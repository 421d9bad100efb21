// Settings → "Filters and vacation reply": a sub-screen over GET /api/sieve and
// GET/PUT /api/sieve/vacation and /api/sieve/filters. The rules live on the user's own mail
// server (ManageSieve); another program's active script is shown read-only and only
// replaced when the user confirms.

import * as api from "./api.js";
import { announce, mailboxLabel, reportError, state } from "./state.js";
import { $, h, uid } from "./util.js";

// Every user-visible string of this screen, in English (for the translation catalog).
export const STRINGS = {
  entryTitle: "Filters and vacation reply",
  entryHint:
    "Out-of-office replies and rules that sort incoming mail. They are kept on your mail " +
    "server and run even when you are signed out.",
  entryOpen: "Open",
  title: "Filters and vacation reply",
  back: "Back to settings",
  loading: "Loading…",
  loadFailed: "Could not load your filters.",
  unavailable: "Filters and vacation replies are not available on this server.",
  foreignTitle: "Another program's filters are active",
  foreignText: (name) =>
    `The filter script “${name}” was written by another program and is active now, so ` +
    "the rules below are not in effect. It is shown here as it is and cannot be edited here.",
  foreignShow: "Show that script",
  continue: "Continue?",
  foreignTruncated: "(shortened)",
  foreignConfirm: (name) =>
    `Saving makes mailgate's rules the active filter script instead of “${name}”. ` +
    "The other script stays stored on your mail server. Continue?",
  vacationTitle: "Vacation reply",
  vacationOn: "Send an automatic reply",
  vacationSubject: "Subject",
  vacationText: "Message",
  vacationStart: "First day",
  vacationEnd: "Last day",
  vacationDates: "Leave the days empty to reply until you turn it off.",
  vacationNoDates: "This mail server cannot limit the reply to dates.",
  vacationDays: "Answer the same sender again after (days)",
  vacationAddresses: "Your other addresses (comma separated)",
  vacationAddressesHint: "Mail sent to these addresses is answered too.",
  vacationListsHint: "Mailing lists and bulk mail never get a reply.",
  vacationSaved: "Vacation reply saved.",
  filtersTitle: "Filters",
  filtersHint: "Rules run from top to bottom on each new message.",
  filtersEmpty: "No filters.",
  filtersSaved: "Filters saved.",
  save: "Save",
  addRule: "Add a rule",
  ruleName: "Name",
  ruleEnabled: "On",
  ruleMatch: "Apply when",
  matchAll: "all conditions match",
  matchAny: "any condition matches",
  conditions: "Conditions (none: every message)",
  actions: "Then",
  addCondition: "Add a condition",
  addAction: "Add an action",
  remove: "Remove",
  removeRule: "Delete rule",
  moveUp: "Move up",
  moveDown: "Move down",
  headerName: "Header name",
  value: "Value",
  folder: "Folder",
  address: "Address",
  fields: {
    from: "From",
    to_cc: "To or Cc",
    subject: "Subject",
    header: "Header",
    size: "Size (bytes)",
  },
  ops: {
    contains: "contains",
    is: "is",
    matches: "matches (* and ?)",
    over: "is over",
    under: "is under",
  },
  actionTypes: {
    fileinto: "Move to folder",
    copy: "Copy to folder",
    flag: "Flag",
    mark_read: "Mark as read",
    redirect: "Forward to",
    discard: "Delete",
    stop: "Stop processing rules",
  },
  untitled: (n) => `Rule ${n}`,
};

const TEXT_OPS = ["contains", "is", "matches"];
const SIZE_OPS = ["over", "under"];

let screen = null; // {status, vacation, filters, onBack}

const view = () => $("#prefs-view");

/** The entry on the Settings screen; onBack() shows the Settings screen again. */
export function sieveSection(onBack) {
  return h(
    "section",
    { class: "prefs-section", "aria-labelledby": "sieve-entry-title" },
    h("h3", { id: "sieve-entry-title", text: STRINGS.entryTitle }),
    h("p", { class: "prefs-hint", text: STRINGS.entryHint }),
    h(
      "div",
      { class: "prefs-actions" },
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "sieve-open",
        text: STRINGS.entryOpen,
        onclick: () => openSieve(onBack),
      }),
    ),
  );
}

async function openSieve(onBack) {
  screen = { onBack, status: null, vacation: null, filters: [] };
  const v = view();
  v.replaceChildren(
    h("div", { class: "reader-empty", "aria-busy": "true" }, h("p", { text: STRINGS.loading })),
  );
  try {
    screen.status = await api.get("/api/sieve");
    if (screen.status.available) {
      const [vac, fil] = await Promise.all([
        api.get("/api/sieve/vacation"),
        api.get("/api/sieve/filters"),
      ]);
      screen.vacation = vac.vacation;
      screen.filters = fil.filters;
    }
  } catch (err) {
    reportError(err, STRINGS.loadFailed);
    if (api.isAborted(err)) return;
    screen.error = err.message;
  }
  if (!screen || !view()) return;
  render();
  $("#sieve-title")?.focus();
}

function closeSieve() {
  const back = screen?.onBack;
  screen = null;
  filtersList = filtersEmpty = null;
  if (back) back();
  $('[data-testid="sieve-open"]')?.focus();
}

function render() {
  const status = screen.status;
  const head = h(
    "div",
    { class: "pane-head sieve-head" },
    h("h2", { id: "sieve-title", class: "pane-title", tabindex: "-1", text: STRINGS.title }),
    h("button", {
      type: "button",
      class: "btn",
      "data-testid": "sieve-back",
      text: STRINGS.back,
      onclick: closeSieve,
    }),
  );
  const body = [];
  if (screen.error) {
    body.push(h("p", { class: "form-error", role: "alert", text: screen.error }));
  } else if (!status?.available) {
    body.push(h("p", { class: "prefs-intro", "data-testid": "sieve-unavailable", text: STRINGS.unavailable }));
  } else {
    if (status.active === "foreign" && status.foreign) body.push(foreignNotice(status.foreign));
    body.push(vacationForm(), filtersForm());
  }
  view().replaceChildren(
    h(
      "div",
      {
        class: "sieve",
        "data-testid": "sieve-view",
        onkeydown: (e) => {
          if (e.key !== "Escape" || e.defaultPrevented) return;
          e.preventDefault();
          closeSieve();
        },
      },
      head,
      body,
    ),
  );
}

function foreignNotice(foreign) {
  const pre = h("pre", { class: "sieve-foreign-text", "data-testid": "sieve-foreign-text" });
  pre.textContent = foreign.text + (foreign.truncated ? `\n${STRINGS.foreignTruncated}` : "");
  return h(
    "section",
    { class: "sieve-foreign", role: "note", "data-testid": "sieve-foreign" },
    h("h3", { text: STRINGS.foreignTitle }),
    h("p", { text: STRINGS.foreignText(foreign.name) }),
    h("details", {}, h("summary", { text: STRINGS.foreignShow }), pre),
  );
}

// -- saving ------------------------------------------------------------------------------------

/** PUT a body; when another program's script is active, ask before replacing it. */
async function put(path, key, value, error, button) {
  error.hidden = true;
  button.disabled = true;
  const foreign = screen.status.active === "foreign" ? screen.status.foreign?.name : null;
  let activate = false;
  if (foreign) {
    if (!window.confirm(STRINGS.foreignConfirm(foreign))) {
      button.disabled = false;
      return null;
    }
    activate = true;
  }
  try {
    let saved;
    try {
      saved = await api.put(path, { [key]: value, activate });
    } catch (err) {
      // Another program's script became active since this screen was loaded.
      if (err.code !== "sieve_foreign_active" || activate) throw err;
      if (!window.confirm(`${err.message} ${STRINGS.continue}`)) return null;
      saved = await api.put(path, { [key]: value, activate: true });
    }
    screen.status = { ...screen.status, active: saved.active, foreign: null };
    $('[data-testid="sieve-foreign"]')?.remove(); // mailgate's rules are the active ones now
    return saved;
  } catch (err) {
    if (api.isAborted(err)) return null;
    // Includes the mail server's own words when it refused the rules.
    error.textContent = err.message;
    error.hidden = false;
    return null;
  } finally {
    button.disabled = false;
  }
}

function errorLine(testid) {
  return h("p", { class: "form-error", role: "alert", "data-testid": testid, hidden: true });
}

function field(label, control, hint = null) {
  const id = control.id || uid("sieve");
  control.id = id;
  const hintEl = hint ? h("p", { class: "prefs-hint", id: `${id}-hint`, text: hint }) : null;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "prefs-field" }, h("label", { for: id, text: label }), control, hintEl);
}

// -- vacation ----------------------------------------------------------------------------------

function vacationForm() {
  const vac = screen.vacation || {};
  const dates = screen.status.extensions?.dates;
  const input = (attrs) => h("input", { type: "text", ...attrs });
  const enabled = h("input", {
    type: "checkbox",
    id: "sieve-vacation-on",
    checked: Boolean(vac.enabled),
    "data-testid": "sieve-vacation-on",
  });
  const subject = input({ maxlength: "200", value: vac.subject || "", "data-testid": "sieve-vacation-subject" });
  const text = h("textarea", { rows: "5", maxlength: "10000", "data-testid": "sieve-vacation-text" });
  text.value = vac.text || "";
  const start = input({ type: "date", value: vac.start || "", disabled: !dates, "data-testid": "sieve-vacation-start" });
  const end = input({ type: "date", value: vac.end || "", disabled: !dates, "data-testid": "sieve-vacation-end" });
  const days = input({ type: "number", min: "1", max: "365", value: String(vac.days || 7), "data-testid": "sieve-vacation-days" });
  const addresses = input({ value: (vac.addresses || []).join(", "), "data-testid": "sieve-vacation-addresses" });
  const error = errorLine("sieve-vacation-error");
  const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "sieve-vacation-save", text: STRINGS.save });
  const form = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "sieve-vacation-title", novalidate: true },
    h("h3", { id: "sieve-vacation-title", text: STRINGS.vacationTitle }),
    error,
    h("label", { class: "prefs-choice", for: "sieve-vacation-on" }, enabled, STRINGS.vacationOn),
    field(STRINGS.vacationSubject, subject),
    field(STRINGS.vacationText, text, STRINGS.vacationListsHint),
    h(
      "div",
      { class: "sieve-row" },
      field(STRINGS.vacationStart, start),
      field(STRINGS.vacationEnd, end),
    ),
    h("p", { class: "prefs-hint", text: dates ? STRINGS.vacationDates : STRINGS.vacationNoDates }),
    field(STRINGS.vacationDays, days),
    field(STRINGS.vacationAddresses, addresses, STRINGS.vacationAddressesHint),
    h("div", { class: "prefs-actions" }, save),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = {
      enabled: enabled.checked,
      subject: subject.value.trim(),
      text: text.value,
      start: (dates && start.value) || null,
      end: (dates && end.value) || null,
      days: Number(days.value) || 7,
      addresses: addresses.value.split(",").map((a) => a.trim()).filter(Boolean),
    };
    const saved = await put("/api/sieve/vacation", "vacation", value, error, save);
    if (saved) {
      screen.vacation = saved.vacation;
      announce(STRINGS.vacationSaved);
    }
  });
  return form;
}

// -- filters -----------------------------------------------------------------------------------

function select(options, current, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([value, label]) => h("option", { value, selected: value === current, text: label })),
  );
}

function folderOptions() {
  return (state.mailboxes || []).map((mb) => [mb.path, mailboxLabel(mb)]);
}

function conditionRow(cond, onRemove) {
  const fieldSel = select(Object.entries(STRINGS.fields), cond.field, {
    "aria-label": STRINGS.fields[cond.field] || "",
    "data-testid": "sieve-cond-field",
  });
  const header = h("input", {
    type: "text",
    value: cond.header || "",
    "aria-label": STRINGS.headerName,
    placeholder: STRINGS.headerName,
    "data-testid": "sieve-cond-header",
    hidden: cond.field !== "header",
  });
  const ops = cond.field === "size" ? SIZE_OPS : TEXT_OPS;
  const opSel = select(ops.map((o) => [o, STRINGS.ops[o]]), cond.op, { "data-testid": "sieve-cond-op" });
  const value = h("input", {
    type: cond.field === "size" ? "number" : "text",
    value: cond.value === undefined ? "" : String(cond.value),
    "aria-label": STRINGS.value,
    "data-testid": "sieve-cond-value",
  });
  const row = h(
    "div",
    { class: "sieve-row", "data-testid": "sieve-condition" },
    fieldSel,
    header,
    opSel,
    value,
    h("button", { type: "button", class: "btn btn-small", text: STRINGS.remove, onclick: onRemove }),
  );
  fieldSel.addEventListener("change", () => {
    cond.field = fieldSel.value;
    cond.op = cond.field === "size" ? "over" : "contains";
    renderFilters();
  });
  row.read = () => {
    const out = { field: fieldSel.value, op: opSel.value, value: value.value };
    if (out.field === "size") out.value = Number(value.value) || 0;
    if (out.field === "header") out.header = header.value.trim();
    return out;
  };
  return row;
}

function actionRow(action, onRemove) {
  const allowed = Object.entries(STRINGS.actionTypes).filter(
    ([type]) => type !== "redirect" || screen.status.allow_forward || action.type === "redirect",
  );
  const typeSel = select(allowed, action.type, { "data-testid": "sieve-action-type" });
  const folders = folderOptions();
  if (action.folder && !folders.some(([p]) => p === action.folder)) folders.push([action.folder, action.folder]);
  const folder = select(folders, action.folder || folders[0]?.[0], {
    "aria-label": STRINGS.folder,
    "data-testid": "sieve-action-folder",
    hidden: !["fileinto", "copy"].includes(action.type),
  });
  const address = h("input", {
    type: "email",
    value: action.address || "",
    "aria-label": STRINGS.address,
    placeholder: STRINGS.address,
    "data-testid": "sieve-action-address",
    hidden: action.type !== "redirect",
  });
  const row = h(
    "div",
    { class: "sieve-row", "data-testid": "sieve-action" },
    typeSel,
    folder,
    address,
    h("button", { type: "button", class: "btn btn-small", text: STRINGS.remove, onclick: onRemove }),
  );
  typeSel.addEventListener("change", () => {
    action.type = typeSel.value;
    renderFilters();
  });
  row.read = () => {
    const out = { type: typeSel.value };
    if (out.type === "fileinto" || out.type === "copy") out.folder = folder.value;
    if (out.type === "redirect") out.address = address.value.trim();
    return out;
  };
  return row;
}

let filtersList = null; // the <ol> of rules while the screen is open
let filtersEmpty = null; // its "No filters." line

/** Read every rule back from the form (so edits survive a re-render). */
function readFilters() {
  if (!filtersList) return screen.filters;
  return [...filtersList.children].map((li) => li.read());
}

function ruleItem(rule, index, count) {
  const name = h("input", { type: "text", maxlength: "100", value: rule.name || "", "data-testid": "sieve-rule-name" });
  const enabled = h("input", { type: "checkbox", checked: rule.enabled !== false, "data-testid": "sieve-rule-enabled" });
  const match = select(
    [
      ["all", STRINGS.matchAll],
      ["any", STRINGS.matchAny],
    ],
    rule.match || "all",
    { "data-testid": "sieve-rule-match" },
  );
  const conds = (rule.conditions || []).map((c, i) =>
    conditionRow(c, () => edit((rules) => rules[index].conditions.splice(i, 1))),
  );
  const acts = (rule.actions || []).map((a, i) =>
    actionRow(a, () => edit((rules) => rules[index].actions.splice(i, 1))),
  );
  const small = (text, onclick, disabled = false) =>
    h("button", { type: "button", class: "btn btn-small", text, onclick, disabled });
  const li = h(
    "li",
    { class: "sieve-rule", "data-testid": "sieve-rule" },
    h(
      "div",
      { class: "sieve-row" },
      field(STRINGS.ruleName, name),
      h("label", { class: "prefs-choice" }, enabled, STRINGS.ruleEnabled),
      field(STRINGS.ruleMatch, match),
    ),
    h("p", { class: "prefs-hint", text: STRINGS.conditions }),
    conds,
    small(STRINGS.addCondition, () =>
      edit((rules) => rules[index].conditions.push({ field: "from", op: "contains", value: "" })),
    ),
    h("p", { class: "prefs-hint", text: STRINGS.actions }),
    acts,
    small(STRINGS.addAction, () =>
      edit((rules) => rules[index].actions.push({ type: "fileinto", folder: folderOptions()[0]?.[0] || "INBOX" })),
    ),
    h(
      "div",
      { class: "prefs-actions" },
      small(STRINGS.moveUp, () => edit((rules) => rules.splice(index - 1, 0, ...rules.splice(index, 1))), index === 0),
      small(STRINGS.moveDown, () => edit((rules) => rules.splice(index + 1, 0, ...rules.splice(index, 1))), index === count - 1),
      small(STRINGS.removeRule, () => edit((rules) => rules.splice(index, 1))),
    ),
  );
  li.read = () => ({
    name: name.value.trim() || STRINGS.untitled(index + 1),
    enabled: enabled.checked,
    match: match.value,
    conditions: conds.map((c) => c.read()),
    actions: acts.map((a) => a.read()),
  });
  return li;
}

/** Change the rules being edited (unsaved) and redraw them. */
function edit(change) {
  const rules = readFilters();
  change(rules);
  screen.filters = rules;
  renderFilters();
}

function renderFilters() {
  if (!filtersList) return;
  const rules = screen.filters;
  filtersList.replaceChildren(...rules.map((rule, i) => ruleItem(rule, i, rules.length)));
  if (filtersEmpty) filtersEmpty.hidden = rules.length > 0;
}

function filtersForm() {
  filtersList = h("ol", { class: "sieve-rules", "data-testid": "sieve-rules" });
  filtersEmpty = h("p", { class: "prefs-hint", "data-testid": "sieve-filters-empty", text: STRINGS.filtersEmpty });
  const error = errorLine("sieve-filters-error");
  const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "sieve-filters-save", text: STRINGS.save });
  const form = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "sieve-filters-title", novalidate: true },
    h("h3", { id: "sieve-filters-title", text: STRINGS.filtersTitle }),
    h("p", { class: "prefs-hint", text: STRINGS.filtersHint }),
    error,
    filtersEmpty,
    filtersList,
    h(
      "div",
      { class: "prefs-actions" },
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "sieve-rule-add",
        text: STRINGS.addRule,
        onclick: () =>
          edit((rules) =>
            rules.push({
              name: "",
              enabled: true,
              match: "all",
              conditions: [{ field: "from", op: "contains", value: "" }],
              actions: [{ type: "fileinto", folder: folderOptions()[0]?.[0] || "INBOX" }],
            }),
          ),
      }),
      save,
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const rules = readFilters();
    screen.filters = rules;
    const saved = await put("/api/sieve/filters", "filters", rules, error, save);
    if (saved) {
      screen.filters = saved.filters;
      renderFilters();
      announce(STRINGS.filtersSaved);
    }
  });
  renderFilters();
  return form;
}

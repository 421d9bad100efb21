// Settings → "Filters and vacation reply": a sub-screen over GET /api/sieve and
// GET/PUT /api/sieve/vacation and /api/sieve/filters. The rules live on the user's own mail
// server (ManageSieve); another program's active script is shown read-only and only
// replaced when the user confirms.

import * as api from "./api.js";
import { confirmDialog } from "./dialog.js";
import { t } from "./i18n.js";
import { announce, mailboxLabel, reportError, state } from "./state.js";
import { $, h, uid } from "./util.js";

// Labels of the choices; keys stay literal so the catalog check finds every one.
const FIELD_KEYS = {
  from: "sieve.field.from",
  to_cc: "sieve.field.toCc",
  subject: "sieve.field.subject",
  header: "sieve.field.header",
  size: "sieve.field.size",
};
const OP_KEYS = {
  contains: "sieve.op.contains",
  is: "sieve.op.is",
  matches: "sieve.op.matches",
  over: "sieve.op.over",
  under: "sieve.op.under",
};
const ACTION_KEYS = {
  fileinto: "sieve.action.fileinto",
  copy: "sieve.action.copy",
  flag: "sieve.action.flag",
  mark_read: "sieve.action.markRead",
  redirect: "sieve.action.redirect",
  discard: "sieve.action.discard",
  stop: "sieve.action.stop",
};
const labels = (keys) => Object.entries(keys).map(([value, key]) => [value, t(key)]);

const TEXT_OPS = ["contains", "is", "matches"];
const SIZE_OPS = ["over", "under"];

let screen = null; // {status, vacation, filters, onBack}

const view = () => $("#prefs-view");

/** The entry on the Settings screen; onBack() shows the Settings screen again. */
export function sieveSection(onBack) {
  return h(
    "section",
    { class: "prefs-section", "aria-labelledby": "sieve-entry-title" },
    h("h3", { id: "sieve-entry-title", text: t("sieve.entryTitle") }),
    h("p", { class: "prefs-hint", text: t("sieve.entryHint") }),
    h(
      "div",
      { class: "prefs-actions" },
      h("button", {
        type: "button",
        class: "btn",
        "data-testid": "sieve-open",
        text: t("sieve.entryOpen"),
        onclick: () => openSieve(onBack),
      }),
    ),
  );
}

async function openSieve(onBack) {
  screen = { onBack, status: null, vacation: null, filters: [] };
  const v = view();
  v.replaceChildren(
    h("div", { class: "reader-empty", "aria-busy": "true" }, h("p", { text: t("sieve.loading") })),
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
    reportError(err, t("sieve.loadFailed"));
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
    h("h2", { id: "sieve-title", class: "pane-title", tabindex: "-1", text: t("sieve.title") }),
    h("button", {
      type: "button",
      class: "btn",
      "data-testid": "sieve-back",
      text: t("sieve.back"),
      onclick: closeSieve,
    }),
  );
  const body = [];
  if (screen.error) {
    body.push(h("p", { class: "form-error", role: "alert", text: screen.error }));
  } else if (!status?.available) {
    body.push(h("p", { class: "prefs-intro", "data-testid": "sieve-unavailable", text: t("sieve.unavailable") }));
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
  pre.textContent = foreign.text + (foreign.truncated ? `\n${t("sieve.foreignTruncated")}` : "");
  return h(
    "section",
    { class: "sieve-foreign", role: "note", "data-testid": "sieve-foreign" },
    h("h3", { text: t("sieve.foreignTitle") }),
    h("p", { text: t("sieve.foreignText", { name: foreign.name }) }),
    h("details", {}, h("summary", { text: t("sieve.foreignShow") }), pre),
  );
}

// -- saving ------------------------------------------------------------------------------------

/** PUT a body; when another program's script is active, ask before replacing it. */
async function put(path, key, value, error, button) {
  error.hidden = true;
  const foreign = screen.status.active === "foreign" ? screen.status.foreign?.name : null;
  let activate = false;
  if (foreign) {
    // Asked before the button is disabled, so focus can return to it.
    const sure = await confirmDialog({
      title: t("sieve.foreignTitle"),
      body: t("sieve.foreignConfirm", { name: foreign }),
      confirmLabel: t("dialog.continue"),
    });
    if (!sure) return null;
    activate = true;
  }
  button.disabled = true;
  try {
    let saved;
    try {
      saved = await api.put(path, { [key]: value, activate });
    } catch (err) {
      // Another program's script became active since this screen was loaded.
      if (err.code !== "sieve_foreign_active" || activate) throw err;
      const sure = await confirmDialog({
        title: t("sieve.foreignTitle"),
        body: `${err.message} ${t("sieve.continue")}`,
        confirmLabel: t("dialog.continue"),
      });
      if (!sure) return null;
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
  const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "sieve-vacation-save", text: t("sieve.save") });
  const form = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "sieve-vacation-title", novalidate: true },
    h("h3", { id: "sieve-vacation-title", text: t("sieve.vacationTitle") }),
    error,
    h("label", { class: "prefs-choice", for: "sieve-vacation-on" }, enabled, t("sieve.vacationOn")),
    field(t("sieve.vacationSubject"), subject),
    field(t("sieve.vacationText"), text, t("sieve.vacationListsHint")),
    h(
      "div",
      { class: "sieve-row" },
      field(t("sieve.vacationStart"), start),
      field(t("sieve.vacationEnd"), end),
    ),
    h("p", { class: "prefs-hint", text: dates ? t("sieve.vacationDates") : t("sieve.vacationNoDates") }),
    field(t("sieve.vacationDays"), days),
    field(t("sieve.vacationAddresses"), addresses, t("sieve.vacationAddressesHint")),
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
      announce(t("sieve.vacationSaved"));
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
  const fieldSel = select(labels(FIELD_KEYS), cond.field, {
    "aria-label": FIELD_KEYS[cond.field] ? t(FIELD_KEYS[cond.field]) : "",
    "data-testid": "sieve-cond-field",
  });
  const header = h("input", {
    type: "text",
    value: cond.header || "",
    "aria-label": t("sieve.headerName"),
    placeholder: t("sieve.headerName"),
    "data-testid": "sieve-cond-header",
    hidden: cond.field !== "header",
  });
  const ops = cond.field === "size" ? SIZE_OPS : TEXT_OPS;
  const opSel = select(ops.map((o) => [o, t(OP_KEYS[o])]), cond.op, { "data-testid": "sieve-cond-op" });
  const value = h("input", {
    type: cond.field === "size" ? "number" : "text",
    value: cond.value === undefined ? "" : String(cond.value),
    "aria-label": t("sieve.value"),
    "data-testid": "sieve-cond-value",
  });
  const row = h(
    "div",
    { class: "sieve-row", "data-testid": "sieve-condition" },
    fieldSel,
    header,
    opSel,
    value,
    h("button", { type: "button", class: "btn btn-small", text: t("sieve.remove"), onclick: onRemove }),
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
  const allowed = labels(ACTION_KEYS).filter(
    ([type]) => type !== "redirect" || screen.status.allow_forward || action.type === "redirect",
  );
  const typeSel = select(allowed, action.type, { "data-testid": "sieve-action-type" });
  const folders = folderOptions();
  if (action.folder && !folders.some(([p]) => p === action.folder)) folders.push([action.folder, action.folder]);
  const folder = select(folders, action.folder || folders[0]?.[0], {
    "aria-label": t("sieve.folder"),
    "data-testid": "sieve-action-folder",
    hidden: !["fileinto", "copy"].includes(action.type),
  });
  const address = h("input", {
    type: "email",
    value: action.address || "",
    "aria-label": t("sieve.address"),
    placeholder: t("sieve.address"),
    "data-testid": "sieve-action-address",
    hidden: action.type !== "redirect",
  });
  const row = h(
    "div",
    { class: "sieve-row", "data-testid": "sieve-action" },
    typeSel,
    folder,
    address,
    h("button", { type: "button", class: "btn btn-small", text: t("sieve.remove"), onclick: onRemove }),
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
      ["all", t("sieve.matchAll")],
      ["any", t("sieve.matchAny")],
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
      field(t("sieve.ruleName"), name),
      h("label", { class: "prefs-choice" }, enabled, t("sieve.ruleEnabled")),
      field(t("sieve.ruleMatch"), match),
    ),
    h("p", { class: "prefs-hint", text: t("sieve.conditions") }),
    conds,
    small(t("sieve.addCondition"), () =>
      edit((rules) => rules[index].conditions.push({ field: "from", op: "contains", value: "" })),
    ),
    h("p", { class: "prefs-hint", text: t("sieve.actions") }),
    acts,
    small(t("sieve.addAction"), () =>
      edit((rules) => rules[index].actions.push({ type: "fileinto", folder: folderOptions()[0]?.[0] || "INBOX" })),
    ),
    h(
      "div",
      { class: "prefs-actions" },
      small(t("sieve.moveUp"), () => edit((rules) => rules.splice(index - 1, 0, ...rules.splice(index, 1))), index === 0),
      small(t("sieve.moveDown"), () => edit((rules) => rules.splice(index + 1, 0, ...rules.splice(index, 1))), index === count - 1),
      small(t("sieve.removeRule"), () => edit((rules) => rules.splice(index, 1))),
    ),
  );
  li.read = () => ({
    name: name.value.trim() || t("sieve.untitled", { n: index + 1 }),
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
  filtersEmpty = h("p", { class: "prefs-hint", "data-testid": "sieve-filters-empty", text: t("sieve.filtersEmpty") });
  const error = errorLine("sieve-filters-error");
  const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "sieve-filters-save", text: t("sieve.save") });
  const form = h(
    "form",
    { class: "prefs-form", "aria-labelledby": "sieve-filters-title", novalidate: true },
    h("h3", { id: "sieve-filters-title", text: t("sieve.filtersTitle") }),
    h("p", { class: "prefs-hint", text: t("sieve.filtersHint") }),
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
        text: t("sieve.addRule"),
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
      announce(t("sieve.filtersSaved"));
    }
  });
  renderFilters();
  return form;
}

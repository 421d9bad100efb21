// Address suggestions under the To/Cc/Bcc fields of compose (the ARIA 1.2 combobox
// pattern with a listbox popup). What was typed after the last comma is sent to
// GET /api/contacts/suggest; the answer (address book contacts, then people from the
// account's own mail) is shown as options. Keyboard: ArrowDown/ArrowUp move through the
// options, Enter takes the highlighted one, Escape closes the list. Nothing is kept
// beyond the open form. DOM APIs only (textContent, never markup).

import * as api from "./api.js";
import { t } from "./i18n.js";
import { formatAddr, h, uid } from "./util.js";

const MIN_CHARS = 2;
const DELAY_MS = 150;

/** The part of `value` being typed: after the last separator outside quotes and <>. */
function currentToken(value, caret) {
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < caret; i += 1) {
    const ch = value[i];
    if (ch === '"' && !angle) quoted = !quoted;
    else if (ch === "<" && !quoted) angle = true;
    else if (ch === ">" && !quoted) angle = false;
    else if ((ch === "," || ch === ";") && !quoted && !angle) start = i + 1;
  }
  return { start, text: value.slice(start, caret) };
}

/** Turn `input` into a combobox with address suggestions; returns a detach function. */
export function attachAutocomplete(input) {
  const listId = uid("ac-list");
  const list = h("ul", {
    id: listId,
    class: "ac-list",
    role: "listbox",
    "aria-label": t("contacts.suggestions"),
    "data-testid": `${input.dataset.testid || input.id}-suggestions`,
    hidden: true,
  });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listId);
  input.after(list);

  let items = [];
  let active = -1;
  let timer = null;
  let seq = 0;

  function close() {
    seq += 1; // an answer still on its way is dropped
    clearTimeout(timer);
    items = [];
    active = -1;
    list.replaceChildren();
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    for (const [i, li] of [...list.children].entries()) {
      li.setAttribute("aria-selected", String(i === index));
    }
    const li = list.children[index];
    if (li) {
      input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(index) {
    const s = items[index];
    if (!s) return;
    const caret = input.selectionStart ?? input.value.length;
    const { start } = currentToken(input.value, caret);
    const before = input.value.slice(0, start).replace(/\s+$/, "");
    const after = input.value.slice(caret).replace(/^[\s,;]+/, "");
    const chosen = formatAddr({ name: s.name, email: s.email });
    const head = before ? `${before} ` : "";
    input.value = `${head}${chosen}, ${after}`;
    const pos = head.length + chosen.length + 2;
    input.setSelectionRange(pos, pos);
    close();
    // The form's autosave and "changed" tracking see the new value.
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function show(suggestions) {
    items = suggestions;
    list.replaceChildren(
      ...suggestions.map((s, i) =>
        h(
          "li",
          {
            id: `${listId}-${i}`,
            role: "option",
            class: "ac-option",
            "aria-selected": "false",
            "data-testid": "suggestion",
            onmousedown: (e) => e.preventDefault(), // keep the focus in the field
            onclick: () => choose(i),
          },
          s.name ? h("bdi", { class: "ac-name", text: s.name }) : null,
          h("bdi", { class: "ac-email", text: s.email }),
        ),
      ),
    );
    const open = suggestions.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    highlight(-1);
  }

  async function lookup() {
    const caret = input.selectionStart ?? input.value.length;
    const q = currentToken(input.value, caret).text.trim();
    if (q.length < MIN_CHARS || q.length > 200) {
      close();
      return;
    }
    const mine = ++seq;
    try {
      const data = await api.get(`/api/contacts/suggest?q=${encodeURIComponent(q)}`);
      if (mine !== seq || document.activeElement !== input) return;
      const found = Array.isArray(data?.suggestions)
        ? data.suggestions.filter((s) => typeof s?.email === "string")
        : [];
      show(found);
    } catch {
      // Suggestions are a help, not a feature to fail loudly: typing goes on.
      if (mine === seq) close();
    }
  }

  function onInput(event) {
    if (!event.isTrusted) return; // our own event after a choice
    clearTimeout(timer);
    timer = setTimeout(lookup, DELAY_MS);
  }

  function onKeydown(event) {
    const open = !list.hidden && items.length > 0;
    if (event.key === "ArrowDown" && open) {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter" && open && active >= 0 && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation();
      choose(active);
    } else if (event.key === "Escape" && open) {
      // Closes the list only, not the compose form behind it.
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  }

  input.addEventListener("input", onInput);
  input.addEventListener("keydown", onKeydown);
  input.addEventListener("blur", close);
  return () => {
    close();
    input.removeEventListener("input", onInput);
    input.removeEventListener("keydown", onKeydown);
    input.removeEventListener("blur", close);
    list.remove();
  };
}

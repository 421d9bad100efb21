// Below a message: show all its headers, show its source, print it, download it.
// Everything shown is text in the DOM (never markup), marked translate="no".

import * as api from "./api.js";
import { t } from "./i18n.js";
import { reportError, state } from "./state.js";
import { h } from "./util.js";

// The source view shows at most this much; the download has it all.
const SOURCE_MAX = 512 * 1024;

/** A button that shows and hides `panel`, filling it the first time with `fill(panel)`. */
function disclosure(testid, label, panel, fill) {
  let filled = false;
  const button = h("button", {
    type: "button",
    class: "btn btn-small btn-ghost",
    "data-testid": testid,
    "aria-expanded": "false",
    "aria-controls": panel.id,
    text: label,
    onclick: async () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      panel.hidden = !open;
      if (!open || filled) return;
      filled = true;
      panel.setAttribute("aria-busy", "true");
      try {
        await fill(panel);
      } catch (err) {
        filled = false;
        panel.hidden = true;
        button.setAttribute("aria-expanded", "false");
        reportError(err);
      } finally {
        panel.removeAttribute("aria-busy");
      }
    },
  });
  return button;
}

async function fillHeaders(msg, panel) {
  const data = await api.get(api.path`/api/messages/${msg.id}/headers`);
  if (state.message?.id !== msg.id) return;
  const fields = Array.isArray(data?.headers) ? data.headers : [];
  panel.replaceChildren(
    h("h3", { id: "all-headers-title", text: t("reader.allHeaders") }),
    h(
      "table",
      { class: "all-headers", "aria-labelledby": "all-headers-title", translate: "no" },
      h(
        "tbody",
        {},
        fields.map((f) =>
          h(
            "tr",
            {},
            h("th", { scope: "row", text: String(f?.name ?? "") }),
            h("td", { dir: "auto", text: String(f?.value ?? "") }),
          ),
        ),
      ),
    ),
    data?.truncated ? h("p", { class: "tools-note", text: t("reader.headersCut") }) : null,
  );
}

async function fillSource(msg, panel) {
  const { text, cut } = await api.getTextStart(api.path`/api/messages/${msg.id}/raw`, SOURCE_MAX);
  if (state.message?.id !== msg.id) return;
  panel.replaceChildren(
    h("h3", { id: "message-source-title", text: t("reader.source") }),
    h("pre", {
      class: "message-source",
      "data-testid": "message-source-text",
      "aria-labelledby": "message-source-title",
      translate: "no",
      tabindex: "0",
      text,
    }),
    cut ? h("p", { class: "tools-note", text: t("reader.sourceCut") }) : null,
  );
}

/** The row of tools and the panels they open. */
export function readerTools(msg) {
  const headers = h("section", {
    id: "all-headers",
    class: "tools-panel",
    "data-testid": "all-headers",
    hidden: true,
  });
  const source = h("section", {
    id: "message-source",
    class: "tools-panel",
    "data-testid": "message-source",
    hidden: true,
  });
  return h(
    "div",
    { class: "reader-tools" },
    h(
      "p",
      { class: "reader-raw" },
      disclosure("show-headers", t("reader.showHeaders"), headers, (p) => fillHeaders(msg, p)),
      disclosure("show-source", t("reader.showSource"), source, (p) => fillSource(msg, p)),
      h("button", {
        type: "button",
        class: "btn btn-small btn-ghost",
        "data-testid": "print-message",
        text: t("reader.print"),
        onclick: () => window.print(),
      }),
      h("a", {
        href: api.path`/api/messages/${msg.id}/raw`,
        download: "message.eml",
        rel: "noopener noreferrer",
        "data-testid": "raw-link",
        text: t("reader.raw"),
      }),
    ),
    headers,
    source,
  );
}

// Replied and forwarded marks (\Answered, $Forwarded): small stroked arrows in
// currentColor (no emoji, no icon font, no image request), each with words for a screen
// reader beside it.

import { t } from "./i18n.js";
import { h } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";

// A reply arrow bends back to the left, a forward arrow goes on to the right.
const PATHS = {
  answered: "M6 3 2 7l4 4M2 7h7a5 5 0 0 1 5 5v1",
  forwarded: "M10 3l4 4-4 4M14 7H7a5 5 0 0 0-5 5v1",
};

function arrow(kind) {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({
    viewBox: "0 0 16 16",
    "aria-hidden": "true",
    focusable: "false",
  })) {
    svg.setAttribute(key, value);
  }
  const path = document.createElementNS(SVG, "path");
  for (const [key, value] of Object.entries({
    d: PATHS[kind],
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "1.6",
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
  })) {
    path.setAttribute(key, value);
  }
  svg.appendChild(path);
  return svg;
}

/** The list row's marks: icons, with their meaning as hidden text in the row's name. */
export function rowMarks(msg) {
  return [
    msg.answered
      ? h(
          "span",
          { class: "row-mark", "data-testid": "row-answered" },
          arrow("answered"),
          h("span", { class: "visually-hidden", text: `${t("list.answered")} ` }),
        )
      : null,
    msg.forwarded
      ? h(
          "span",
          { class: "row-mark", "data-testid": "row-forwarded" },
          arrow("forwarded"),
          h("span", { class: "visually-hidden", text: `${t("list.forwarded")} ` }),
        )
      : null,
  ];
}

/** The reader's line of marks (empty when neither), an icon and a word each. */
export function readerMarks(msg) {
  return h(
    "p",
    {
      id: "reader-marks",
      class: "reader-marks",
      "data-testid": "reader-marks",
      hidden: !(msg.answered || msg.forwarded),
    },
    msg.answered
      ? h(
          "span",
          { class: "reader-mark", "data-testid": "reader-answered" },
          arrow("answered"),
          h("span", { text: t("reader.answered") }),
        )
      : null,
    msg.forwarded
      ? h(
          "span",
          { class: "reader-mark", "data-testid": "reader-forwarded" },
          arrow("forwarded"),
          h("span", { text: t("reader.forwarded") }),
        )
      : null,
  );
}

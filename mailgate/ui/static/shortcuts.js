// The "?" overlay: every keyboard shortcut of the mail view, in the app's dialog style.

import { infoDialog } from "./dialog.js";
import { t } from "./i18n.js";
import { h } from "./util.js";

/** [keys, what they do]: a key is a literal character or a key name from the catalog. */
function shortcuts() {
  return [
    [["?"], t("keys.help")],
    [["j", "↓"], t("keys.next")],
    [["k", "↑"], t("keys.previous")],
    [[t("keys.kHome"), t("keys.kEnd")], t("keys.firstLast")],
    [[t("keys.kEnter")], t("keys.open")],
    [["x"], t("keys.select")],
    [[t("keys.kShiftClick"), t("keys.kShiftArrows")], t("keys.range")],
    [["n"], t("keys.openNext")],
    [["p"], t("keys.openPrevious")],
    [[t("keys.kDelete"), "#"], t("keys.delete")],
    [["e"], t("keys.archive")],
    [["s"], t("keys.flag")],
    [["!"], t("keys.junk")],
    [["I"], t("keys.markRead")],
    [["U"], t("keys.markUnread")],
    [["z"], t("keys.undo")],
    [[t("keys.kEscape"), "u"], t("keys.back")],
    [["c"], t("keys.compose")],
    [["r"], t("keys.reply")],
    [["a"], t("keys.replyAll")],
    [["f"], t("keys.forward")],
    [["e"], t("keys.edit")],
    [["/"], t("keys.search")],
  ];
}

export function showShortcuts() {
  const list = h(
    "dl",
    { class: "shortcut-list", "data-testid": "shortcut-list" },
    shortcuts().map(([keys, what]) =>
      h(
        "div",
        { class: "shortcut" },
        h(
          "dt",
          {},
          keys.map((key, i) => [
            i ? h("span", { class: "shortcut-or", text: " / " }) : null,
            h("kbd", { text: key }),
          ]),
        ),
        h("dd", { text: what }),
      ),
    ),
  );
  return infoDialog({
    title: t("keys.title"),
    content: list,
    closeLabel: t("keys.close"),
    testid: "shortcuts-dialog",
    extraClass: "shortcuts-dialog",
  });
}

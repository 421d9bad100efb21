// The rich-text (HTML) compose editor: a contenteditable area and a toolbar for bold,
// italic, lists, links and quotes, made with DOM operations only (no execCommand, no
// innerHTML, no third-party editor), so it works under the shell's CSP with Trusted Types
// enforced. Its HTML is serialized here from the DOM and sanitized again by the server
// (nh3) before sending; its text part is written from the same DOM, so both say the same.

import { t } from "./i18n.js";
import { h } from "./util.js";

const BLOCKS = new Set(["DIV", "P", "UL", "OL", "LI", "BLOCKQUOTE"]);
const KEPT = new Set(["P", "DIV", "B", "STRONG", "I", "EM", "U", "UL", "OL", "LI", "BLOCKQUOTE"]);
const LINK = /^(https?:\/\/|mailto:)\S+$/i;

const escapeText = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s) => escapeText(s).replace(/"/g, "&quot;");

/** The editor's content as HTML: the kept elements, links, line breaks and text. */
function toHtml(node) {
  let out = "";
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) out += escapeText(child.data);
    else if (child.nodeType !== Node.ELEMENT_NODE) continue;
    else if (child.tagName === "BR") out += "<br>";
    else if (child.tagName === "IMG") {
      // A pasted image: sent as a part of the message, named by its upload id.
      const id = child.dataset.upload;
      if (id && id !== "pending") {
        out += `<img src="cid:${escapeAttr(id)}" alt="${escapeAttr(child.alt || "")}">`;
      }
    }
    else if (child.tagName === "A") {
      const href = child.getAttribute("href") || "";
      out += LINK.test(href)
        ? `<a href="${escapeAttr(href)}">${toHtml(child)}</a>`
        : toHtml(child);
    } else if (KEPT.has(child.tagName)) {
      const tag = child.tagName.toLowerCase();
      out += `<${tag}>${toHtml(child)}</${tag}>`;
    } else out += toHtml(child);
  }
  return out;
}

/** The same content as plain text: lists as "* " or "1. ", quotes as "> ", links with
    their address. */
function toText(node) {
  const lines = [""];
  const newline = () => {
    if (lines[lines.length - 1] !== "") lines.push("");
  };
  const walk = (n, listKind) => {
    let index = 0;
    for (const child of n.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        lines[lines.length - 1] += child.data;
        continue;
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue;
      const tag = child.tagName;
      if (tag === "BR") {
        lines.push("");
      } else if (tag === "IMG") {
        lines[lines.length - 1] += `[${child.alt || "image"}]`;
      } else if (tag === "LI") {
        newline();
        index += 1;
        lines[lines.length - 1] += listKind === "OL" ? `${index}. ` : "* ";
        walk(child, null);
        newline();
      } else if (tag === "UL" || tag === "OL") {
        newline();
        walk(child, tag);
        newline();
      } else if (tag === "BLOCKQUOTE") {
        newline();
        const inner = toText(child).split("\n");
        for (const line of inner) lines.push(line ? `> ${line}` : ">");
        lines.push("");
      } else if (tag === "A") {
        const label = child.textContent || "";
        const href = child.getAttribute("href") || "";
        lines[lines.length - 1] += href && href !== label ? `${label} <${href}>` : label;
      } else if (BLOCKS.has(tag)) {
        newline();
        walk(child, null);
        newline();
      } else {
        walk(child, null);
      }
    }
  };
  walk(node, null);
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.join("\n");
}

/** Text with line breaks as DOM nodes (for the initial content and pastes). */
function textNodes(text) {
  const nodes = [];
  text.split("\n").forEach((line, i) => {
    if (i) nodes.push(document.createElement("br"));
    if (line) nodes.push(document.createTextNode(line));
  });
  return nodes;
}

/** The starting text as nodes: a quoted block ("> " lines, as a reply quotes) becomes a
    <blockquote>, so a reply written in HTML quotes in HTML. */
function initialNodes(text) {
  const nodes = [];
  let plain = [];
  let quoted = [];
  const flushPlain = () => {
    if (plain.length) nodes.push(...textNodes(plain.join("\n")));
    plain = [];
  };
  const flushQuote = () => {
    if (!quoted.length) return;
    const block = document.createElement("blockquote");
    block.append(...initialNodes(quoted.join("\n")));
    nodes.push(block);
    quoted = [];
  };
  for (const line of text.split("\n")) {
    if (line.startsWith(">")) {
      flushPlain();
      quoted.push(line.replace(/^> ?/, ""));
    } else {
      flushQuote();
      plain.push(line);
    }
  }
  flushQuote();
  flushPlain();
  return nodes;
}

/** An image given as a data: URL (as body.html shows a message's inline images), as a File. */
function fileFromDataUrl(src, name) {
  const m = /^data:(image\/[a-z0-9.+-]+);base64,([a-z0-9+/=\s]*)$/i.exec(src);
  if (!m) return null;
  try {
    const bytes = Uint8Array.from(atob(m[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    return new File([bytes], name || "image", { type: m[1].toLowerCase() });
  } catch {
    return null;
  }
}

/** A message's HTML body (a parsed, already sanitized document) as editor content: only
    what the editor itself makes is rebuilt (kept elements, links, line breaks, text and
    inline images, which are uploaded again); anything else gives only its content. */
function importNodes(node, images) {
  const out = [];
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      // Layout whitespace between blocks is no text.
      if (!/^\s*\n\s*$/.test(child.data)) out.push(document.createTextNode(child.data));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const tag = child.tagName.toUpperCase();
    if (tag === "BR") out.push(document.createElement("br"));
    else if (tag === "IMG") {
      const file = fileFromDataUrl(child.getAttribute("src") || "", child.getAttribute("alt"));
      if (!file) continue;
      const img = h("img", {
        src: URL.createObjectURL(file),
        alt: child.getAttribute("alt") || "",
        class: "rich-image",
        "data-upload": "pending",
        "data-testid": "rich-image",
      });
      images.push([img, file]);
      out.push(img);
    } else if (tag === "A") {
      const href = child.getAttribute("href") || "";
      if (LINK.test(href)) out.push(h("a", { href }, importNodes(child, images)));
      else out.push(...importNodes(child, images));
    } else if (KEPT.has(tag)) {
      const el = document.createElement(tag.toLowerCase());
      el.append(...importNodes(child, images));
      out.push(el);
    } else if (!["HEAD", "SCRIPT", "STYLE", "TEMPLATE", "TITLE"].includes(tag)) {
      out.push(...importNodes(child, images));
    }
  }
  return out;
}

/**
 * A rich editor holding `text` at first, or, given `doc`, that HTML document's body
 * (`ready` then settles once its images are uploaded again). Returns {el, editable, html(), text(), focus()}.
 * `label` names the editing area for assistive technology.
 */
export function richEditor(text, label, uploadImage = null, doc = null) {
  const editable = h("div", {
    class: "rich-area",
    contenteditable: "true",
    role: "textbox",
    "aria-multiline": "true",
    "aria-label": label,
    dir: "auto",
    spellcheck: "true",
    "data-testid": "compose-rich",
  });
  const imported = [];
  editable.append(...(doc?.body ? importNodes(doc.body, imported) : initialNodes(text)));

  const selection = () => {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount) return null;
    const range = sel.getRangeAt(0);
    return editable.contains(range.commonAncestorContainer) ? range : null;
  };
  const changed = () => editable.dispatchEvent(new Event("input", { bubbles: true }));
  const selectNode = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  };
  const wrap = (tag, attrs = {}) => {
    const range = selection();
    if (!range || range.collapsed) return;
    const el = h(tag, attrs);
    el.append(range.extractContents());
    range.insertNode(el);
    selectNode(el);
    changed();
  };
  const list = (tag) => {
    const range = selection();
    if (!range) return;
    const lines = range.collapsed ? [""] : range.toString().split("\n");
    const el = h(tag, {}, lines.map((line) => h("li", { text: line })));
    range.deleteContents();
    range.insertNode(el);
    selectNode(el.lastChild);
    changed();
  };

  const linkInput = h("input", {
    type: "url",
    class: "rich-link",
    "aria-label": t("rich.linkUrl"),
    placeholder: "https://",
    spellcheck: "false",
    "data-testid": "rich-link-url",
  });
  const error = h("span", { class: "error-text", role: "alert", "data-testid": "rich-error" });
  let saved = null; // the selection while the link address is typed
  const button = (testid, label, onclick) =>
    h("button", {
      type: "button",
      class: "btn btn-small",
      "data-testid": testid,
      text: label,
      // Keep the selection in the text: act on mousedown, not after focus moved.
      onmousedown: (e) => e.preventDefault(),
      onclick,
    });
  const toolbar = h(
    "div",
    { class: "rich-toolbar", role: "toolbar", "aria-label": t("rich.toolbar") },
    button("rich-bold", t("rich.bold"), () => wrap("strong")),
    button("rich-italic", t("rich.italic"), () => wrap("em")),
    button("rich-bullets", t("rich.bullets"), () => list("ul")),
    button("rich-numbers", t("rich.numbers"), () => list("ol")),
    button("rich-quote", t("rich.quote"), () => wrap("blockquote")),
    linkInput,
    button("rich-link", t("rich.addLink"), () => {
      const href = linkInput.value.trim();
      error.textContent = "";
      if (!LINK.test(href)) {
        error.textContent = t("rich.badLink");
        return;
      }
      const sel = window.getSelection();
      if (saved && sel) {
        sel.removeAllRanges();
        sel.addRange(saved);
      }
      const range = selection();
      if (!range) return;
      if (range.collapsed) range.insertNode(h("a", { href, text: href }));
      else wrap("a", { href });
      linkInput.value = "";
      changed();
    }),
    error,
  );
  linkInput.addEventListener("focus", () => {
    saved = selection()?.cloneRange() || null;
  });
  // A pasted or dropped image is uploaded (like an attachment) and shown from this page's
  // own copy; it goes out as a part of the message (multipart/related).
  const track = (img, file, quiet = false) =>
    uploadImage(file).then(
      (data) => {
        img.dataset.upload = data.id;
        if (!quiet) changed();
      },
      () => img.remove(),
    );
  // A draft's images, as it was saved: not a change of the user's.
  const ready = Promise.allSettled(
    imported.map(([img, file]) => (uploadImage ? track(img, file, true) : img.remove())),
  );
  const addImages = (files, range) => {
    for (const file of files) {
      const img = h("img", {
        src: URL.createObjectURL(file),
        alt: file.name || "",
        class: "rich-image",
        "data-upload": "pending",
        "data-testid": "rich-image",
      });
      range.insertNode(img);
      range.setStartAfter(img);
      track(img, file);
    }
    changed();
  };
  const imagesOf = (list) => [...(list || [])].filter((f) => f.type.startsWith("image/"));
  editable.addEventListener("drop", (e) => {
    const files = imagesOf(e.dataTransfer?.files);
    if (!uploadImage || !files.length) return;
    e.preventDefault();
    const range = selection() || document.createRange();
    if (!editable.contains(range.commonAncestorContainer)) range.selectNodeContents(editable);
    range.collapse(false);
    addImages(files, range);
  });
  // Pasting inserts text only: no markup, nothing from another page; an image is uploaded.
  editable.addEventListener("paste", (e) => {
    e.preventDefault();
    const images = imagesOf(e.clipboardData?.files);
    if (uploadImage && images.length) {
      const range = selection();
      if (range) {
        range.deleteContents();
        addImages(images, range);
      }
      return;
    }
    const pasted = e.clipboardData?.getData("text/plain") || "";
    const range = selection();
    if (!range || !pasted) return;
    range.deleteContents();
    const nodes = textNodes(pasted);
    for (const node of nodes.reverse()) range.insertNode(node);
    range.collapse(false);
    changed();
  });
  return {
    el: h("div", { class: "rich" }, toolbar, editable),
    editable,
    html: () => toHtml(editable),
    // The upload ids of the images shown (pending ones are not sent yet).
    inline: () =>
      [...editable.querySelectorAll("img[data-upload]")]
        .map((img) => img.dataset.upload)
        .filter((id) => id && id !== "pending"),
    pending: () => editable.querySelector('img[data-upload="pending"]') !== null,
    text: () => toText(editable),
    focus: () => editable.focus(),
    ready,
  };
}

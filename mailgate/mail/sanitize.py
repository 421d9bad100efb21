"""HTML mail sanitizing with nh3: allow-listed layout HTML, no script, no remote loads.

Every URL rewrite (``cid:`` images, links, proxied images) happens inside nh3's
``attribute_filter`` callback, never on the sanitizer's output: rewriting sanitized markup
afterwards is how Roundcube got CVE-2024-42009. nh3 calls the filter for each allowed
attribute *before* it filters the properties of ``style``, so the filter sees the raw style
text and drops every declaration that could load anything; nh3 then applies the CSS
property allow-list to what is left.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import nh3

from mailgate.mail.links import clean_link

__all__ = [
    "MAX_TEXT_LINKS",
    "SanitizedHtml",
    "clean_outgoing_html",
    "html_document",
    "sanitize_html",
    "text_links",
    "text_to_html",
]


@dataclass(frozen=True)
class SanitizedHtml:
    """Sanitized HTML fragment and how many remote resources were removed from it."""

    body: str
    remote_blocked: int


_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big",
        "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd",
        "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img",
        "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "ruby",
        "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var",
        "wbr",
    }
)  # fmt: skip

# Elements removed together with their content: script-like, raw-text and foreign content
# whose text is never meant to be read (and may hold URLs).
_DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "title", "template", "noscript", "noembed", "noframes", "xmp",
        "iframe", "object", "applet", "textarea", "select", "svg", "math", "head", "plaintext",
    }
)  # fmt: skip

# "background" is listed only so that the filter sees it and can count it as blocked.
_GENERIC_ATTRS = {"style", "title", "dir", "lang", "align", "valign", "width", "height",
                  "bgcolor", "background"}  # fmt: skip
_ATTRIBUTES: dict[str, set[str]] = {
    "*": _GENERIC_ATTRS,
    "a": {"href"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "nowrap", "scope", "abbr"},
    "th": {"colspan", "rowspan", "nowrap", "scope", "abbr"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"color", "face", "size"},
    "hr": {"size", "noshade", "color"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "time": {"datetime"},
    "bdo": {"dir"},
    "details": {"open"},
}

_STYLE_PROPERTIES = frozenset(
    {
        "background", "background-color", "border", "border-bottom", "border-bottom-color",
        "border-bottom-style", "border-bottom-width", "border-collapse", "border-color",
        "border-left", "border-left-color", "border-left-style", "border-left-width",
        "border-radius", "border-right", "border-right-color", "border-right-style",
        "border-right-width", "border-spacing", "border-style", "border-top",
        "border-top-color", "border-top-style", "border-top-width", "border-width",
        "caption-side", "clear", "color", "direction", "display", "empty-cells", "float",
        "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
        "height", "letter-spacing", "line-height", "list-style-position", "list-style-type",
        "margin", "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height",
        "max-width", "min-height", "min-width", "overflow", "overflow-wrap", "padding",
        "padding-bottom", "padding-left", "padding-right", "padding-top", "table-layout",
        "text-align", "text-decoration", "text-indent", "text-transform", "vertical-align",
        "white-space", "width", "word-break", "word-spacing", "word-wrap",
    }
)  # fmt: skip

# The only CSS functions a declaration may call; url(), image-set(), expression(), var(),
# attr(), element() … all fall outside.
_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp"})
_CSS_FUNCTION_CALL = re.compile(r"([-a-z0-9_]*)\s*\(")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_LOADERS = re.compile(r"url\s*\(|image-set\s*\(|image\s*\(|@import|src\s*\(")
_CSS_REMOTE = re.compile(r"https?:|//")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_SCRIPT_SCHEME = re.compile(r"(javascript|vbscript|data|livescript|mocha):", re.I)


def _is_remote(url: str) -> bool:
    """True for http(s) and protocol-relative URLs, as a browser would read them."""
    url = _URL_NOISE.sub("", url).replace("\\", "/").lower()
    return url.startswith(("http:", "https:", "//"))


def _absolute_remote(url: str) -> str | None:
    """The http(s) URL a browser would fetch for ``url`` (protocol-relative → https)."""
    url = _URL_NOISE.sub("", url).replace("\\", "/")
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _clean_style(value: str, count: Callable[[], None]) -> str | None:
    """Keep only declarations that cannot load anything; count dropped remote loads."""
    value = _CONTROL.sub("", value)
    value = _CSS_COMMENT.sub("", value)
    kept: list[str] = []
    for decl in value.split(";"):
        lowered = decl.lower()
        if _CSS_LOADERS.search(lowered) and _CSS_REMOTE.search(lowered):
            count()
        name, colon, _ = decl.partition(":")
        if not colon or name.strip().lower() not in _STYLE_PROPERTIES:
            continue
        if any(c in lowered for c in ("\\", "/*", "*/", "@", "<", ">", "&", "expression")):
            continue
        if any(m.group(1) not in _CSS_FUNCTIONS for m in _CSS_FUNCTION_CALL.finditer(lowered)):
            continue
        kept.append(decl.strip())
    result = "; ".join(kept)
    # Belt and braces: joining kept pieces cannot form a loader, but check the result anyway.
    if not result or _CSS_LOADERS.search(result.lower()):
        return None
    return result


def _cid_key(url: str) -> str | None:
    url = _URL_NOISE.sub("", url)
    if url[:4].lower() != "cid:":
        return None
    return unquote(url[4:]).strip("<>").lower()


def sanitize_html(
    html: str,  # shadows the html module inside this function only; it is not used here
    *,
    cid_urls: Mapping[str, str],
    remote_image_url: Callable[[str], str | None] | None = None,
) -> SanitizedHtml:
    """Sanitize mail HTML into a safe fragment.

    ``cid_urls`` maps Content-IDs (without angle brackets) to the URLs of the message's own
    parts; ``cid:`` images are pointed there, unknown ones dropped. Remote loads are removed
    and counted, except ``<img src>`` when ``remote_image_url`` (the privacy proxy) gives a
    replacement URL.
    """
    cids = {key.strip().strip("<>").lower(): url for key, url in cid_urls.items()}
    blocked = 0

    def count() -> None:
        nonlocal blocked
        blocked += 1

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "href":
            return clean_link(value)
        if attr == "src":
            return _image_src(value)
        if attr == "background":
            if _is_remote(value):
                count()
            return None
        if attr == "style":
            return _clean_style(value, count)
        if attr == "target":
            return "_blank"
        if attr == "rel":
            return "noopener noreferrer"
        if _SCRIPT_SCHEME.match(_URL_NOISE.sub("", value)):
            return None  # no attribute may even look like a script URL (title, alt …)
        return value

    def _image_src(value: str) -> str | None:
        key = _cid_key(value)
        if key is not None:
            return cids.get(key)
        if not _is_remote(value):
            return None  # relative, data:, javascript: … nothing else may load
        if remote_image_url is not None:
            target = _absolute_remote(value)
            proxied = remote_image_url(target) if target else None
            if proxied is not None:
                return proxied
        count()
        return None

    body = nh3.clean(
        html,
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in _ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        # cid is allowed through nh3's own scheme check only so that attribute_filter sees
        # it; the filter returns nothing but http(s)/mailto links and our own part URLs.
        url_schemes={"http", "https", "mailto", "cid"},
        filter_style_properties=set(_STYLE_PROPERTIES),
    )
    return SanitizedHtml(body=body, remote_blocked=blocked)


# What the compose editor makes (mailgate/ui/static/rich.js), and nothing else: no style,
# no class, no form; links only to http(s) and mailto; images only as parts of the message.
_OUTGOING_TAGS = frozenset(
    {"p", "div", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "a", "blockquote", "img"}
)


def clean_outgoing_html(html: str, cids: Mapping[str, str] | None = None) -> str:
    """The HTML body of a message being sent, sanitized by the compose allow-list (nh3).

    `cids` maps what an `<img src="cid:KEY">` may name (the upload ids of the inline
    images) to the Content-ID of its part; any other image source is removed."""
    known = dict(cids or {})

    def attribute_filter(tag: str, name: str, value: str) -> str | None:
        if tag == "img" and name == "src":
            key = value[4:] if value.lower().startswith("cid:") else ""
            cid = known.get(key)
            return f"cid:{cid}" if cid else None
        return value

    return nh3.clean(
        html,
        tags=set(_OUTGOING_TAGS),
        clean_content_tags={"script", "style", "template", "noscript", "title"},
        attributes={"a": {"href"}, "img": {"src", "alt"}},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto", "cid"},
    )


# Light only, in a dark app too: mail HTML is written for a white page, and a sender's
# black text on a dark canvas would be unreadable.
_DEFAULT_STYLE = (
    ":root{color-scheme:light;background:#fff;color:#000}"
    "body{margin:0;padding:12px;font:14px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "overflow-wrap:break-word;word-wrap:break-word}"
    "img{max-width:100%}"
    "pre{white-space:pre-wrap}"
    "blockquote{margin:0;margin-inline-start:.8ex;padding-inline-start:1ex;"
    "border-inline-start:2px solid #8888}"
    "a{color:LinkText}"
)


def html_document(body: str, *, title: str = "") -> str:
    """Wrap a sanitized fragment into a standalone UTF-8 HTML5 document."""
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8">'
        '<meta name="color-scheme" content="light">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{_DEFAULT_STYLE}</style>"
        # dir=auto: the message keeps its own direction whatever the UI's language.
        f'</head><body dir="auto">{body}</body></html>\n'
    )


# What counts as a link in plain text. The reader (ui/static/reader.js, TEXT_URL) finds
# candidates with the same pattern and links only those this module cleaned (text_links).
_TEXT_URL = re.compile(r"(?:https?://|mailto:)[^\s<>\"'\x00-\x1f\x7f]+", re.I)
_TRAILING = ".,;:!?'\")]}>"
# At most this many distinct links are cleaned for one text body; the rest stay text.
MAX_TEXT_LINKS = 1000


def _split_trailing(url: str) -> tuple[str, str]:
    """Split punctuation that ends a sentence off a URL found in text (keep balanced parens)."""
    end = len(url)
    while end and url[end - 1] in _TRAILING:
        if url[end - 1] == ")" and url[:end].count("(") >= url[:end].count(")"):
            break
        end -= 1
    return url[:end], url[end:]


def text_links(text: str, *, limit: int = MAX_TEXT_LINKS) -> dict[str, str]:
    """The links in plain text: each URL as written (trailing punctuation split off) → the
    href ``clean_link`` makes of it. URLs it refuses are left out; so are those past
    ``limit`` distinct ones."""
    links: dict[str, str] = {}
    refused: set[str] = set()
    for match in _TEXT_URL.finditer(text):
        url, _ = _split_trailing(match.group(0))
        if url in links or url in refused:
            continue
        if len(links) + len(refused) >= limit:
            break
        href = clean_link(url)
        if href is None:
            refused.add(url)
        else:
            links[url] = href
    return links


def text_to_html(text: str) -> str:
    """Render plain text as a safe fragment: escaped, wrapped with pre-wrap, URLs linked."""
    out: list[str] = []
    pos = 0
    for match in _TEXT_URL.finditer(text):
        out.append(html.escape(text[pos : match.start()]))
        url, rest = _split_trailing(match.group(0))
        href = clean_link(url)
        if href is None:
            out.append(html.escape(url))
        else:
            out.append(
                f'<a href="{html.escape(href)}" target="_blank" rel="noopener noreferrer">'
                f"{html.escape(url)}</a>"
            )
        out.append(html.escape(rest))
        pos = match.end()
    out.append(html.escape(text[pos:]))
    return '<div style="white-space:pre-wrap;overflow-wrap:break-word">' + "".join(out) + "</div>"

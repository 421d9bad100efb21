"""sanitize_html, html_document, text_to_html and text_links."""

from __future__ import annotations

import pytest

from mailgate.mail.sanitize import (
    SanitizedHtml,
    html_document,
    sanitize_html,
    text_links,
    text_to_html,
)

from .corpora import script_capable_constructs


def clean(markup: str, **kwargs: object) -> SanitizedHtml:
    kwargs.setdefault("cid_urls", {})
    return sanitize_html(markup, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "vector",
    [
        "<script>alert(1)</script>",
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<img src=x onerror=alert(1)>",
        "<body onload=alert(1)>",
        "<div onmouseover='alert(1)'>x</div>",
        "<form action='https://evil.example/'><input name=p><button>go</button></form>",
        "<button formaction='javascript:alert(1)'>x</button>",
        "<base href='https://evil.example/'>",
        "<meta http-equiv='refresh' content='0;url=https://evil.example/'>",
        "<link rel=stylesheet href='https://evil.example/s.css'>",
        "<iframe src='https://evil.example/'></iframe>",
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
        "<object data='https://evil.example/x.swf'></object>",
        "<embed src='https://evil.example/x.swf'>",
        "<a href='javascript:alert(1)'>x</a>",
        "<a href='java&#x09;script:alert(1)'>x</a>",
        "<a href='&#x6A;avascript:alert(1)'>x</a>",
        "<a href=' JaVaScRiPt:alert(1)'>x</a>",
        "<a href='vbscript:msgbox(1)'>x</a>",
        "<a href='data:text/html,<script>alert(1)</script>'>x</a>",
        "<img src='data:image/svg+xml,<svg onload=alert(1)>'>",
        "<div style='width: expression(alert(1))'>x</div>",
        "<div style='background:url(javascript:alert(1))'>x</div>",
        "<style>@import 'https://evil.example/x.css';</style>",
        "<template><script>alert(1)</script></template>",
        "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
        "<textarea><script>alert(1)</script></textarea>",
        "<b title='javascript:alert(1)'>x</b>",
    ],
)
def test_sec_31_script_vectors_do_not_survive(vector: str) -> None:
    body = clean(vector).body
    assert script_capable_constructs(body) == [], body
    assert "<script" not in body.lower()


def test_sec_31_form_controls_and_handlers_are_gone_but_text_stays() -> None:
    body = clean("<form action='https://e.example/'><p onclick='x()'>Hello</p></form>").body
    assert body == "<p>Hello</p>"


def test_sec_31_url_bearing_attributes_are_removed() -> None:
    markup = (
        '<a href="https://ok.example/" ping="https://t.example/p">a</a>'
        '<img src="cid:a" srcset="https://t.example/2x.png 2x" longdesc="https://t.example/l"'
        ' dynsrc="https://t.example/d" lowsrc="https://t.example/l">'
        '<video poster="https://t.example/p.png"></video>'
        '<blockquote cite="https://t.example/c">q</blockquote>'
        '<table background="https://t.example/bg.png"><tr><td>x</td></tr></table>'
    )
    result = clean(markup, cid_urls={"a": "/parts/2"})
    assert "t.example" not in result.body
    assert '<img src="/parts/2">' in result.body
    assert result.remote_blocked == 1  # the table background (the others never load by default)


def test_links_get_target_blank_and_rel_and_are_cleaned() -> None:
    body = clean(
        '<a href="https://shop.example/?utm_source=x&id=1" target="_self" rel="opener">s</a>'
    ).body
    assert body == (
        '<a href="https://shop.example/?id=1" target="_blank" rel="noopener noreferrer">s</a>'
    )


def test_link_redirect_wrappers_are_unwrapped_inside_the_sanitizer() -> None:
    body = clean('<a href="https://l.facebook.com/l.php?u=https%3A%2F%2Fa.example%2F">x</a>').body
    assert 'href="https://a.example/"' in body


def test_cid_images_point_at_the_parts_case_insensitively() -> None:
    result = clean(
        '<img src="cid:Logo@Example.COM"><img src="CID:logo%40example.com">'
        '<img src="cid:unknown@x" alt="u">',
        cid_urls={"<logo@example.com>": "/api/messages/m1/parts/1.2"},
    )
    assert result.body == (
        '<img src="/api/messages/m1/parts/1.2"><img src="/api/messages/m1/parts/1.2"><img alt="u">'
    )
    assert result.remote_blocked == 0


@pytest.mark.parametrize(
    ("markup", "blocked"),
    [
        ('<img src="https://t.example/p.gif">', 1),
        ('<img src="http://t.example/p.gif">', 1),
        ('<img src="//t.example/p.gif">', 1),
        ('<img src=" HTTPS://t.example/p.gif">', 1),
        ('<img src="/\\t.example/p.gif">', 1),
        ('<div style="background:url(https://t.example/p.gif)">x</div>', 1),
        ("<div style=\"background-image: URL( '//t.example/p.gif' )\">x</div>", 1),
        ("<div style=\"background-image:image-set('https://t.example/a.png' 1x)\">x</div>", 1),
        ('<td background="https://t.example/bg.gif">x</td>', 0),  # dropped by the parser
        ('<table background="https://t.example/bg.gif"><tr><td>x</td></tr></table>', 1),
        ('<img src="https://t.example/a.gif"><img src="https://t.example/b.gif">', 2),
        ('<img src="x.gif">', 0),
    ],
)
def test_sec_59_remote_resources_are_removed_and_counted(markup: str, blocked: int) -> None:
    result = clean(markup)
    assert "t.example" not in result.body
    assert "url(" not in result.body
    assert result.remote_blocked == blocked


@pytest.mark.parametrize(
    "style",
    [
        "background:url(https://t.example/p.gif)",
        "background:u\\72l(https://t.example/p.gif)",
        "background:url&#40;https://t.example/p.gif)",
        "background:/**/url(https://t.example/p.gif)",
        "background-image:url('https://t.example/p.gif')",
        "list-style-image:url(https://t.example/p.gif)",
        "cursor:url(https://t.example/c.cur),auto",
        "border-image:url(https://t.example/b.png) 30",
        "content:url(https://t.example/c.png)",
        "behavior:url(https://t.example/x.htc)",
        "-moz-binding:url(https://t.example/x.xml#x)",
        "width:expression(alert(1))",
        "color:red;@import 'https://t.example/x.css'",
        "font-family:'x';src:url(https://t.example/f.woff)",
        "background:var(--x)",
        "background:attr(data-x url)",
    ],
)
def test_sec_59_css_can_never_load_anything(style: str) -> None:
    body = clean(f'<div style="{style}">x</div>').body
    assert "t.example" not in body
    assert "url" not in body.lower()
    assert "expression" not in body
    assert "var(" not in body and "attr(" not in body


def test_harmless_css_and_layout_attributes_survive() -> None:
    markup = (
        '<table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff"'
        ' align="center"><tr><td valign="top" style="color:#333; font-size:14px;'
        ' padding:10px 0; width:calc(100% - 2px); position:fixed; z-index:9">'
        '<font face="Arial" color="red" size="2">Hi</font><center>c</center></td></tr></table>'
    )
    body = clean(markup).body
    assert 'width="600"' in body and 'bgcolor="#ffffff"' in body and 'cellpadding="0"' in body
    assert 'valign="top"' in body
    assert "color:#333" in body and "font-size:14px" in body and "calc(100% - 2px)" in body
    assert "position" not in body and "z-index" not in body
    assert '<font face="Arial" color="red" size="2">Hi</font>' in body
    assert "<center>c</center>" in body


def test_style_elements_are_dropped_with_their_content() -> None:
    body = clean("<style>p{color:red}</style><p>text</p>").body
    assert body == "<p>text</p>"


def test_remote_images_go_through_the_proxy_when_allowed() -> None:
    seen: list[str] = []

    def proxy(url: str) -> str | None:
        seen.append(url)
        return None if "refuse" in url else "/api/proxy?u=signed"

    result = clean(
        '<img src="https://t.example/a.png"><img src="//t.example/b.png">'
        '<img src="https://t.example/refuse.png">'
        '<div style="background:url(https://t.example/c.png)">x</div>',
        remote_image_url=proxy,
    )
    assert seen == [
        "https://t.example/a.png",
        "https://t.example/b.png",
        "https://t.example/refuse.png",
    ]
    assert result.body.count('src="/api/proxy?u=signed"') == 2
    assert "t.example" not in result.body
    assert result.remote_blocked == 2  # the refused image and the CSS background


def test_html_document_is_standalone_and_escapes_the_title() -> None:
    doc = html_document("<p>hi</p>", title="</title><script>alert(1)</script>")
    assert doc.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in doc
    assert "color-scheme:light;" in doc and "dark" not in doc
    assert '<body dir="auto"><p>hi</p></body>' in doc
    assert "<script>" not in doc
    assert "&lt;/title&gt;" in doc


def test_text_to_html_escapes_and_links() -> None:
    fragment = text_to_html(
        "Hi <b>&\nsee https://shop.example/p?utm_source=x&id=1. or javascript:alert(1)"
    )
    assert fragment.startswith('<div style="white-space:pre-wrap')
    assert "&lt;b&gt;&amp;\nsee " in fragment
    assert (
        '<a href="https://shop.example/p?id=1" target="_blank" rel="noopener noreferrer">'
        "https://shop.example/p?utm_source=x&amp;id=1</a>." in fragment
    )
    assert '<a href="javascript' not in fragment
    assert script_capable_constructs(fragment) == []


def test_text_to_html_keeps_balanced_parentheses_in_urls() -> None:
    fragment = text_to_html("(see https://en.example/wiki/A_(b))")
    assert 'href="https://en.example/wiki/A_(b)"' in fragment
    assert fragment.endswith("</a>)</div>")


def test_text_links_are_cleaned_like_html_links_and_leave_punctuation_out() -> None:
    text = (
        "Shop: https://shop.example/p?utm_source=x&id=1. Wiki (https://en.example/wiki/A_(b)),"
        " mail mailto:ann@example.org, wrapped https://www.google.com/url?q=https://a.example/"
        "&sa=D; twice https://shop.example/p?utm_source=x&id=1 and javascript:alert(1) or"
        " http://[bad/ or ftp://files.example/x"
    )
    assert text_links(text) == {
        "https://shop.example/p?utm_source=x&id=1": "https://shop.example/p?id=1",
        "https://en.example/wiki/A_(b)": "https://en.example/wiki/A_(b)",
        "mailto:ann@example.org": "mailto:ann@example.org",
        "https://www.google.com/url?q=https://a.example/&sa=D": "https://a.example/",
    }


def test_text_links_stop_at_the_limit() -> None:
    text = " ".join(f"https://h{n}.example/" for n in range(10))
    assert list(text_links(text, limit=3)) == [f"https://h{n}.example/" for n in range(3)]
    assert len(text_links(text)) == 10

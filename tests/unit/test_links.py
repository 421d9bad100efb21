"""clean_link: schemes, tracking parameters, redirect wrappers."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from mailgate.mail.links import clean_link


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " \tjavascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "java\x00script:alert(1)",
        "\x01javascript:alert(1)",
        "java&#x09;script:alert(1)",
        "&#106;avascript:alert(1)",
        "javascript&colon;alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:image/svg+xml,<svg onload=alert(1)>",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "cid:part1@example",
        "//evil.example/x",
        "/relative/path",
        "relative",
        "#fragment",
        "http://",
        "http:evil.example",
        "http://[::1",
        "http://example.com:99999/",
        "",
        "   ",
    ],
)
def test_sec_31_unsafe_or_unusable_links_are_refused(url: str) -> None:
    assert clean_link(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("HTTPS://Example.com/A", "https://Example.com/A"),
        ("  http://example.com/\n", "http://example.com/"),
        ("mailto:someone@example.com?subject=Hi", "mailto:someone@example.com?subject=Hi"),
        ("MAILTO:someone@example.com", "mailto:someone@example.com"),
        ("http:\\\\example.com\\path", "http://example.com/path"),
    ],
)
def test_safe_links_are_kept(url: str, expected: str) -> None:
    assert clean_link(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://shop.example/item?id=7&utm_source=news&utm_medium=email&utm_campaign=x",
            "https://shop.example/item?id=7",
        ),
        ("https://e.example/?fbclid=abc&q=1", "https://e.example/?q=1"),
        ("https://e.example/?gclid=1&dclid=2&msclkid=3&yclid=4", "https://e.example/"),
        ("https://e.example/p?mc_eid=1&mc_cid=2&keep=yes", "https://e.example/p?keep=yes"),
        ("https://e.example/p?_hsenc=a&_hsmi=b&mkt_tok=c", "https://e.example/p"),
        ("https://e.example/p?igshid=a&oly_enc_id=b&oly_anon_id=c", "https://e.example/p"),
        ("https://e.example/p?vero_id=a&__s=b&ref_src=c#top", "https://e.example/p#top"),
        ("https://e.example/p?UTM_Source=a&x=%20y", "https://e.example/p?x=%20y"),
        ("https://e.example/p?a=1&&b=2", "https://e.example/p?a=1&b=2"),
    ],
)
def test_tracking_parameters_are_removed(url: str, expected: str) -> None:
    assert clean_link(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.google.com/url?q=https://target.example/page%3Fa%3D1&sa=D&ust=1",
            "https://target.example/page?a=1",
        ),
        ("https://www.google.co.uk/url?url=https%3A%2F%2Ft.example%2F", "https://t.example/"),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Ft.example%2F%3Ffbclid%3Dx&h=AT0",
            "https://t.example/",
        ),
        (
            "https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Ft.example%2Fdoc"
            "&data=05%7C01&sdata=abc&reserved=0",
            "https://t.example/doc",
        ),
        (
            "https://out.reddit.com/t3_x?url=https%3A%2F%2Ft.example%2F&token=1",
            "https://t.example/",
        ),
        ("https://l.instagram.com/?u=https%3A%2F%2Ft.example%2F&e=1", "https://t.example/"),
        (
            "https://www.youtube.com/redirect?event=x&q=https%3A%2F%2Ft.example%2F",
            "https://t.example/",
        ),
        # Wrapped twice: Safe Links around Google around the target.
        (
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.google.com"
            "%2Furl%3Fq%3Dhttps%253A%252F%252Fdeep.example%252F%253Futm_source%253Dx",
            "https://deep.example/",
        ),
    ],
)
def test_redirect_wrappers_are_unwrapped(url: str, expected: str) -> None:
    assert clean_link(url) == expected


def test_wrapper_with_unsafe_target_is_not_unwrapped_into_it() -> None:
    # The target is refused, so the wrapper itself (a plain https link) is what remains.
    result = clean_link("https://www.google.com/url?q=javascript:alert(1)")
    assert result is not None
    assert result.startswith("https://www.google.com/url")


def test_unwrapping_stops_after_a_few_levels() -> None:
    url = "https://final.example/"
    for _ in range(10):
        url = "https://www.google.com/url?q=" + quote(url, safe="")
    result = clean_link(url)
    assert result is not None
    assert result != "https://final.example/"  # bounded recursion, not unlimited
    assert result.startswith("https://www.google.com/url?q=")


def test_lookalike_hosts_are_not_treated_as_wrappers() -> None:
    url = "https://google.com.evil.example/url?q=https://t.example/"
    assert clean_link(url) == url

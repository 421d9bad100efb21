"""preview() reads only a prefix of a long body, with the same result as reading it all."""

from __future__ import annotations

import time
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.mail.mime_read import preview


def _reference(text: str, limit: int = 200) -> str:
    """The whole-text definition: every character filtered, whitespace collapsed, cut."""
    if not text:
        return ""
    visible = "".join(
        ch
        for ch in text
        if ch in "\t\n\r " or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    line = " ".join(visible.replace("\u034f", "").split())
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + "…"


# Words, runs of whitespace and invisible characters, long enough to cross the prefixes.
_PIECES = st.sampled_from(
    ["word", "é", "  ", "\n\n", "\t", "\u200b", "\u034f", "\x00", "\u2028", "x" * 300, " " * 900]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=400), st.integers(min_value=0, max_value=300))
def test_preview_equals_the_whole_text_definition(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    assert preview(text, limit) == _reference(text, limit)


def test_preview_of_a_long_body_does_not_read_all_of_it() -> None:
    text = "word " * 2_000_000  # 10 MB: the whole-text definition takes over a second
    started = time.perf_counter()
    assert preview(text) == _reference(text[:2000])
    assert time.perf_counter() - started < 0.1


# Every kind of character: unusual spaces and separators (U+00A0, U+1680, U+2028, U+3000),
# controls that str.split() takes for whitespace (U+001C..U+001F, U+0085), format, private
# use, unassigned and lone surrogates: the fast path for ordinary text must not differ.
_ODD = st.sampled_from(
    list("\xa0\u1680\u2028\u2029\u3000\x1c\x1d\x1e\x1f\x85\ufeff\u200e\ue000\u0378\ud800")
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), _ODD, _PIECES), max_size=60))
def test_preview_of_any_characters_equals_the_definition(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert preview(text, 80) == _reference(text, 80)

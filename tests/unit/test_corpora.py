"""Corpus runs: XSS vectors, HTTP leak vectors and malformed MIME through the real code."""

from __future__ import annotations

from mailgate.mail.mime_read import extract_part, parse_message
from mailgate.mail.sanitize import html_document, sanitize_html

from .corpora import jsonl_records, require_corpora, script_capable_constructs

# Floors: the corpora hold 487 XSS vectors, 171 leak records and 232 messages. A floor well
# below that catches an empty or misplaced corpus without pinning exact numbers.
MIN_XSS_VECTORS = 400
MIN_LEAK_RECORDS = 150
MIN_MESSAGES = 200
MIN_ATTACHMENTS = 150


def test_sec_31_xss_corpus_leaves_no_script_capable_construct() -> None:
    root = require_corpora()
    checked = 0
    failures = []
    for path in sorted((root / "xss").glob("*.jsonl")):
        for record in jsonl_records(path):
            result = sanitize_html(record["payload"], cid_urls={})
            problems = script_capable_constructs(result.body)
            # The document wrapper adds only our own head; the body must stay clean in it too.
            document = html_document(result.body, title=record["payload"][:80])
            doc_problems = [
                p for p in script_capable_constructs(document) if p not in ("<meta>", "<style>")
            ]
            if problems or doc_problems:
                failures.append((path.name, record["id"], problems + doc_problems))
            checked += 1
    print(f"xss vectors checked: {checked}")
    assert checked >= MIN_XSS_VECTORS
    assert not failures, failures[:10]


def test_sec_59_httpleaks_records_leave_no_remote_url() -> None:
    root = require_corpora()
    checked = 0
    leaking = []
    for record in jsonl_records(root / "tracking" / "httpleaks.jsonl"):
        result = sanitize_html(record["payload"], cid_urls={})
        if "leaking.via" in result.body or script_capable_constructs(result.body):
            leaking.append((record["id"], result.body[:200]))
        checked += 1
    print(f"httpleaks records checked: {checked}")
    assert checked >= MIN_LEAK_RECORDS
    assert not leaking, leaking[:10]


def test_sec_59_httpleaks_document_leaves_no_remote_url() -> None:
    root = require_corpora()
    page = (root / "tracking" / "httpleaks-leak.html").read_text(encoding="utf-8")
    assert page.count("leaking.via") > 200  # the corpus file is the full leak page
    result = sanitize_html(page, cid_urls={})
    print(f"httpleaks-leak.html: {result.remote_blocked} remote resources blocked")
    assert "leaking.via" not in result.body
    assert script_capable_constructs(result.body) == []
    assert result.remote_blocked >= 20
    # With the proxy enabled only <img src> may load, and only through the proxy URL.
    proxied = sanitize_html(page, cid_urls={}, remote_image_url=lambda url: "/proxy/img")
    assert "leaking.via" not in proxied.body


def test_mime_corpus_parses_and_every_attachment_extracts() -> None:
    root = require_corpora()
    messages = attachments = with_text = 0
    failures = []
    for path in sorted((root / "mime").rglob("*.eml")):
        raw = path.read_bytes()
        view = parse_message(raw)
        messages += 1
        if view.text or view.html:
            with_text += 1
        for info in view.attachments:
            extracted = extract_part(raw, info.part)
            if extracted is None:
                failures.append((path.name, info.part, "not extracted"))
                continue
            extracted_info, data = extracted
            if len(data) != info.size or extracted_info != info:
                failures.append((path.name, info.part, info.size, len(data)))
            attachments += 1
        if view.html is not None:
            sanitized = sanitize_html(view.html, cid_urls={})
            if script_capable_constructs(sanitized.body):
                failures.append((path.name, "html not clean"))
    print(f"mime messages parsed: {messages}, attachments extracted: {attachments}")
    assert messages >= MIN_MESSAGES
    assert attachments >= MIN_ATTACHMENTS
    assert with_text >= messages // 2  # most messages must yield a readable body
    assert not failures, failures[:10]


def test_per_message_header_memo_reads_exactly_like_policy_default(monkeypatch) -> None:
    """mime_read parses with policy.default plus a per-message memo of parsed headers; on
    every corpus message the view and every part are the same as with plain default."""
    import dataclasses
    from email import policy
    from email.parser import BytesParser

    import mailgate.mail.mime_read as mime_read

    root = require_corpora()
    memo_parse = mime_read._parse

    def plain_parse(raw: bytes):
        try:
            return BytesParser(policy=policy.default).parsebytes(raw)
        except Exception:
            return None

    def read(parse, raw: bytes):
        monkeypatch.setattr(mime_read, "_parse", parse)
        view = parse_message(raw)
        parts = [extract_part(raw, a.part) for a in view.attachments]
        return dataclasses.asdict(view), parts

    checked = 0
    for path in sorted((root / "mime").rglob("*")):
        if not path.is_file() or path.name.startswith("LICENSE") or path.suffix == ".json":
            continue
        raw = path.read_bytes()
        assert read(memo_parse, raw) == read(plain_parse, raw), path.name
        checked += 1
    assert checked >= MIN_MESSAGES
    first, second = memo_parse(b"Subject: a\r\n\r\nx"), memo_parse(b"Subject: b\r\n\r\ny")
    assert first.policy is not second.policy  # nothing of one message reaches another


def test_header_classes_are_built_once_per_kind_not_per_name(monkeypatch) -> None:
    """The parser's header classes are kept per specialised class: a message with hundreds
    of made-up header names leaves no more of them behind than there are kinds."""
    import mailgate.mail.mime_read as mime_read

    # Start from an empty table, whatever other tests parsed before (or did not).
    built: dict[type, type] = {}
    monkeypatch.setattr(mime_read._HEADER_CLASSES, "_built", built)
    names = "".join(f"X-Made-Up-{n}: value {n}\r\n" for n in range(500))
    raw = f"From: a@example.test\r\n{names}Subject: s\r\n\r\nbody".encode()
    view = parse_message(raw)
    assert view.subject == "s" and view.text is not None and view.text.strip() == "body"
    # Reading every header goes through the header factory (parse_message alone reads
    # only some of them, raw).
    msg = mime_read._parse(raw)
    assert msg is not None
    assert len([value for _, value in msg.items()]) == 502
    kinds = set(mime_read._HEADER_CLASSES.registry.values()) | {
        mime_read._HEADER_CLASSES.default_class
    }
    assert 0 < len(built) <= len(kinds)
    after_first = dict(built)
    other = "".join(f"X-Other-{n}: v\r\n" for n in range(300)).encode()
    second = mime_read._parse(other + b"Subject: t\r\n\r\nx")
    assert second is not None and len(list(second.items())) == 301
    assert built == after_first  # new names, no new classes

"""Schemathesis over every operation of the served OpenAPI document (issue 8).

Authenticated like the UI (cookie, X-CSRF-Token, same-origin Origin), over the server's
real TLS. Checks: no 5xx, every response matches its documented status, media type and
schema, and every response carries the security headers. DELETE /api/session is left
out (it would log the fuzzer out) and GET /api/events too (an endless stream); POST
/api/session is fuzzed without the cookie so a refused login cannot touch the session.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mailgate.session.tokens import COOKIE_NAME
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate
from tests.conftest import Upstream

SKIP = {("DELETE", "/api/session"), ("GET", "/api/events")}
MIN_REQUESTS = 2000
EXAMPLES = 110  # per operation and generation mode; small spaces stop earlier
SLOW = {"/api/session", "/api/send", "/api/drafts"}  # IMAP login / SMTP per request
SECURITY_HEADERS = ("Strict-Transport-Security", "Content-Security-Policy", "Referrer-Policy")


def security_headers(ctx: Any, response: Any, case: Any) -> bool:
    headers = {k.lower(): v for k, v in response.headers.items()}
    missing = [h for h in SECURITY_HEADERS if not headers.get(h.lower())]
    nosniff = headers.get("x-content-type-options")
    if missing or nosniff not in (["nosniff"], "nosniff"):
        raise AssertionError(f"missing security headers {missing}, nosniff={nosniff!r}")
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    security_headers,
]


def _mail(n: int) -> bytes:
    boundary = f"b{n}"
    return (
        f"From: Sender {n} <sender{n}@example.test>\r\nTo: someone@example.test\r\n"
        f"Subject: fuzz {n}\r\nDate: Sat, 21 Nov 2026 10:0{n % 10}:00 +0000\r\n"
        f"Message-ID: <fuzz{n}@example.test>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: multipart/alternative; boundary=alt{n}\r\n\r\n"
        f"--alt{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello {n}\r\n"
        f"--alt{n}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p>Hello <img src="https://remote.example/x.png"> {n}</p>\r\n--alt{n}--\r\n'
        f"--{boundary}\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="doc{n}.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--{boundary}--\r\n"
    ).encode()


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_fuzz_every_operation(
    upstream: Upstream,
    user: tuple[str, str],
    mailgate: RunningMailgate,
    logged_in: ApiClient,
) -> None:
    for n in range(6):
        upstream.deliver(user[0], _mail(n))
    boxes = (await logged_in.get("/api/mailboxes")).json()["mailboxes"]
    box_ids = [b["id"] for b in boxes]
    inbox = next(b["id"] for b in boxes if b["role"] == "inbox")
    listing = (await logged_in.get(f"/api/mailboxes/{inbox}/messages")).json()
    message_ids = [m["id"] for m in listing["messages"]]
    assert len(message_ids) == 6
    threads = (await logged_in.get(f"/api/mailboxes/{inbox}/conversations")).json()
    conversation_ids = [c["id"] for c in threads["conversations"]]
    assert conversation_ids
    real = {
        "mailbox_id": box_ids,
        "message_id": message_ids,
        "conversation_id": conversation_ids,
        "part": ["1", "1.1", "1.2", "2"],
    }

    base = mailgate.url
    auth = {
        "Cookie": f"{COOKIE_NAME}={logged_in.cookie}",
        "X-CSRF-Token": logged_in.csrf,
        "Origin": base,
    }
    verify = mailgate.ca_file
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json", verify=verify)
    http = requests.Session()
    failures: list[str] = []
    counted = {"requests": 0}

    def run(operation: Any, mode: GenerationMode, examples: int) -> None:
        method, path = operation.method.upper(), operation.path
        headers = {k: v for k, v in auth.items() if not (path == "/api/session" and k != "Origin")}

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), pick=st.randoms())
        def test(case: Any, pick: random.Random) -> None:
            # Half the time, point the case at things that exist, so handlers go deep.
            for name, values in real.items():
                if case.path_parameters and name in case.path_parameters and pick.random() < 0.5:
                    case.path_parameters[name] = pick.choice(values)
            response = case.call(base_url=base, session=http, headers=headers, verify=verify)
            counted["requests"] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseExceptionGroup as exc:  # collected: every failure is reported at the end
                failures.append(
                    f"{method} {response.request.url} body={case.body!r:.300} -> "
                    f"{response.status_code} {response.text[:200]!r}: {str(exc)[:400]}"
                )

        test()

    operations = [r.ok() for r in schema.get_all_operations()]
    seen = set()
    for op in operations:
        key = (op.method.upper(), op.path)
        seen.add(key)
        if key in SKIP:
            continue
        examples = EXAMPLES // 2 if op.path in SLOW else EXAMPLES
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # No negative case exists for an operation without inputs.
            with contextlib.suppress(schemathesis.errors.SerializationNotPossible, Unsatisfiable):
                run(op, mode, examples)
    assert ("GET", "/api/messages/{message_id}/parts/{part}") in seen
    # The session lived through the whole run (so the fuzz was authenticated throughout).
    assert (await logged_in.get("/api/session")).status == 200
    print(f"schemathesis: {counted['requests']} requests, {len(failures)} failures")
    assert not failures, "\n".join(failures[:40])
    assert counted["requests"] >= MIN_REQUESTS

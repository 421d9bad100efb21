"""A 400 about one field of the body names that field in `error.field` (the JSON name),
so a form can point at the input; refusals not about one field carry none."""

from __future__ import annotations

from mailgate.testing.client import ApiClient


async def test_the_field_at_fault_is_named(signed_in: ApiClient) -> None:
    bad_cc = {"to": ["a@example.test"], "cc": ["not quite@an address"], "subject": "s"}
    for language in ("en", "de"):
        resp = await signed_in.post("/api/send", json=bad_cc, headers={"Accept-Language": language})
        assert resp.status == 400 and resp.error_code == "bad_request", resp
        assert resp.json()["error"]["field"] == "cc"
    typed = await signed_in.post("/api/send", json={"to": "a@example.test"})
    assert typed.status == 400 and typed.json()["error"]["field"] == "to"
    nobody = await signed_in.post("/api/send", json={"subject": "no recipient"})
    assert nobody.status == 400 and "field" not in nobody.json()["error"]

"""Image attachments show an inline preview in the reader (issue 17): raster images only,
a small PNG the server re-encoded; an SVG or a PDF gets none."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Mailbox, SignedIn
from tests.conftest import Upstream
from tests.integration.image_server import PNG, SVG
from tests.integration.mailfactory import with_attachment

pytestmark = pytest.mark.browser


def test_images_preview_and_others_do_not(
    signed_in: SignedIn, seeded_user: Mailbox, upstream: Upstream
) -> None:
    email = seeded_user.email
    upstream.deliver(email, with_attachment(PNG, "photo.png", "image/png", "Holiday picture"))
    upstream.deliver(email, with_attachment(SVG, "drawing.svg", "image/svg+xml", "A drawing"))
    session = signed_in(seeded_user)
    page = session.page

    page.get_by_test_id("message-row").filter(has_text="Holiday picture").click()
    preview = page.get_by_test_id("attachment-preview")
    expect(preview).to_have_count(1)
    expect(preview).to_have_attribute("alt", "Preview of photo.png")
    expect(page.get_by_test_id("attachment-link")).to_have_count(1)  # one tab stop per file
    assert (preview.get_attribute("src") or "").endswith("/preview")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"attachment-preview\"]').naturalWidth > 0"
    )

    for subject in ("A drawing", seeded_user.subjects["invoice"]):
        page.get_by_test_id("message-row").filter(has_text=subject).click()
        expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
        expect(page.get_by_test_id("attachment-link")).to_have_count(1)
        expect(page.get_by_test_id("attachment-preview")).to_have_count(0)

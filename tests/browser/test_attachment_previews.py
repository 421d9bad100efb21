"""Image and PDF attachments show an inline preview in the reader (issue 17): raster images
and a PDF's first page, as a small PNG the server made; an SVG gets none, and neither does
a PDF the server cannot draw (the seeded invoice has no page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, Mailbox, SignedIn
from tests.conftest import Upstream
from tests.integration.image_server import PNG, SVG
from tests.integration.mailfactory import with_attachment
from tests.integration.pdfs import pdf

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


def test_a_pdf_previews_its_first_page(
    signed_in: SignedIn, seeded_user: Mailbox, upstream: Upstream
) -> None:
    upstream.deliver(
        seeded_user.email, with_attachment(pdf(), "letter.pdf", "application/pdf", "Signed letter")
    )
    page = signed_in(seeded_user).page

    page.get_by_test_id("message-row").filter(has_text="Signed letter").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Signed letter")
    preview = page.get_by_test_id("attachment-preview")
    expect(preview).to_have_count(1)
    expect(preview).to_have_attribute("alt", "First page of letter.pdf")
    expect(page.get_by_test_id("attachment-link")).to_have_count(1)
    assert (preview.get_attribute("src") or "").endswith("/preview")
    # The PNG the server drew arrived and decoded: 612 by 792 points at 320 pixels high.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"attachment-preview\"]').naturalHeight === 320"
    )
    size = preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [248, 320], size
    expect(preview).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "reader-pdf-preview.png")

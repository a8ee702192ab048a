"""The API documentation in chromium: Swagger UI and Redoc from the vendored copies render the
API under the one Content-Security-Policy (the `page` fixture fails on any CSP violation or
console error), at phone and desktop widths."""

from __future__ import annotations


def test_swagger_ui_renders_the_api_under_the_policy(page, shoot):
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    assert "Signpost API" in page.locator(".info .title").inner_text()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/events" in " ".join(paths)
    page.locator(".opblock-summary", has_text="/v1/events").first.click()
    page.wait_for_selector("text=application/problem+json", timeout=10_000)  # errors documented as problems
    shoot()


#: Redoc's sidebar footer loads its maker's logo from a CDN; the policy blocks it (no CDN) and
#: Redoc hides the image when it fails. Every other console error fails the test.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_renders_the_api_under_the_policy(browser_context, viewport, shoot):
    from .conftest import VIEWPORTS, close_tab

    tab = browser_context.new_page()  # not the `page` fixture: the blocked logo is expected here
    tab.set_viewport_size(VIEWPORTS[viewport])
    tab.viewport_name = viewport
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto("/redoc")
        tab.wait_for_selector("h1", timeout=30_000)
        assert "Signpost API" in tab.locator("h1").first.inner_text()
        tab.get_by_text("/v1/events").first.wait_for(timeout=10_000)
        unsigned = tab.evaluate("() => [...document.querySelectorAll('style')].filter(s => !s.nonce).length")
        assert unsigned == 0, "every <style> Redoc wrote carries the response's nonce"
        shoot(tab=tab)
    finally:
        close_tab(tab)
    unexpected = [text for text in errors if REDOCLY_LOGO not in text]
    assert not unexpected, f"browser console errors: {unexpected}"

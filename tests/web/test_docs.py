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


def test_redoc_renders_the_api_under_the_policy(page, shoot):
    page.goto("/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "Signpost API" in page.locator("h1").first.inner_text()
    page.wait_for_selector("text=/v1/events", timeout=10_000)
    styled = page.evaluate("() => [...document.querySelectorAll('style')].every(s => s.nonce)")
    assert styled, "every <style> Redoc wrote carries the response's nonce"
    shoot()

#!/usr/bin/env bash
# Sets up everything Signpost needs on a fresh Debian machine: a virtualenv with the pinned
# Python packages, Debian's chromium for the browser tests, and the front-end assets.
# Idempotent: re-running skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing Python packages (pinned by constraints.txt)"
# The 'spark' extra (PySpark, for `signpost features --engine spark` and its tests) is included:
# the tests compare the two engines. A demo-only install can leave it out: '.[dev]'.
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,spark]'

# --- web pages and browser tests (issue 8, Engineer W) -------------------------------------
# Debian's chromium drives the Playwright browser tests (never `playwright install`).
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser tests"
  apt-get update && apt-get install -y chromium
fi
# GOV.UK Frontend and axe-core come from npm at the exact versions in package-lock.json and
# are served by the app itself from serving/static/vendor/ (git-ignored): no CDN.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing front-end packages (npm ci)"
  npm ci --include=dev --no-audit --no-fund
fi
echo "==> vendoring GOV.UK Frontend, axe-core, Swagger UI and Redoc into serving/static/vendor/"
vendor=serving/static/vendor
rm -rf "$vendor" && mkdir -p "$vendor/govuk/assets" "$vendor/axe" "$vendor/swagger-ui" "$vendor/redoc"
govuk=node_modules/govuk-frontend/dist/govuk
cp "$govuk/govuk-frontend.min.js" "$vendor/govuk/"
cp -r "$govuk/assets/images" "$vendor/govuk/assets/"
# A council service is not GOV.UK, so it must not use the GDS Transport typeface: the
# stylesheet is copied without its @font-face rules (text falls back to Arial, as the Design
# System advises), and its one absolute asset URL is made relative to the stylesheet.
sed -E -e 's/@font-face\{[^}]*\}//g' -e 's/GDS Transport,//g' -e 's#url\(/assets/#url(assets/#g' \
  -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$govuk/govuk-frontend.min.css" > "$vendor/govuk/govuk-frontend.min.css"
cp node_modules/axe-core/axe.min.js "$vendor/axe/"
# The API documentation pages (/docs, /redoc) load Swagger UI and Redoc from here, under the
# app's own CSP, never from a CDN. Source-map comments are dropped: the maps are not copied.
swagger=node_modules/swagger-ui-dist
cp "$swagger/swagger-ui-bundle.js" "$vendor/swagger-ui/"
sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$swagger/swagger-ui.css" > "$vendor/swagger-ui/swagger-ui.css"
sed -e 's#^//\# sourceMappingURL=.*$##' node_modules/redoc/bundles/redoc.standalone.js > "$vendor/redoc/redoc.standalone.js"

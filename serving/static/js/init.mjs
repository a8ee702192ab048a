// Progressive enhancement only: every page works without this file.
import { initAll } from '/static/vendor/govuk/govuk-frontend.min.js'

initAll()

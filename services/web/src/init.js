// Served as /assets/cspr-init.js: GOV.UK Frontend's enhancements, from a file rather than an
// inline script so the Content-Security-Policy allows scripts from this site only.
import { initAll } from '/assets/govuk-frontend.min.js'
document.body.classList.add('govuk-frontend-supported')
initAll()

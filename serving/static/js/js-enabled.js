// Marks the page as scripted before it is painted, so GOV.UK Frontend's enhanced styles apply
// at once. Loaded as a file (not inline) to keep the Content-Security-Policy free of inline code.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');

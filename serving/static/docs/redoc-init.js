// Starts the vendored Redoc on /redoc. Redoc writes <style> elements: they carry the nonce the
// page's Content-Security-Policy allows for this response only. Search is off: it runs in a
// worker made from a blob: URL, which the policy does not allow.
const root = document.getElementById("redoc");
Redoc.init(root.dataset.openapiUrl, { nonce: root.dataset.nonce, disableSearch: true }, root);

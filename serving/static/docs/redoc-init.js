// Starts the vendored Redoc on /redoc. Redoc writes <style> elements: they carry the nonce the
// page's Content-Security-Policy allows for this response only.
const root = document.getElementById("redoc");
Redoc.init(root.dataset.openapiUrl, { nonce: root.dataset.nonce }, root);

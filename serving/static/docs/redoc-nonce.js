// Loaded before the vendored Redoc on /redoc. Redoc's bundle inserts some <style> elements while
// it loads, before `Redoc.init` has handed it the nonce; the page's Content-Security-Policy
// would block those. This gives every <style> element inserted without a nonce the one this
// response allows (read from the page, made afresh for each response), and nothing else.
(() => {
  const nonce = document.getElementById("redoc").dataset.nonce;
  const withNonce = (node) => {
    if (node instanceof HTMLStyleElement && !node.nonce) node.nonce = nonce;
    return node;
  };
  const appendChild = Node.prototype.appendChild;
  const insertBefore = Node.prototype.insertBefore;
  Node.prototype.appendChild = function (node) { return appendChild.call(this, withNonce(node)); };
  Node.prototype.insertBefore = function (node, ref) { return insertBefore.call(this, withNonce(node), ref); };
})();

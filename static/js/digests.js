// SHA-256 and SM3 of a file in the browser, shared by the pages that check files without
// uploading them (verify.js, batch.js): hash-wasm (static/vendor) streams the file slice
// by slice through both at once, so memory stays bounded whatever the file's size.
// Loaded before the scripts that use it; defines window.portalDigests.
(function () {
  "use strict";

  // Slices of this many bytes are read and hashed in turn (a multi-gigabyte evidence
  // video included).
  var SLICE = 8 << 20;

  function megabytes(bytes) {
    return (bytes / (1 << 20)).toFixed(1) + " MB";
  }

  // Whether this browser can hash here (WebAssembly and both hash-wasm modules loaded).
  function available() {
    return !!(window.WebAssembly && window.hashwasm && hashwasm.createSHA256 && hashwasm.createSM3);
  }

  // SHA-256 and SM3 of a File, read slice by slice; `progress(done, total)` after each.
  async function digests(file, progress) {
    var sha256 = await hashwasm.createSHA256();
    var sm3 = await hashwasm.createSM3();
    sha256.init();
    sm3.init();
    for (var offset = 0; offset < file.size; offset += SLICE) {
      var bytes = new Uint8Array(await file.slice(offset, offset + SLICE).arrayBuffer());
      sha256.update(bytes);
      sm3.update(bytes);
      progress(Math.min(offset + SLICE, file.size), file.size);
    }
    return { sha256: sha256.digest("hex"), sm3: sm3.digest("hex") };
  }

  window.portalDigests = { SLICE: SLICE, megabytes: megabytes, available: available, digests: digests };
})();

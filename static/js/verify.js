// The little JavaScript the pages use; every page also works without it.
// 1. "Check without uploading": SHA-256 and SM3 in the browser (hash-wasm, static/vendor),
//    streamed slice by slice with progress; only the digests are sent.
// 2. The result page follows a running verification and reloads when it is done.
// 3. An upload shows its progress and cannot be sent twice.
(function () {
  "use strict";

  // Slices of this many bytes are read and hashed in turn: memory stays bounded whatever
  // the file's size (a multi-gigabyte evidence video included).
  var SLICE = 8 << 20;

  function megabytes(bytes) {
    return (bytes / (1 << 20)).toFixed(1) + " MB";
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

  document.querySelectorAll("form[data-digest-form]").forEach(function (form) {
    var button = form.querySelector("[data-browser-digest]");
    var status = form.querySelector("[data-digest-status]");
    var bar = form.querySelector("[data-digest-progress]");
    if (!button || !window.WebAssembly || !window.hashwasm || !hashwasm.createSM3) return;
    button.hidden = false;
    button.addEventListener("click", async function () {
      var input = form.querySelector("input[type=file]");
      if (!input.files.length) {
        status.textContent = "请先选择文件。 Choose a file first.";
        return;
      }
      var file = input.files[0];
      button.disabled = true;
      bar.hidden = false;
      var started = Date.now();
      try {
        var found = await digests(file, function (done, total) {
          bar.value = total ? done / total : 1;
          var seconds = (Date.now() - started) / 1000;
          var left = done && seconds > 1 ? Math.round(((total - done) * seconds) / done) : null;
          status.textContent =
            "正在您的设备上计算摘要 Hashing on your device: " + megabytes(done) + " / " +
            megabytes(total) + "（" + Math.floor((100 * done) / (total || 1)) + "%）" +
            (left !== null ? " 约剩 " + left + " 秒 about " + left + " s left" : "");
        });
        bar.value = 1;
        var body = { sha256: found.sha256, sm3: found.sm3, source: "browser" };
        var code = form.querySelector("input[name=code]");
        if (code && code.value) body.code = code.value;
        var response = await fetch(form.dataset.api || "/api/v1/verifications", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        });
        var answer = await response.json();
        if (!response.ok) {
          status.textContent = answer.error.message.zh + " " + answer.error.message.en;
          button.disabled = false;
          return;
        }
        status.textContent = "SHA-256 " + found.sha256 + " · SM3 " + found.sm3;
        window.location.assign(answer.url);
      } catch (error) {
        status.textContent = "无法计算或发送摘要，请改用上传。 Could not compute or send the digest; upload instead.";
        button.disabled = false;
      }
    });
  });

  // 3. An upload shows its progress (percentage, megabytes, time left) and cannot be sent
  //    twice; the server answers where to go next (verification/views.py, _go). A refusal
  //    page is shown as it is; anything else falls back to the plain form submission.
  document.querySelectorAll("form[data-upload-progress]").forEach(function (form) {
    if (!window.XMLHttpRequest || !window.FormData) return;
    var bar = form.querySelector("[data-upload-bar]");
    var status = form.querySelector("[data-upload-status]");
    form.addEventListener("submit", function (event) {
      if (form.dataset.plain) return; // the fallback: let the browser send it
      event.preventDefault();
      if (form.dataset.sending) return;
      form.dataset.sending = "1";
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      bar.hidden = false;
      var started = Date.now();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Upload-Progress", "1");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        bar.value = e.loaded / e.total;
        var seconds = (Date.now() - started) / 1000;
        var left = e.loaded && seconds > 1 ? Math.round(((e.total - e.loaded) * seconds) / e.loaded) : null;
        status.textContent =
          "正在上传 Uploading: " + megabytes(e.loaded) + " / " + megabytes(e.total) + "（" +
          Math.floor((100 * e.loaded) / e.total) + "%）" +
          (left !== null ? " 约剩 " + left + " 秒 about " + left + " s left" : "");
      };
      xhr.upload.onload = function () {
        status.textContent = "已上传，正在核验… Uploaded; checking…";
      };
      var plain = function () {
        form.dataset.plain = "1";
        form.submit();
      };
      xhr.onload = function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (error) { /* a page */ }
        if (xhr.status === 200 && answer && answer.location) {
          window.location.assign(answer.location);
        } else if (xhr.status >= 400 && !answer) {
          // The portal's refusal page (too large, too many requests): shown as it is,
          // without sending the file again.
          document.open();
          document.write(xhr.responseText);
          document.close();
        } else {
          plain();
        }
      };
      xhr.onerror = plain;
      xhr.send(new FormData(form));
    });
  });

  var running = document.querySelector("[data-verification][data-status]:not([data-status=done])");
  if (running) {
    var follow = async function () {
      try {
        var answer = await (await fetch(running.dataset.api, { headers: { Accept: "application/json" } })).json();
        if (answer.status === "done") {
          window.location.reload();
          return;
        }
      } catch (error) { /* the meta refresh still works */ }
      setTimeout(follow, 1000);
    };
    setTimeout(follow, 700);
  }
})();

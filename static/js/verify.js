// The little JavaScript the pages use; every page also works without it.
// 1. "Check without uploading": SHA-256 in the browser (Web Crypto), only the digest is sent.
// 2. The result page follows a running verification and reloads when it is done.
(function () {
  "use strict";

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  document.querySelectorAll("form[data-digest-form]").forEach(function (form) {
    var button = form.querySelector("[data-browser-digest]");
    var status = form.querySelector("[data-digest-status]");
    if (!button || !window.crypto || !crypto.subtle) return;
    button.hidden = false;
    button.addEventListener("click", async function () {
      var input = form.querySelector("input[type=file]");
      if (!input.files.length) {
        status.textContent = "请先选择文件。 Choose a file first.";
        return;
      }
      button.disabled = true;
      status.textContent = "正在您的设备上计算摘要… Computing the digest on your device…";
      try {
        var digest = hex(await crypto.subtle.digest("SHA-256", await input.files[0].arrayBuffer()));
        var body = { sha256: digest, source: "browser" };
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
        status.textContent = "SHA-256 " + digest;
        window.location.assign(answer.url);
      } catch (error) {
        status.textContent = "无法计算或发送摘要，请改用上传。 Could not compute or send the digest; upload instead.";
        button.disabled = false;
      }
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

// The little JavaScript the pages use; every page also works without it.
// 1. "Check without uploading": SHA-256 and SM3 in the browser (hash-wasm, static/vendor),
//    streamed slice by slice with progress; only the digests are sent.
// 2. The result page follows a running verification and reloads when it is done.
// 3. An upload shows its progress and cannot be sent twice.
// 4. A file over the portal's limit is refused beside its field before it is sent.
// Its texts, in the page's language, are given by the page (#verify-strings, written by
// verification/templatetags/verification_pages.py).
(function () {
  "use strict";

  var strings = {};
  var given = document.getElementById("verify-strings");
  if (given) strings = JSON.parse(given.textContent);

  // A template with its {placeholders} filled.
  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (all, key) {
      return values && key in values ? values[key] : all;
    });
  }

  // One of the page's texts, filled.
  function text(name, values) {
    return fill(strings[name], values);
  }

  // "8.0 MB / 24.0 MB (33%) about 5 s left", in the page's words.
  function progressText(name, done, total, seconds) {
    var left = done && seconds > 1 ? Math.round(((total - done) * seconds) / done) : null;
    return text(name, {
      done: megabytes(done),
      total: megabytes(total),
      percent: Math.floor((100 * done) / (total || 1)),
    }) + (left !== null ? text("left", { seconds: left }) : "");
  }

  function megabytes(bytes) {
    return (bytes / (1 << 20)).toFixed(1) + " MB";
  }

  // SHA-256 and SM3 of a File, streamed slice by slice in two workers (static/js/hashing.js);
  // `progress(done, total)` as they go.
  function digests(file, progress) {
    return window.fileDigests(file, progress);
  }

  document.querySelectorAll("form[data-digest-form]").forEach(function (form) {
    var button = form.querySelector("[data-browser-digest]");
    var status = form.querySelector("[data-digest-status]");
    var bar = form.querySelector("[data-digest-progress]");
    if (!button || !window.WebAssembly || !window.Worker || !window.fileDigests) return;
    button.hidden = false;
    button.addEventListener("click", async function () {
      var input = form.querySelector("input[type=file]");
      if (!input.files.length) {
        status.textContent = text("chooseFirst");
        return;
      }
      var file = input.files[0];
      button.disabled = true;
      bar.hidden = false;
      var started = Date.now();
      try {
        var found = await digests(file, function (done, total) {
          bar.value = total ? done / total : 1;
          status.textContent = progressText("hashing", done, total, (Date.now() - started) / 1000);
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
          // The API answers in both languages: the page's.
          status.textContent = answer.error.message[strings.language] || answer.error.message.zh;
          button.disabled = false;
          return;
        }
        status.textContent = "SHA-256 " + found.sha256 + " · SM3 " + found.sm3;
        window.location.assign(answer.url);
      } catch (error) {
        status.textContent = text("digestFailed");
        button.disabled = false;
      }
    });
  });

  // 4. A chosen file over the portal's limit (strings.limits, by the input's name) is not
  //    sent: the message, naming the file, goes beside its field (aria-invalid) and into
  //    the summary at the top of the page, as the server's own field errors do.
  function refuseBesideTheField(input, message) {
    var id = input.id + "-error";
    var beside = document.getElementById(id);
    if (!beside) {
      beside = document.createElement("p");
      beside.className = "error field-error";
      beside.id = id;
      input.parentNode.insertBefore(beside, input);
    }
    beside.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    var summary = document.querySelector("main .messages");
    if (!summary) {
      summary = document.createElement("div");
      summary.className = "messages";
      var section = input.closest("section");
      section.parentNode.insertBefore(summary, section);
    }
    var alert = document.createElement("p");
    alert.className = "error";
    alert.setAttribute("role", "alert");
    var link = document.createElement("a");
    link.href = "#" + input.id;
    link.textContent = message;
    alert.appendChild(link);
    summary.replaceChildren(alert);
    input.focus();
  }

  document.querySelectorAll("form").forEach(function (form) {
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      var limit = (strings.limits || {})[input.name];
      if (!limit || !input.id) return;
      form.addEventListener("submit", function (event) {
        var file = input.files[0];
        if (!file || file.size <= limit) return;
        event.preventDefault();
        event.stopImmediatePropagation(); // the upload script sends nothing
        refuseBesideTheField(input, fill(strings.tooLarge[input.name], { name: file.name }));
      });
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
        status.textContent = progressText("uploading", e.loaded, e.total, (Date.now() - started) / 1000);
      };
      xhr.upload.onload = function () {
        status.textContent = text("uploaded");
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

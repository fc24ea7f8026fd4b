// The batch page (/batch): files chosen or dropped (several times over) gather in a list,
// each hashed on this device (only its digests are sent; hashing.js, shared with the
// single-file check) or uploaded, then all go in one request whose answer says where the
// table of outcomes is. Without this script the form uploads the chosen files as they are.
(function () {
  "use strict";

  var form = document.querySelector("form[data-batch-form]");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var strings = JSON.parse(document.getElementById("batch-strings").textContent);
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector("[data-drop-zone]");
  var modes = form.querySelector("[data-batch-mode]");
  var box = form.querySelector("[data-chosen-box]");
  var caption = form.querySelector("[data-chosen-caption]");
  var body = form.querySelector("[data-chosen] tbody");
  var button = form.querySelector("[data-batch-submit]");
  var bar = form.querySelector("[data-batch-bar]");
  var status = form.querySelector("[data-batch-status]");
  var summary = document.querySelector("[data-batch-errors]");
  var beside = form.querySelector("[data-batch-field-error]");
  var maxFiles = Number(form.dataset.maxFiles);
  var maxUpload = Number(form.dataset.maxUpload);
  var hash = window.fileDigests; // hashing.js
  var canHash = !!(window.WebAssembly && window.Worker && hash);
  var chosen = []; // {file, row, how, state}
  var sending = false;

  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (all, key) {
      return values && key in values ? values[key] : all;
    });
  }

  function megabytes(bytes) {
    return (bytes / (1 << 20)).toFixed(1) + " MB";
  }

  // A file's size as people read it: bytes, kilobytes or megabytes.
  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1 << 20) return (bytes / 1024).toFixed(1) + " KB";
    return megabytes(bytes);
  }

  // Each cell is labelled with its column's heading (a phone shows a row as a card).
  var labels = Array.prototype.map.call(form.querySelectorAll("[data-chosen] thead th"), function (th) {
    return th.textContent.trim();
  });
  function label(row) {
    Array.prototype.forEach.call(row.children, function (cell, i) {
      if (labels[i]) cell.setAttribute("data-label", labels[i]);
    });
  }

  // What is wrong, beside the files and in the summary at the top (each line leads there).
  function showErrors(errors) {
    summary.replaceChildren();
    errors.forEach(function (message) {
      var line = document.createElement("p");
      line.className = "error";
      line.setAttribute("role", "alert");
      var link = document.createElement("a");
      link.href = "#" + input.id;
      link.textContent = message;
      line.appendChild(link);
      summary.appendChild(line);
    });
    summary.hidden = !errors.length;
    beside.textContent = errors.join(" ");
    beside.hidden = !errors.length;
    if (errors.length) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "batch-files-hint batch-files-error");
    } else {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "batch-files-hint");
    }
  }

  function defaultHow() {
    var checked = modes.querySelector("input[name=mode]:checked");
    return canHash && checked ? checked.value : "upload";
  }

  function renumber() {
    chosen.forEach(function (item, i) {
      item.row.querySelector("[data-position]").textContent = String(i + 1);
    });
    caption.textContent = fill(strings.chosen, { count: chosen.length });
    box.hidden = !chosen.length;
  }

  function setState(item, text) {
    item.row.querySelector("[data-state]").textContent = text;
  }

  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      var item = { file: file, how: defaultHow() };
      var row = document.createElement("tr");
      var cells = ["", file.name, size(file.size)].map(function (text) {
        var cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
        return cell;
      });
      cells[0].setAttribute("data-position", "");
      cells[1].className = "name";
      var how = document.createElement("td");
      var select = document.createElement("select");
      select.setAttribute("aria-label", file.name);
      select.setAttribute("data-how", "");
      [["browser", strings.browser], ["upload", strings.upload]].forEach(function (option) {
        if (option[0] === "browser" && !canHash) return;
        var element = document.createElement("option");
        element.value = option[0];
        element.textContent = option[1];
        select.appendChild(element);
      });
      select.value = item.how;
      select.addEventListener("change", function () { item.how = select.value; });
      how.appendChild(select);
      row.appendChild(how);
      var state = document.createElement("td");
      state.setAttribute("data-state", "");
      state.textContent = file.size === 0 ? fill(strings.empty, { name: file.name }) : strings.waiting;
      row.appendChild(state);
      var remove = document.createElement("td");
      var removeButton = document.createElement("button");
      removeButton.type = "button";
      removeButton.className = "remove";
      removeButton.textContent = "×";
      removeButton.setAttribute("aria-label", fill(strings.remove, { name: file.name }));
      removeButton.addEventListener("click", function () {
        if (sending) return;
        chosen.splice(chosen.indexOf(item), 1);
        row.remove();
        renumber();
        input.focus();
      });
      remove.appendChild(removeButton);
      row.appendChild(remove);
      label(row);
      item.row = row;
      body.appendChild(row);
      chosen.push(item);
    });
    renumber();
    if (chosen.length) showErrors([]);
  }

  // The list replaces the input's own files: chosen files are kept when more are chosen.
  input.required = false;
  if (canHash) modes.hidden = false;
  modes.addEventListener("change", function () {
    var how = defaultHow();
    chosen.forEach(function (item) {
      item.how = how;
      item.row.querySelector("[data-how]").value = how;
    });
  });
  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (!sending && event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
  });

  function problems() {
    if (!chosen.length) return [strings.none];
    if (chosen.length > maxFiles) return [fill(strings.tooMany, { count: chosen.length })];
    var upload = chosen.reduce(function (sum, item) {
      return sum + (item.how === "upload" ? item.file.size : 0);
    }, 0);
    return upload > maxUpload ? [strings.tooLarge] : [];
  }

  function done(errors) {
    sending = false;
    button.disabled = false;
    bar.hidden = true;
    status.textContent = "";
    if (errors) showErrors(errors);
  }

  function send(data) {
    var started = Date.now();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Upload-Progress", "1");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      bar.hidden = false;
      bar.value = e.loaded / e.total;
      status.textContent = fill(strings.sending, {
        done: megabytes(e.loaded),
        total: megabytes(e.total),
        percent: Math.floor((100 * e.loaded) / e.total),
      });
    };
    xhr.upload.onload = function () { status.textContent = strings.checking; };
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (error) { /* a page */ }
      if (xhr.status === 200 && answer && answer.location) {
        window.location.assign(answer.location);
      } else if (answer && answer.errors) {
        done(answer.errors);
      } else {
        // The portal's own page (too large, too many requests): shown as it is.
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    };
    xhr.onerror = function () { done([strings.failed]); };
    xhr.send(data);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (sending) return;
    var errors = problems();
    if (errors.length) {
      showErrors(errors);
      input.focus();
      return;
    }
    showErrors([]);
    sending = true;
    button.disabled = true;
    var data = new FormData();
    data.append("csrfmiddlewaretoken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
    for (var i = 0; i < chosen.length; i++) {
      var item = chosen[i];
      if (item.how !== "browser") {
        setState(item, strings.toUpload);
        data.append("file", item.file, item.file.name);
        continue;
      }
      try {
        var found = await hash(item.file, function (doneBytes, total) {
          setState(item, fill(strings.hashing, { percent: Math.floor((100 * doneBytes) / (total || 1)) }));
        });
      } catch (error) {
        setState(item, strings.failed);
        done([item.file.name + ": " + strings.failed]);
        return;
      }
      setState(item, strings.hashed);
      data.append("digest", JSON.stringify({
        position: i, name: item.file.name, size: item.file.size, sha256: found.sha256, sm3: found.sm3,
      }));
    }
    send(data);
  });
})();

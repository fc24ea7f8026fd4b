// The live camera scan of the home page (templates/verification/_scan.html): the camera
// shown in the page, its frames read for a QR code by the browser's BarcodeDetector where
// it reads QR codes, else by zxing-cpp built for WebAssembly (static/vendor/zxing-wasm-*,
// the reader the server uses for photos), loaded only then.
// A code read goes where a typed code or a photo would go, never anywhere else: a record
// code, bare or in this portal's /v/<code> address, to /lookup; any other web address to
// /verify/photo as the camera's picture, for the server to judge (another website's
// address is never followed: the server warns). Without a camera API the scan stays
// hidden; the photo form beside it is the fallback in every case.
// The texts, in the page's language, are the template's data-text-* attributes.
(function () {
  "use strict";

  var root = document.querySelector("[data-camera-scan]");
  if (!root || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  // A frame is read at most this often (ms): a phone keeps its battery, a code in view is
  // read within a fraction of a second.
  var READ_EVERY_MS = 200;
  // How long the camera looks for a code before saying none was found, unless the page
  // says otherwise (data-give-up-seconds).
  var GIVE_UP_SECONDS = 30;
  // A record code as printed or typed: 18 letters and digits, in groups of 6 or not.
  var RECORD_CODE = /^[0-9A-Za-z]{6}(-?[0-9A-Za-z]{6}){2}$/;
  // The record code in a record page's address: /v/<code>.
  var CODE_IN_PATH = /\/v\/([^/]+)\/?$/;

  var start = root.querySelector("[data-scan-start]");
  var stop = root.querySelector("[data-scan-stop]");
  var viewer = root.querySelector("[data-scan-viewer]");
  var video = viewer.querySelector("video");
  var status = root.querySelector("[data-scan-status]");
  var lookupForm = root.querySelector("form[data-scan-lookup]");
  var photoForm = root.querySelector("form[data-scan-photo]");
  var canvas = document.createElement("canvas");
  var drawing = canvas.getContext("2d", { willReadFrequently: true });

  var stream = null;
  var timer = null;
  var run = 0; // which start() a pending read belongs to: a stopped one is dropped
  var reader = null; // a promise of {name, read(canvas)}: chosen once, on the first start

  root.hidden = false;

  // Show one of the page's texts; an error is marked as one.
  function say(name, error) {
    status.textContent = name ? root.getAttribute("data-text-" + name) : "";
    status.classList.toggle("error", !!error);
  }

  // The browser's own reader, if it reads QR codes; else null.
  async function nativeReader() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      var formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.indexOf("qr_code") < 0) return null;
    } catch (e) {
      return null;
    }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return {
      name: "barcode-detector",
      read: async function (image) {
        return (await detector.detect(image)).map(function (code) {
          return code.rawValue;
        });
      },
    };
  }

  // A script of this site, loaded once.
  function load(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // zxing-cpp for WebAssembly, its .wasm fetched from this site (the library's own default
  // is a CDN).
  async function wasmReader() {
    await load(root.getAttribute("data-zxing-script"));
    var wasm = root.getAttribute("data-zxing-wasm");
    await window.ZXingWASM.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) {
          return path.endsWith(".wasm") ? wasm : prefix + path;
        },
      },
      fireImmediately: true,
    });
    return {
      name: "zxing-wasm",
      read: async function (image) {
        var pixels = drawing.getImageData(0, 0, image.width, image.height);
        var found = await window.ZXingWASM.readBarcodes(pixels, {
          formats: ["QRCode"],
          tryHarder: true,
          maxNumberOfSymbols: 4,
        });
        return found
          .filter(function (code) {
            return code.isValid;
          })
          .map(function (code) {
            return code.text;
          });
      },
    };
  }

  async function chooseReader() {
    return (await nativeReader()) || (await wasmReader());
  }

  // Where a code read goes: "lookup" with its record code, "server" (a web address the
  // server judges), or "not-ours".
  function destination(text) {
    var trimmed = text.trim();
    if (RECORD_CODE.test(trimmed)) return { to: "lookup", code: trimmed };
    var url;
    try {
      url = new URL(trimmed); // as the browser itself would read the address
    } catch (e) {
      return { to: "not-ours" };
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return { to: "not-ours" };
    var match = url.pathname.match(CODE_IN_PATH);
    if (url.origin === location.origin && match) {
      return { to: "lookup", code: decodeURIComponent(match[1]) };
    }
    return { to: "server" };
  }

  function stopCamera() {
    run += 1;
    clearTimeout(timer);
    timer = null;
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
    }
    video.srcObject = null;
    viewer.hidden = true;
    start.hidden = false;
    start.disabled = false;
  }

  // Stopped with a message; the focus goes back to the button that starts again.
  function giveUp(name) {
    var active = document.activeElement;
    var focused = !active || active === document.body || root.contains(active);
    stopCamera();
    say(name, true);
    if (focused) start.focus();
  }

  function problem(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "no-camera";
    return "unavailable";
  }

  // The camera's picture to /verify/photo, as a photo chosen in its form would be sent.
  function sendPicture() {
    canvas.toBlob(
      function (blob) {
        try {
          var files = new DataTransfer();
          files.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
          photoForm.elements.photo.files = files.files;
        } catch (e) {
          say("elsewhere", true); // a browser that cannot fill a file field
          return;
        }
        photoForm.submit();
      },
      "image/jpeg",
      0.92,
    );
  }

  // A code was read: told to whoever listens (data-reader names the reader), then sent on.
  function found(text, readerName) {
    var where = destination(text);
    if (where.to === "not-ours") return false;
    root.dispatchEvent(
      new CustomEvent("qr-read", { bubbles: true, detail: { text: text, reader: readerName } }),
    );
    stopCamera();
    if (where.to === "lookup") {
      say("found");
      lookupForm.elements.code.value = where.code;
      lookupForm.submit();
    } else {
      say("checking");
      sendPicture();
    }
    return true;
  }

  async function readFrames(mine, chosen, deadline) {
    if (mine !== run) return;
    if (Date.now() > deadline) {
      giveUp("timeout");
      return;
    }
    if (video.readyState >= 2 && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      drawing.drawImage(video, 0, 0);
      var texts = [];
      try {
        texts = await chosen.read(canvas);
      } catch (e) {
        texts = []; // a frame the reader could not take: the next one may do
      }
      if (mine !== run) return;
      for (var i = 0; i < texts.length; i++) {
        if (found(texts[i], chosen.name)) return;
      }
      if (texts.length) say("not-ours", true);
    }
    timer = setTimeout(readFrames, READ_EVERY_MS, mine, chosen, deadline);
  }

  async function begin() {
    stopCamera();
    var mine = run;
    start.disabled = true;
    say("starting");
    if (!reader) {
      reader = chooseReader();
      reader.catch(function () {
        reader = null; // tried again on the next start
      });
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
    } catch (e) {
      if (mine === run) giveUp(problem(e));
      return;
    }
    if (mine !== run) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      return;
    }
    video.srcObject = stream;
    // While the camera is on, its stop button stands where the start button was.
    var active = document.activeElement;
    var focused = !active || active === document.body || active === start;
    viewer.hidden = false;
    start.hidden = true;
    if (focused) stop.focus();
    var chosen;
    try {
      await video.play();
      chosen = await reader;
    } catch (e) {
      if (mine === run) giveUp("unavailable");
      return;
    }
    if (mine !== run) return;
    root.setAttribute("data-reader", chosen.name);
    say("scanning");
    var seconds = Number(root.getAttribute("data-give-up-seconds")) || GIVE_UP_SECONDS;
    readFrames(mine, chosen, Date.now() + seconds * 1000);
  }

  start.addEventListener("click", begin);
  stop.addEventListener("click", function () {
    stopCamera();
    say("");
    start.focus();
  });
  // The camera is never left on behind another page; back on this one, ready to start.
  window.addEventListener("pagehide", stopCamera);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) say("");
  });
})();

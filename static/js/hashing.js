// SHA-256 and SM3 of a File in the browser (hash-wasm, static/vendor), each in a Web Worker
// of its own: the two hashes run on two cores together and the page stays responsive.
// Loaded by a page (its <script> tag names the two hash-wasm files in data-sha256 and
// data-sm3), this file defines window.fileDigests; loaded as a worker (new Worker(its own
// URL), 'self' in the CSP), it hashes the slices the page sends it.
(function () {
  "use strict";

  // Bytes read and hashed at a time: the unit of progress and of memory.
  var SLICE = 2 << 20;
  // Slices each worker may hold (one being hashed, the next waiting for it). Memory stays
  // bounded whatever the file's size: 2 x DEPTH buffers of SLICE bytes, reused throughout.
  var DEPTH = 2;
  // A read of the file's byte stream that gives nothing for this long (ms) is given up and
  // the slice read again from a new stream: Chromium's can stall. Doubled at each retry.
  var STALL = 3000;
  // Each read of a byte stream leaves a little of Chromium's memory that only a full
  // garbage collection frees (about 20 MiB per GiB read), and reading alone never prompts
  // one. Every NUDGE_EVERY bytes read, a new ArrayBuffer of NUDGE bytes takes the place of
  // the last: V8 answers that much new memory with a collection. Its pages are never
  // written, so it costs no memory itself.
  var NUDGE_EVERY = 64 << 20;
  var NUDGE = 32 << 20;

  if (typeof document === "undefined") {
    hashInThisWorker();
    return;
  }

  var script = document.currentScript;
  var HASHES = [
    { name: "sha256", create: "createSHA256", script: script && script.dataset.sha256 },
    { name: "sm3", create: "createSM3", script: script && script.dataset.sm3 },
  ];
  var WORKER = script && script.src;

  // The worker: {script, create} loads hash-wasm and starts the hash; {buffer, length}
  // hashes those bytes and sends the buffer back; {} answers the digest. In order.
  function hashInThisWorker() {
    var hasher = null;
    var queue = Promise.resolve();
    self.onmessage = function (event) {
      var message = event.data;
      queue = queue
        .then(async function () {
          if (message.script) {
            importScripts(message.script);
            hasher = await self.hashwasm[message.create]();
            hasher.init();
          } else if (message.buffer) {
            hasher.update(new Uint8Array(message.buffer, 0, message.length));
            self.postMessage({ buffer: message.buffer, length: message.length }, [message.buffer]);
          } else {
            self.postMessage({ digest: hasher.digest("hex") });
          }
        })
        .catch(function (error) {
          self.postMessage({ error: String(error) });
        });
    };
  }

  // One hash's worker, its buffers (those back from the worker are filled again) and the
  // bytes it has hashed.
  function start(hash, hashed) {
    var worker = new Worker(WORKER);
    var h = { worker: worker, free: [], wake: null, hashed: 0 };
    for (var i = 0; i < DEPTH; i++) h.free.push(new ArrayBuffer(SLICE));
    var digest = {};
    h.digest = new Promise(function (resolve, reject) {
      digest.resolve = resolve;
      h.fail = reject;
    });
    h.digest.catch(function () {}); // awaited at the end, or through take()
    worker.onmessage = function (event) {
      var message = event.data;
      if (message.error) {
        h.fail(new Error(message.error));
      } else if (message.digest) {
        digest.resolve(message.digest);
      } else {
        h.free.push(message.buffer);
        h.hashed += message.length;
        hashed();
        if (h.wake) h.wake();
      }
    };
    worker.onerror = function (event) {
      h.fail(new Error(event.message || "worker failed"));
    };
    worker.postMessage({ script: hash.script, create: hash.create });
    return h;
  }

  // A free buffer of `h`, once its worker has given one back.
  async function take(h) {
    while (!h.free.length) {
      await Promise.race([
        new Promise(function (resolve) {
          h.wake = resolve;
        }),
        h.digest,
      ]);
    }
    h.wake = null;
    return h.free.pop();
  }

  // The next slice of the file into `buffer`: through its byte stream into the buffer
  // itself where the browser has one (nothing to collect afterwards), else a slice's copy.
  async function fill(source, buffer) {
    var offset = source.offset;
    if (!source.reader) {
      var bytes = new Uint8Array(await source.file.slice(offset, offset + SLICE).arrayBuffer());
      new Uint8Array(buffer).set(bytes);
      source.offset += bytes.length;
      return { buffer: buffer, length: bytes.length };
    }
    var length = 0;
    var patience = STALL;
    while (length < SLICE) {
      var timer = null;
      var read = await Promise.race([
        source.reader.read(new Uint8Array(buffer, length, SLICE - length)),
        new Promise(function (resolve) {
          timer = setTimeout(resolve, patience, null);
        }),
      ]);
      clearTimeout(timer);
      if (!read) {
        // Stalled: the buffer stays with that read; this slice again, from a new stream.
        source.reader.cancel().catch(function () {});
        source.reader = byteReader(source.file.slice(offset));
        buffer = new ArrayBuffer(SLICE);
        length = 0;
        patience *= 2;
        continue;
      }
      buffer = read.value ? read.value.buffer : new ArrayBuffer(SLICE);
      if (read.done) break;
      length += read.value.byteLength;
    }
    source.offset += length;
    if (source.offset >= source.nudgeAt) {
      source.nudgeAt += NUDGE_EVERY;
      source.nudge = new ArrayBuffer(NUDGE); // the one before is dropped
    }
    return { buffer: buffer, length: length };
  }

  function byteReader(blob) {
    try {
      return blob.stream().getReader({ mode: "byob" });
    } catch (error) {
      return null; // not a byte stream in this browser
    }
  }

  // {sha256, sm3} of a File, hex; `progress(done, total)` each time both have hashed more.
  window.fileDigests = async function (file, progress) {
    if (!WORKER || !window.Worker) throw new Error("no worker");
    var shown = 0;
    var hashers = [];
    var hashed = function () {
      var done = Math.min.apply(
        null,
        hashers.map(function (h) {
          return h.hashed;
        })
      );
      if (done > shown) progress((shown = done), file.size);
    };
    hashers = HASHES.map(function (hash) {
      return start(hash, hashed);
    });
    var source = { file: file, offset: 0, reader: byteReader(file), nudgeAt: NUDGE_EVERY };
    try {
      while (source.offset < file.size) {
        var read = await fill(source, await take(hashers[0]));
        if (!read.length) break;
        var buffers = [read.buffer];
        for (var i = 1; i < hashers.length; i++) {
          var copy = await take(hashers[i]);
          new Uint8Array(copy).set(new Uint8Array(read.buffer, 0, read.length));
          buffers.push(copy);
        }
        hashers.forEach(function (h, i) {
          h.worker.postMessage({ buffer: buffers[i], length: read.length }, [buffers[i]]);
        });
      }
      var digests = await Promise.all(
        hashers.map(function (h) {
          h.worker.postMessage({});
          return h.digest;
        })
      );
      var found = {};
      HASHES.forEach(function (hash, i) {
        found[hash.name] = digests[i];
      });
      return found;
    } finally {
      hashers.forEach(function (h) {
        h.worker.terminate();
      });
      if (source.reader) source.reader.cancel().catch(function () {});
    }
  };
})();

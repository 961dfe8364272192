// What the guest page and the host console share. A classic script loaded before each
// page's own: it defines the global Kanta.
"use strict";

// eslint-disable-next-line no-unused-vars
const Kanta = Object.freeze({
  // A size as people read it, written as Kanta writes it (kanta.caps.size_in_words): decimal
  // megabytes with one decimal ("60.0 MB"), gigabytes from 1000 MB, kB or bytes below 1 MB.
  sizeInWords(bytes) {
    for (const [unit, name] of [[1e9, "GB"], [1e6, "MB"], [1e3, "kB"]]) {
      if (bytes < unit) continue;
      // Python rounds an exact half to even and toFixed rounds it up: with one decimal they
      // differ only where the size is exactly n.25 units (Python n.2, toFixed n.3).
      const quarters = (bytes * 4) / unit;
      if (Number.isInteger(quarters) && quarters % 4 === 1) return `${(quarters - 1) / 4}.2 ${name}`;
      return `${(bytes / unit).toFixed(1)} ${name}`;
    }
    return `${bytes} bytes`;
  },

  // PUT `file` to its upload URL (`ticket`: an upload of POST …/uploads, with its method and
  // headers), calling onProgress(share 0–1) as it goes; resolves on 201, else rejects with
  // the HTTP status (0: no answer), which the caller turns into words and a retry.
  // XMLHttpRequest rather than fetch: fetch reports no upload progress. One helper for the
  // guest page and the host console, so both upload exactly alike.
  putBlob(ticket, file, onProgress = () => {}) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(ticket.method || "PUT", ticket.upload_url);
      for (const [name, value] of Object.entries(ticket.headers || {})) request.setRequestHeader(name, value);
      request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      request.addEventListener("load", () => (request.status === 201 ? resolve() : reject(request.status)));
      request.addEventListener("error", () => reject(0));
      request.send(file);
    });
  },
});

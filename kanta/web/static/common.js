// What the guest page and the host console share: calling Kanta's API and its errors, and
// uploading photos through upload URLs. A classic script loaded before each page's own: it
// defines the global Kanta.
"use strict";

// An answer of Kanta that is not a success: `status` (0: no answer at all), Kanta's stable
// error `code`, its `message` in words, and a validation_error's `details`
// ([{field, message, type}]). `serverMessage` is the message only when Kanta sent one (a 429's
// says the limit and when to try again).
class KantaApiError extends Error {
  constructor(status, body) {
    const said = (body && typeof body.message === "string" && body.message) || "";
    super(said || `Kanta answered ${status}.`);
    this.status = status;
    this.code = (body && typeof body.code === "string" && body.code) || "";
    this.serverMessage = said;
    this.details = (body && Array.isArray(body.details)) ? body.details : [];
  }
}

// eslint-disable-next-line no-unused-vars
const Kanta = Object.freeze({
  ApiError: KantaApiError,

  // A caller of Kanta's API under `base` (an absolute URL ending in "/" or not, as the page
  // joins paths to it). `headers()` gives each request's credentials (the guest token or the
  // host key, read when the call is made); `refused(status)` runs on 401 or 403 before the
  // error is thrown. The call resolves to the parsed JSON answer (null when empty) and
  // rejects with Kanta.ApiError. `body`: a plain object is sent as JSON; a Blob or File as
  // is, with `type` (else its own type) as its Content-Type.
  client(base, headers, refused = () => {}) {
    return async function call(path, { method = "GET", body, type } = {}) {
      const sent = { ...headers() };
      let payload = body;
      if (body !== undefined && !(body instanceof Blob)) {
        payload = JSON.stringify(body);
        sent["Content-Type"] = "application/json";
      } else if (body !== undefined) {
        sent["Content-Type"] = type || body.type || "application/octet-stream";
      }
      let response;
      try {
        response = await fetch(base + path, { method, headers: sent, body: payload, cache: "no-store" });
      } catch {
        throw new KantaApiError(0, { message: "Kanta cannot be reached. Check your connection and try again." });
      }
      const text = await response.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch { data = null; }
      if (response.status === 401 || response.status === 403) refused(response.status);
      if (!response.ok) throw new KantaApiError(response.status, data);
      return data;
    };
  },

  // Show `error` (its message, and each problem of a validation_error) in the live region
  // `box`; null empties it.
  showError(box, error) {
    box.replaceChildren();
    if (!error) return;
    const message = document.createElement("p");
    message.textContent = error.message;
    box.append(message);
    if (error.details && error.details.length) {
      const list = document.createElement("ul");
      for (const detail of error.details) {
        const item = document.createElement("li");
        item.textContent = detail.field ? `${detail.field}: ${detail.message}` : detail.message;
        list.append(item);
      }
      box.append(list);
    }
  },

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

  // Files per request for upload URLs: the most POST …/uploads takes.
  UPLOAD_BATCH: 50,

  // `items` in consecutive slices of at most UPLOAD_BATCH.
  batches(items) {
    const slices = [];
    const size = this.UPLOAD_BATCH;
    for (let start = 0; start < items.length; start += size) slices.push(items.slice(start, start + size));
    return slices;
  },

  // Ask `call` (a Kanta.client) at the upload-URL route `path` for one upload URL per file of
  // `files` (at most UPLOAD_BATCH), declaring each file's name, type and size in bytes: the
  // tickets, in the files' order. Rejects with Kanta.ApiError (a 422's details name the file
  // as "files.<i>.…"; a 429 says which limit and when).
  async requestUploads(call, path, files) {
    const described = files.map((file) => ({ filename: file.name, content_type: file.type, size_bytes: file.size }));
    return (await call(path, { method: "POST", body: { files: described } })).uploads;
  },

  // Send `file` to its `ticket`, its progress shown in `progress` (a <progress> with max 100).
  // Resolves once the photo is in storage: sent now, or sent by an earlier try whose answer
  // was lost (an upload URL creates its blob once, so a still-valid URL refusing with 403
  // means it already did). Rejects with {status, expired}: the PUT's HTTP status (0: no
  // answer) and whether the URL is out of time (then only a new URL can send the file).
  async sendFile(ticket, file, progress) {
    try {
      await this.putBlob(ticket, file, (share) => { progress.value = Math.round(share * 100); });
    } catch (status) {
      // Ten seconds' margin: a URL that expires as the PUT goes counts as expired.
      const expired = !(Date.parse(ticket.expires_at) > Date.now() + 10_000);
      if (status !== 403 || expired) throw { status, expired };
    }
    progress.value = 100;
  },

  // PUT `file` to its upload URL (`ticket`: an upload of POST …/uploads, with its method and
  // headers), calling onProgress(share 0–1) as it goes; resolves on 201, else rejects with
  // the HTTP status (0: no answer), which the caller turns into words and a retry.
  // XMLHttpRequest rather than fetch: fetch reports no upload progress. One helper for the
  // guest page and the host console, so both upload exactly alike.
  putBlob(ticket, file, onProgress) {
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

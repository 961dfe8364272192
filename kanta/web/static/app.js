// Kanta's guest page: join an event, upload photos straight to storage, find my photos by
// selfie, forget my face. Plain browser JavaScript (no build step, no library).
//
// The page is /api/join/{code}#t={token}. The token stays in the URL fragment, which the
// browser never sends to a server, and goes to the guest routes in an Authorization header.
"use strict";

(() => {
  const code = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
  const token = new URLSearchParams(location.hash.slice(1)).get("t") || "";
  const base = new URL(`../guest/events/${encodeURIComponent(code)}`, location.href).href;
  // Statuses of an upload's photo while it is not finished.
  const UNFINISHED = new Set(["pending", "indexing"]);
  // How often (ms) and how long (ms) the page asks for an upload's indexing status.
  const POLL_MS = 1500;
  const POLL_FOR_MS = 10 * 60 * 1000;
  const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
  const NO_MATCH_HINT = "Try a selfie in good light, facing the camera, without sunglasses. " +
    "Photos added in the last few minutes may still be being indexed: try again shortly.";

  const $ = (id) => document.getElementById(id);
  let eventInfo = null;

  // ---------------------------------------------------------------- talking to Kanta

  // Call the guest route at `base + path` with the link's token (Kanta.client).
  const call = Kanta.client(base, () => ({ Authorization: `Bearer ${token}` }));

  function showNotice(message) {
    const notice = $("notice");
    notice.textContent = message;
    notice.hidden = false;
  }

  function tokenProblem(error) {
    if (error.status === 401) {
      return "This link no longer works: it has expired or the host replaced it. " +
        "Ask the host for the event's current QR code or link.";
    }
    if (error.status === 404) return "There is no such event. Check that you opened the whole link.";
    if (error.status === 429) {
      return error.serverMessage || "Too many requests from this link just now. Wait a little and try again.";
    }
    return error.message;
  }

  const { sizeInWords } = Kanta;

  // The largest photo the event takes (bytes), or null when the server did not say.
  function maxPhotoBytes() {
    const limit = eventInfo && eventInfo.max_photo_bytes;
    return Number.isInteger(limit) && limit > 0 ? limit : null;
  }

  // ---------------------------------------------------------------- joining

  function formatWhen(startsAt, endsAt) {
    const format = (value) => new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    if (startsAt && endsAt) return `${format(startsAt)} – ${format(endsAt)}`;
    if (startsAt) return `From ${format(startsAt)}`;
    if (endsAt) return `Until ${format(endsAt)}`;
    return "";
  }

  async function join() {
    if (!code || !token) {
      showNotice("This page needs the whole link from the event's QR code (the part after # is missing). " +
        "Scan the QR code again or ask the host for the link.");
      return;
    }
    try {
      eventInfo = await call("");
    } catch (error) {
      showNotice(tokenProblem(error));
      return;
    }
    document.title = `${eventInfo.name || eventInfo.code} – photos`;
    $("event-name").textContent = eventInfo.name || eventInfo.code;
    $("event-when").textContent = formatWhen(eventInfo.starts_at, eventInfo.ends_at);
    $("event-description").textContent = eventInfo.description || "";
    const until = eventInfo.retention_ends_at
      ? ` This event's face data is deleted on ${new Date(eventInfo.retention_ends_at).toLocaleDateString(undefined, { dateStyle: "long" })}.`
      : "";
    $("privacy").textContent = eventInfo.privacy + until;
    $("consent-text").textContent = eventInfo.consent_text;
    $("join").hidden = false;
    const rights = eventInfo.rights;
    $("upload").hidden = !rights.upload;
    if (maxPhotoBytes()) {
      $("upload-hint").textContent = "Photos go straight to the event's storage. JPEG, PNG or WebP, " +
        `up to ${sizeInWords(maxPhotoBytes())} each.`;
    }
    $("find").hidden = !(rights.find_me && eventInfo.face_search);
    $("forget").hidden = !rights.find_me;
    $("gallery").hidden = !rights.gallery;
    if (rights.gallery) loadGallery(0);
  }

  // ---------------------------------------------------------------- uploading

  function uploadRow(file) {
    const row = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const state = document.createElement("span");
    state.className = "state";
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", `Upload of ${file.name}`);
    row.append(name, state, progress);
    $("uploads").append(row);
    return {
      row, progress,
      set(text, kind = "") { state.textContent = text; state.className = `state ${kind}`; },
      retry(action) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = "Retry";
        button.setAttribute("aria-label", `Retry ${file.name}`);
        button.addEventListener("click", () => { button.remove(); action(); });
        row.append(button);
      },
    };
  }

  async function follow(ticket, ui) {
    const until = Date.now() + POLL_FOR_MS;
    while (Date.now() < until) {
      let status;
      try {
        status = await call(`/uploads/${ticket.image_id}`);
      } catch (error) {
        if (error.status === 401 || error.status === 404) { ui.set(tokenProblem(error), "failed"); return; }
        status = null; // a blip: ask again
      }
      if (status && status.status === "processed") {
        ui.set("Added", "ok");
        if (!$("gallery").hidden) refreshGallery();
        return;
      }
      if (status && status.status === "failed") {
        ui.set(`Not added: ${status.failure_reason || "the photo could not be read."}`, "failed");
        return;
      }
      if (status) ui.set(status.status === "indexing" ? "Looking for faces…" : "Waiting to be indexed…");
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    ui.set("Still being indexed. It will appear later.");
  }

  async function send(ticket, file, ui) {
    ui.set("Uploading…");
    try {
      await Kanta.sendFile(ticket, file, ui.progress);
    } catch ({ status, expired }) {
      ui.set(status === 403 ? "The upload link expired." : "Upload failed.", "failed");
      // Again to the same URL while it is valid (the photo keeps its place); else a new one.
      ui.retry(() => (expired ? upload([file], [ui]) : send(ticket, file, ui)));
      return;
    }
    await follow(ticket, ui);
  }

  // The upload status area: what concerns a whole request (a limit reached), said once
  // rather than on every file's row.
  function uploadStatus(message) {
    $("upload-status").textContent = message;
  }

  async function upload(files, rows) {
    const wanted = [];
    const limit = maxPhotoBytes();
    files.forEach((file, i) => {
      const ui = rows ? rows[i] : uploadRow(file);
      if (!TYPES.has(file.type)) {
        ui.set("Not added: only JPEG, PNG or WebP photos can be uploaded.", "failed");
      } else if (file.size === 0) {
        ui.set(`Not added: ${file.name} is empty.`, "failed");
      } else if (limit !== null && file.size > limit) {
        // Refused here, as the server would refuse it: its bytes and size are never sent.
        ui.set(`Not added: ${file.name} is ${sizeInWords(file.size)}; a photo may be at most ${sizeInWords(limit)}.`,
          "failed");
      } else {
        ui.set("Preparing…");
        wanted.push([file, ui]);
      }
    });
    for (const batch of Kanta.batches(wanted)) await requestUrls(batch);
  }

  // Ask for the upload URLs of `batch` ([file, row] pairs), then send each file to its own.
  async function requestUrls(batch) {
    let tickets;
    try {
      tickets = await Kanta.requestUploads(call, "/uploads", batch.map(([file]) => file));
    } catch (error) {
      await refused(batch, error);
      return;
    }
    uploadStatus("");
    await Promise.all(batch.map(([file, ui], i) => send(tickets[i], file, ui)));
  }

  // The server gave `batch` no upload URLs: say why, where it belongs.
  async function refused(batch, error) {
    const retryEach = (text, pairs = batch) => {
      for (const [file, ui] of pairs) {
        ui.set(text, "failed");
        ui.retry(() => upload([file], [ui]));
      }
    };
    if (error.status === 401) {
      for (const [, ui] of batch) ui.set(tokenProblem(error), "failed");
      return;
    }
    if (error.status === 429) {
      // A cap or byte budget of the link or the event: the server's message says which and
      // when to try again.
      uploadStatus(tokenProblem(error));
      retryEach("Not sent: too many uploads just now. Try again later.");
      return;
    }
    if (error.status === 422 && error.details.length) {
      // Problems of one file (field "files.<i>.…") go on its row; that file is not added.
      const perFile = new Map();
      const general = [];
      for (const detail of error.details) {
        const index = /^files\.(\d+)(\.|$)/.exec(String(detail.field || ""));
        const i = index ? Number(index[1]) : -1;
        if (i >= 0 && i < batch.length) perFile.set(i, [...(perFile.get(i) || []), detail.message]);
        else general.push(detail.message);
      }
      batch.forEach(([, ui], i) => {
        if (perFile.has(i)) ui.set(`Not added: ${perFile.get(i).join(" ")}`, "failed");
      });
      const others = batch.filter((_, i) => !perFile.has(i));
      if (general.length) {
        uploadStatus(general.join(" "));
        retryEach("Not sent: see the message above.", others);
        return;
      }
      // The other files were refused only along with those: ask again without them.
      if (others.length) await requestUrls(others);
      return;
    }
    retryEach(`Not sent: ${error.message}`);
  }

  function onFiles(input) {
    input.addEventListener("change", () => {
      const files = Array.from(input.files || []);
      input.value = "";
      if (files.length) upload(files);
    });
  }

  // ---------------------------------------------------------------- photos: grid, viewer, download

  async function download(url, name) {
    // Fetched first: a link's download attribute is ignored for another origin's URL. Not
    // from the HTTP cache: the <img> that showed the photo cached it without CORS headers,
    // and a CORS fetch given that copy fails.
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error("download failed");
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  function fileName(photo, contentType) {
    const ext = { "image/png": "png", "image/webp": "webp" }[contentType] || "jpg";
    return `${code}-${photo.image_id}.${ext}`;
  }

  function openViewer(photo) {
    const viewer = $("viewer");
    $("viewer-image").src = photo.url;
    $("viewer-image").alt = "Photo from the event";
    $("viewer-download").onclick = () => download(photo.url, fileName(photo)).catch(() => {
      $("find-status").textContent = "The photo could not be downloaded; try again.";
    });
    viewer.showModal();
  }

  function tile(photo, imageUrl, label) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", label);
    const img = document.createElement("img");
    img.src = imageUrl;
    img.alt = "";
    img.loading = "lazy";
    button.append(img);
    button.addEventListener("click", () => openViewer(photo));
    item.append(button);
    return item;
  }

  // ---------------------------------------------------------------- find my photos

  let found = [];

  async function find(file) {
    const status = $("find-status");
    const results = $("results");
    results.replaceChildren();
    $("results-actions").hidden = true;
    if (!$("consent").checked) {
      status.textContent = "Please tick the box to agree first: your selfie is only used with your consent.";
      return;
    }
    status.textContent = "Looking for you in the event's photos…";
    let answer;
    try {
      answer = await call("/search?consent=true", { method: "POST", body: file });
    } catch (error) {
      status.textContent = [401, 404, 429].includes(error.status) ? tokenProblem(error) : error.message;
      return;
    }
    found = answer.photos;
    if (!found.length) {
      status.textContent = `${answer.message || "No photos of you were found."} ${NO_MATCH_HINT}`;
      return;
    }
    status.textContent = found.length === 1 ? "You are in 1 photo." : `You are in ${found.length} photos.`;
    found.forEach((photo, i) => results.append(tile(photo, photo.thumbnail_url, `Open photo ${i + 1} of ${found.length}`)));
    $("results-actions").hidden = false;
  }

  async function downloadAll() {
    const status = $("find-status");
    for (const [i, photo] of found.entries()) {
      status.textContent = `Downloading ${i + 1} of ${found.length}…`;
      try { await download(photo.url, fileName(photo)); } catch {
        status.textContent = "Some photos could not be downloaded; search again to get fresh links.";
        return;
      }
    }
    status.textContent = `Downloaded ${found.length} photo(s).`;
  }

  // ---------------------------------------------------------------- gallery

  let galleryTimer = null;

  // Show the gallery again from the start, once a burst of finished uploads has settled.
  function refreshGallery() {
    clearTimeout(galleryTimer);
    galleryTimer = setTimeout(() => { $("gallery-items").replaceChildren(); loadGallery(0); }, 1000);
  }

  async function loadGallery(offset) {
    const more = $("gallery-more");
    more.hidden = true;
    try {
      const page = await call(`/images?limit=60&offset=${offset}`);
      page.items.forEach((photo) => $("gallery-items").append(tile(photo, photo.url, "Open photo")));
      if (page.next_offset !== null) {
        more.hidden = false;
        more.onclick = () => loadGallery(page.next_offset);
      }
    } catch (error) {
      $("gallery-items").replaceChildren();
      const item = document.createElement("li");
      item.textContent = error.message;
      $("gallery-items").append(item);
    }
  }

  // ---------------------------------------------------------------- forget my face

  async function forget(file) {
    const status = $("forget-status");
    if (!$("forget-confirm").checked) {
      status.textContent = "Please tick the box to confirm first.";
      return;
    }
    status.textContent = "Erasing…";
    try {
      const answer = await call("/forget?confirm=true", { method: "POST", body: file });
      status.textContent = answer.erased
        ? `Done: ${answer.erased} face(s) of yours were erased, and photos added later will not keep yours.`
        : "No face of yours was found in this event's photos; photos added later will not keep yours.";
      $("results").replaceChildren();
      $("results-actions").hidden = true;
      found = [];
    } catch (error) {
      status.textContent = [401, 404, 429].includes(error.status) ? tokenProblem(error) : error.message;
    }
  }

  // ---------------------------------------------------------------- wiring

  function onSelfie(inputId, action) {
    const input = $(inputId);
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = "";
      if (file) action(file);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    onFiles($("pick-photos"));
    onFiles($("take-photo"));
    onSelfie("selfie", find);
    onSelfie("forget-selfie", forget);
    $("download-all").addEventListener("click", downloadAll);
    $("viewer-close").addEventListener("click", () => $("viewer").close());
    join();
  });
})();

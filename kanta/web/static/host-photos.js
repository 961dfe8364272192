// The host console's photos view (see host.js: KantaHost): an event's photos page by page
// with a status filter, its indexing progress while the host watches, uploads from the
// console (through Kanta.requestUploads and Kanta.sendFile, as the guest page uploads), delete and "Index again".
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  // Photos per page of the grid.
  const PAGE = 50;
  // How often (ms) the view asks again while photos of the event are still being indexed.
  const POLL_MS = 3000;
  // The API's limit of items per list page (for the counts).
  const COUNT_PAGE = 200;
  const STATUSES = ["processed", "indexing", "pending", "failed"];
  const IN_WORDS = { pending: "Waiting", indexing: "Indexing", processed: "Added", failed: "Not added" };

  let current = null; // the event shown, or null when the view is closed
  let offset = 0;
  let nextOffset = null;
  let timer = null;
  let deleting = null; // the photo the delete dialog is about
  let uploading = 0; // files being sent: keep polling until each is in the list

  const H = () => window.KantaHost;
  // The API path of the event's `what` (images, uploads).
  const path = (event, what = "images") => `events/${encodeURIComponent(event.code)}/${what}`;

  function showStatus(error) { H().showError($("photos-status"), error); }
  // A refused key already signed the host out (host.js): nothing more to say here.
  const keyRefused = (error) => error.status === 401 || error.status === 403;

  // ---------------------------------------------------------------- opening and closing

  function open(event) {
    if (!current || current.code !== event.code) {
      offset = 0;
      $("photos-filter").value = "";
      $("photo-uploads").replaceChildren();
    }
    current = event;
    $("photos-title").textContent = `Photos of ${H().title(event)}`;
    showStatus(null);
    H().showView("photos", event);
    refresh();
    $("add-photos").focus();
  }

  // `quietly`: the host signed out; nothing to reload or focus.
  function close(quietly = false) {
    current = null;
    stopPolling();
    $("photos").hidden = true;
    $("photo-grid").replaceChildren();
    $("photo-uploads").replaceChildren();
    $("photos-progress").textContent = "";
    if ($("confirm-photo").open) $("confirm-photo").close();
    if (quietly === true) return;
    // The list's photo counts may have changed while the view was open.
    H().reloadEvents();
    const back = document.querySelector("#event-list button");
    if (back) back.focus();
  }

  function stopPolling() {
    clearTimeout(timer);
    timer = null;
  }

  // ---------------------------------------------------------------- grid and progress

  // The page shown and the counts; polls again while photos are waiting or being indexed.
  async function refresh() {
    stopPolling();
    const event = current;
    if (!event) return;
    let counts;
    try {
      [counts] = await Promise.all([countAll(event), loadPage(event)]);
    } catch (error) {
      if (current === event && !keyRefused(error)) showStatus(error);
      return;
    }
    if (current !== event) return;
    showProgress(counts);
    if (counts.pending + counts.indexing > 0 || uploading > 0) timer = setTimeout(refresh, POLL_MS);
  }

  // How many photos of the event are in each status: the list of each status, counted.
  async function countAll(event) {
    const counts = {};
    await Promise.all(STATUSES.map(async (status) => {
      let n = 0;
      let at = 0;
      while (at !== null) {
        const page = await H().call(`${path(event)}?limit=${COUNT_PAGE}&offset=${at}&status=${status}`);
        n += page.items.length;
        at = page.next_offset;
      }
      counts[status] = n;
    }));
    return counts;
  }

  function showProgress(counts) {
    const total = STATUSES.reduce((sum, s) => sum + counts[s], 0);
    if (!total) {
      $("photos-progress").textContent = "No photos yet: add some with Add photos.";
      return;
    }
    const parts = [`${counts.processed} added`];
    if (counts.indexing) parts.push(`${counts.indexing} indexing`);
    if (counts.pending) parts.push(`${counts.pending} waiting`);
    if (counts.failed) parts.push(`${counts.failed} not added`);
    $("photos-progress").textContent = `${parts.join(", ")}.`;
  }

  async function loadPage(event) {
    const status = $("photos-filter").value;
    const page = await H().call(`${path(event)}?limit=${PAGE}&offset=${offset}${status ? `&status=${status}` : ""}`);
    if (current !== event) return;
    // Rebuilt only when something changed: a poll must not move the focus of a host on a tile.
    const key = JSON.stringify(page.items.map((p) => [p.image_id, p.status, p.face_count, Boolean(p.url)]));
    const grid = $("photo-grid");
    if (grid.dataset.key !== key) {
      const focused = document.activeElement && grid.contains(document.activeElement)
        ? document.activeElement.getAttribute("aria-label") : null;
      grid.replaceChildren(...page.items.map(tile));
      grid.dataset.key = key;
      if (focused) {
        const again = [...grid.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused);
        if (again) again.focus();
      }
    }
    nextOffset = page.next_offset;
    const first = page.items.length ? offset + 1 : 0;
    const last = offset + page.items.length;
    $("photos-page").textContent = page.items.length
      ? (first === last ? `Photo ${first}.` : `Photos ${first}–${last}.`)
      : (offset ? "No more photos." : (status ? "No photos with this status." : ""));
    $("photos-previous").disabled = offset === 0;
    $("photos-next").disabled = nextOffset === null;
  }

  function tile(photo) {
    const name = photo.original_filename || `Photo ${photo.image_id}`;
    const item = document.createElement("li");
    item.dataset.imageId = photo.image_id;
    item.dataset.status = photo.status;
    let picture;
    if (photo.url) {
      picture = document.createElement("img");
      picture.src = photo.url;
      picture.alt = name;
      picture.loading = "lazy";
    } else {
      // No read URL until the photo is indexed: a placeholder saying so.
      picture = document.createElement("div");
      picture.className = "photo-none";
      picture.textContent = photo.status === "failed" ? "No photo" : "Not indexed yet";
    }
    const title = document.createElement("p");
    title.className = "photo-name";
    title.textContent = name;
    const state = document.createElement("p");
    state.className = `photo-status${photo.status === "failed" ? " failed" : ""}`;
    state.textContent = photo.status === "failed"
      ? `Not added: ${photo.failure_reason || "the photo could not be read."}`
      : IN_WORDS[photo.status] || photo.status;
    item.append(picture, title, state);
    if (photo.status === "processed") {
      const faces = document.createElement("p");
      faces.className = "photo-faces";
      faces.textContent = H().count(photo.face_count, "face", "faces");
      item.append(faces);
    }
    const actions = document.createElement("div");
    actions.className = "buttons";
    if (photo.status === "failed") {
      actions.append(H().button("Index again", `Index again ${name}`, "secondary", () => reindex(photo, name)));
    }
    actions.append(H().button("Delete", `Delete ${name}`, "danger", () => askDelete(photo, name)));
    item.append(actions);
    return item;
  }

  // ---------------------------------------------------------------- delete and index again

  function askDelete(photo, name) {
    deleting = { photo, name };
    $("photo-delete-title").textContent = `Delete ${name}?`;
    $("photo-delete-loss").textContent = `This deletes ${name}, its faces and their crops from storage and the ` +
      "database. It cannot be undone.";
    H().showError($("photo-delete-status"), null);
    $("confirm-photo").showModal();
    $("photo-delete-cancel").focus();
  }

  async function confirmDelete(submitted) {
    submitted.preventDefault();
    const { photo, name } = deleting;
    try {
      await H().call(`images/${encodeURIComponent(photo.image_id)}`, { method: "DELETE" });
    } catch (error) {
      if (!keyRefused(error)) H().showError($("photo-delete-status"), error);
      return;
    }
    $("confirm-photo").close();
    deleting = null;
    showStatus(null);
    $("photos-page").textContent = `Deleted ${name}.`;
    await refresh();
    $("add-photos").focus();
  }

  async function reindex(photo, name) {
    showStatus(null);
    try {
      await H().call(`images/${encodeURIComponent(photo.image_id)}/reindex`, { method: "POST" });
    } catch (error) {
      // 409 image_not_uploaded: Kanta's message says the file was refused and removed.
      if (!keyRefused(error)) showStatus(error);
      return;
    }
    $("photos-page").textContent = `Indexed ${name} again.`;
    refresh();
  }

  // ---------------------------------------------------------------- uploading

  function uploadRow(file) {
    const row = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const state = document.createElement("span");
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", `Upload of ${file.name}`);
    row.append(name, state, progress);
    $("photo-uploads").append(row);
    return { progress, set(text, failed = false) { state.textContent = text; state.className = failed ? "error" : ""; } };
  }

  async function upload(files) {
    const event = current;
    const rows = files.map((file) => [file, uploadRow(file)]);
    uploading += files.length;
    try {
      for (const batch of Kanta.batches(rows)) await sendBatch(event, batch);
    } finally {
      uploading -= files.length;
    }
    if (current === event) refresh();
  }

  async function sendBatch(event, batch) {
    for (const [, ui] of batch) ui.set("Preparing…");
    let tickets;
    try {
      tickets = await Kanta.requestUploads(H().call, path(event, "uploads"),
        batch.map(([file]) => file));
    } catch (error) {
      if (keyRefused(error)) return;
      showStatus(error);
      for (const [, ui] of batch) ui.set("Not sent: see the message below.", true);
      return;
    }
    // The photos exist (waiting) from now on: show them while their bytes go up.
    if (current === event) refresh();
    await Promise.all(batch.map(async ([file, ui], i) => {
      ui.set("Uploading…");
      try {
        await Kanta.sendFile(tickets[i], file, ui.progress);
      } catch ({ status }) {
        ui.set(status === 403 ? "Not sent: the upload link expired. Add the photo again." :
          "Not sent: the upload failed. Add the photo again.", true);
        return;
      }
      ui.set("Uploaded: see its status below.");
    }));
  }

  // ---------------------------------------------------------------- wiring

  window.KantaHost.openPhotos = open;
  window.KantaHost.closers.photos = () => close(true);

  document.addEventListener("DOMContentLoaded", () => {
    $("close-photos").addEventListener("click", () => close());
    $("photos-filter").addEventListener("change", () => { offset = 0; refresh(); });
    $("photos-previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
    $("photos-next").addEventListener("click", () => { if (nextOffset !== null) { offset = nextOffset; refresh(); } });
    $("photo-delete-form").addEventListener("submit", confirmDelete);
    $("photo-delete-cancel").addEventListener("click", () => $("confirm-photo").close());
    $("add-photos").addEventListener("change", () => {
      const input = $("add-photos");
      const files = Array.from(input.files || []);
      input.value = "";
      if (files.length && current) upload(files);
    });
    // Signing out (host.js) hides the events list, and the people view hides this one when
    // it opens: either way this view is closed, and its polling stops.
    const closedElsewhere = () => { if (current && ($("events").hidden || $("photos").hidden)) close(true); };
    const observer = new MutationObserver(closedElsewhere);
    for (const id of ["events", "photos"]) observer.observe($(id), { attributes: true, attributeFilter: ["hidden"] });
  });
})();

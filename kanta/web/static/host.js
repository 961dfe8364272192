// Kanta's host console: sign in with the host key, list, create, edit and delete events,
// create, show and revoke an event's guest link with its QR code and poster. Plain browser
// JavaScript (no build step, no library).
//
// The page is /api/host. The key lives in this tab's sessionStorage and goes to the API in
// the x-functions-key header only, never in a URL (a URL ends up in logs and history).
"use strict";

(() => {
  const KEY_ITEM = "kanta.hostKey";
  // Events per page of the list.
  const PAGE = 10;
  const WRONG_KEY = "This key is not the event host's key.";
  const apiBase = new URL("./", location.href).href;

  const $ = (id) => document.getElementById(id);
  let offset = 0;
  let events = new Map(); // code → event, the page shown
  let editing = null; // the event being edited, or null when creating one
  let linkEvent = null; // the event whose guest link is shown
  let deleting = null;

  // ---------------------------------------------------------------- talking to Kanta

  // Call the API at `path` (relative to /api/) with the host key (Kanta.client). A refused
  // key signs the host out, and the error says why.
  const api = Kanta.client(apiBase, () => ({ "x-functions-key": sessionStorage.getItem(KEY_ITEM) || "" }),
    () => signOut(WRONG_KEY));

  async function call(path, options) {
    try {
      return await api(path, options);
    } catch (error) {
      if (error.status === 401 || error.status === 403) throw new Kanta.ApiError(error.status, { message: WRONG_KEY });
      throw error;
    }
  }

  const { showError } = Kanta;

  // ---------------------------------------------------------------- words

  const { sizeInWords } = Kanta;

  const when = (value) => new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const title = (event) => event.name || event.code;

  function dates(event) {
    if (event.starts_at && event.ends_at) return `${when(event.starts_at)} – ${when(event.ends_at)}`;
    if (event.starts_at) return `From ${when(event.starts_at)}`;
    if (event.ends_at) return `Until ${when(event.ends_at)}`;
    return "No dates";
  }

  // An API time as a datetime-local input's value (the browser's time zone), and back.
  function toLocalInput(value) {
    if (!value) return "";
    const d = new Date(value);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  const fromLocalInput = (value) => (value ? new Date(value).toISOString() : null);

  // ---------------------------------------------------------------- signing in and out

  // ---------------------------------------------------------------- one view of an event at a time

  // Each view's closer, called quietly (no focus moved, nothing reloaded) when another view
  // opens or the host signs out: the photos view stops watching progress, dialogs close.
  const closers = {
    editor: () => closeEditor(),
    link: () => forgetLink(),
    photos: () => { $("photos").hidden = true; },
    people: () => { $("people").hidden = true; },
  };

  let viewEvent = null;  // the event the open view is about (null: none, or a new event)

  // Shows view `id` (a section's id, or null for none) about `event` and closes every other
  // view that is open.
  function showView(id, event = null) {
    for (const [other, closeQuietly] of Object.entries(closers)) {
      if (other !== id && !$(other).hidden) closeQuietly();
    }
    viewEvent = id ? event : null;
    if (id) $(id).hidden = false;
  }

  function showSignedIn(signedIn) {
    $("signin").hidden = signedIn;
    $("sign-out").hidden = !signedIn;
    $("events").hidden = !signedIn;
    if (!signedIn) {
      showView(null);
      closePoster();
      if ($("confirm-delete").open) $("confirm-delete").close();
    }
  }

  function signOut(message = "") {
    sessionStorage.removeItem(KEY_ITEM);
    events = new Map();
    $("event-list").replaceChildren();
    forgetLink();
    showSignedIn(false);
    $("signin-status").textContent = message;
    $("host-key").value = "";
  }

  async function signIn(event) {
    event.preventDefault();
    const key = $("host-key").value.trim();
    if (!key) {
      $("signin-status").textContent = "Enter the host key.";
      return;
    }
    sessionStorage.setItem(KEY_ITEM, key);
    $("signin-status").textContent = "";
    offset = 0;
    if (await loadEvents()) {
      showSignedIn(true);
      $("host-key").value = "";
      $("new-event").focus();
    }
  }

  // ---------------------------------------------------------------- events

  // Show the page of events at `offset`; false when the key was refused.
  async function loadEvents() {
    const status = $("events-status");
    let page;
    try {
      page = await call(`events?limit=${PAGE}&offset=${offset}`);
    } catch (error) {
      if (error.status === 401 || error.status === 403) return false;
      status.textContent = error.message;
      return true;
    }
    events = new Map(page.items.map((e) => [e.code, e]));
    $("event-list").replaceChildren(...page.items.map(eventItem));
    const first = page.items.length ? offset + 1 : 0;
    const last = offset + page.items.length;
    status.textContent = page.items.length
      ? `${first === last ? `Event ${first}` : `Events ${first}–${last}`}, newest first.`
      : (offset ? "No more events." : "No events yet: create one with New event.");
    $("page-previous").disabled = offset === 0;
    $("page-next").disabled = page.next_offset === null;
    $("page-next").dataset.offset = page.next_offset ?? "";
    return true;
  }

  function button(text, label, kind, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    if (kind) b.className = kind;
    b.addEventListener("click", action);
    return b;
  }

  function eventItem(event) {
    const item = document.createElement("li");
    item.dataset.code = event.code;
    const heading = document.createElement("h3");
    heading.textContent = title(event);
    const facts = document.createElement("dl");
    const sizes = event.stored_bytes;
    for (const [term, value] of [
      ["Code", event.code],
      ["When", dates(event)],
      ["Photos", String(event.image_count)],
      ["Faces", String(event.face_count)],
      ["Stored", `${sizeInWords(sizes.total)} (photos ${sizeInWords(sizes.photos)}, face crops ${sizeInWords(sizes.thumbnails)})`],
      ["People grouped", event.last_clustered_at ? when(event.last_clustered_at) : "Not yet"],
    ]) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      facts.append(dt, dd);
    }
    const actions = document.createElement("div");
    actions.className = "buttons";
    const name = title(event);
    actions.append(
      button("Guest link", `Guest link of ${name}`, "", () => openLink(event)),
      button("Photos", `Photos of ${name}`, "secondary", () => KantaHost.openPhotos(event)),
      button("People", `People of ${name}`, "secondary", () => KantaHost.openPeople(event)),
      button("Edit", `Edit ${name}`, "secondary", () => openEditor(event)),
      button("Delete", `Delete ${name}`, "danger", () => askDelete(event)),
    );
    item.append(heading, facts, actions);
    return item;
  }

  function openEditor(event) {
    editing = event || null;
    const form = $("event-form");
    form.reset();
    $("editor-title").textContent = event ? `Edit ${title(event)}` : "New event";
    $("save-event").textContent = event ? "Save changes" : "Create event";
    $("f-code").readOnly = Boolean(event);
    $("f-code").value = event ? event.code : "";
    $("f-name").value = event ? event.name || "" : "";
    $("f-description").value = event ? event.description || "" : "";
    $("f-starts").value = event ? toLocalInput(event.starts_at) : "";
    $("f-ends").value = event ? toLocalInput(event.ends_at) : "";
    $("f-face-search").checked = event ? event.face_search : true;
    $("f-retention").value = event ? event.retention_days ?? "" : "30";
    $("f-retention-photos").checked = event ? event.retention_deletes_photos : false;
    // The default consent text is Kanta's: leave it empty so it stays the default.
    $("f-consent").value = event && !event.consent_text_is_default ? event.consent_text || "" : "";
    showError($("editor-status"), null);
    showView("editor", event);
    (event ? $("f-name") : $("f-code")).focus();
  }

  function closeEditor() {
    $("editor").hidden = true;
    editing = null;
  }

  // The form as an API body: empty text and times are null (on an edit: clears them).
  function formBody() {
    const text = (id) => $(id).value.trim() || null;
    const days = $("f-retention").value.trim();
    const body = {
      name: text("f-name"),
      description: text("f-description"),
      starts_at: fromLocalInput($("f-starts").value),
      ends_at: fromLocalInput($("f-ends").value),
      face_search: $("f-face-search").checked,
      // Not a number: sent as typed, so Kanta's message says what is wrong with it.
      retention_days: days === "" ? null : (/^\d+$/.test(days) ? Number(days) : days),
      retention_deletes_photos: $("f-retention-photos").checked,
      consent_text: text("f-consent"),
    };
    if (!editing) body.code = $("f-code").value.trim();
    return body;
  }

  async function saveEvent(submitted) {
    submitted.preventDefault();
    const box = $("editor-status");
    showError(box, null);
    let saved;
    try {
      saved = editing
        ? await call(`events/${encodeURIComponent(editing.code)}`, { method: "PATCH", body: formBody() })
        : await call("events", { method: "POST", body: formBody() });
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) showError(box, error);
      return;
    }
    const created = !editing;
    closeEditor();
    if (created) offset = 0;
    await loadEvents();
    $("events-status").textContent = `${created ? "Created" : "Saved"} ${title(saved)} (${saved.code}).`;
    if (linkEvent && linkEvent.code === saved.code) linkEvent = saved;
    const item = $("event-list").querySelector(`li[data-code="${saved.code}"] button`);
    if (item) item.focus();
  }

  // ---------------------------------------------------------------- deleting

  function askDelete(event) {
    deleting = event;
    const photos = count(event.image_count, "photo", "photos");
    const faces = count(event.face_count, "face", "faces");
    $("delete-title").textContent = `Delete ${title(event)}?`;
    $("delete-loss").textContent = `This deletes its ${photos} and ${faces} (with its people and names) ` +
      "from storage and the database, and its guest link stops working. It cannot be undone.";
    $("delete-code-label").textContent = `Type the event's code, ${event.code}, to confirm`;
    $("delete-code").value = "";
    showError($("delete-status"), null);
    $("confirm-delete").showModal();
    $("delete-code").focus();
  }

  async function confirmDelete(submitted) {
    submitted.preventDefault();
    const event = deleting;
    if ($("delete-code").value.trim() !== event.code) {
      showError($("delete-status"), { message: `Type ${event.code} exactly to delete this event.` });
      return;
    }
    try {
      await call(`events/${encodeURIComponent(event.code)}`, { method: "DELETE" });
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) showError($("delete-status"), error);
      return;
    }
    $("confirm-delete").close();
    deleting = null;
    if (viewEvent && viewEvent.code === event.code) showView(null);
    await loadEvents();
    $("events-status").textContent = `Deleted ${title(event)} (${event.code}).`;
    $("new-event").focus();
  }

  // ---------------------------------------------------------------- guest link, QR code, poster

  function forgetLink() {
    linkEvent = null;
    $("link").hidden = true;
    $("link-new").hidden = true;
    $("qr").removeAttribute("src");
    $("join-url").value = "";
    document.body.classList.remove("has-poster");
  }

  function showLimits(limits) {
    const list = $("limits");
    $("limits-box").hidden = !limits;
    if (!limits) {
      list.replaceChildren();
      return;
    }
    list.replaceChildren(...[
      `${limits.uploads_per_hour} uploads and ${sizeInWords(limits.bytes_per_hour)} an hour`,
      `${limits.uploads_per_event_day} uploads and ${sizeInWords(limits.bytes_per_event_day)} a day for the whole event`,
      `${limits.searches_per_hour} selfie searches and ${limits.forgets_per_hour} "forget my face" requests an hour`,
      `Photos of up to ${sizeInWords(limits.max_photo_bytes)} each`,
    ].map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  }

  function rightsInWords(rights) {
    const allowed = [rights.upload && "upload photos", rights.find_me && "find their photos by selfie",
      rights.gallery && "see every photo"].filter(Boolean);
    return allowed.length ? `Guests may ${allowed.join(", ")}.` : "Guests may do nothing with it.";
  }

  // Show what the API says of `link` (null: the event has none).
  function showLinkState(link) {
    const state = $("link-state");
    $("revoke-link").hidden = !link;
    $("create-link").textContent = link ? "Rotate link" : "Create link";
    if (!link) {
      state.textContent = "This event has no guest link yet. Create one to show guests its QR code.";
      showLimits(null);
      return;
    }
    const until = `${link.expired ? "Expired" : "Works until"} ${when(link.expires_at)}.`;
    state.textContent = `${until} ${rightsInWords(link.rights)}` +
      ($("link-new").hidden ? " The link itself is shown only when it is made: rotate it to show the QR code again" +
        " (the current link then stops working)." : "");
    for (const [id, right] of [["r-upload", "upload"], ["r-find", "find_me"], ["r-gallery", "gallery"]]) {
      $(id).checked = link.rights[right];
    }
    showLimits(link.limits);
  }

  async function openLink(event) {
    if (!linkEvent || linkEvent.code !== event.code) forgetLink();
    linkEvent = event;
    $("link-title").textContent = `Guest link of ${title(event)}`;
    showError($("link-status"), null);
    showView("link", event);
    let link = null;
    try {
      link = await call(`events/${encodeURIComponent(event.code)}/guest-link`);
    } catch (error) {
      if (error.status === 401 || error.status === 403) return;
      if (error.code !== "guest_link_not_found") {
        showError($("link-status"), error);
        return;
      }
    }
    showLinkState(link);
    $("create-link").focus();
  }

  async function createLink() {
    const event = linkEvent;
    showError($("link-status"), null);
    const rights = { upload: $("r-upload").checked, find_me: $("r-find").checked, gallery: $("r-gallery").checked };
    let link;
    try {
      link = await call(`events/${encodeURIComponent(event.code)}/guest-link`, { method: "POST", body: { rights } });
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) showError($("link-status"), error);
      return;
    }
    const qr = `data:image/png;base64,${link.qr_png}`;
    $("join-url").value = link.join_url;
    $("qr").src = qr;
    $("qr").alt = `QR code of the guest link of ${title(event)}`;
    $("copy-status").textContent = "";
    $("link-new").hidden = false;
    $("poster-title").textContent = title(event);
    $("poster-when").textContent = event.starts_at || event.ends_at ? dates(event) : "";
    $("poster-qr").src = qr;
    $("poster-qr").alt = `QR code to join ${title(event)}`;
    document.body.classList.add("has-poster");
    showLinkState(link);
    $("copy-link").focus();
  }

  async function revokeLink() {
    const event = linkEvent;
    showError($("link-status"), null);
    try {
      await call(`events/${encodeURIComponent(event.code)}/guest-link`, { method: "DELETE" });
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) showError($("link-status"), error);
      return;
    }
    forgetLink();
    linkEvent = event;
    $("link").hidden = false;
    showLinkState(null);
    $("link-state").textContent = "Revoked: the link and its QR code no longer work. Create a new one when you need it.";
    $("create-link").focus();
  }

  async function copyLink() {
    const input = $("join-url");
    try {
      await navigator.clipboard.writeText(input.value);
      $("copy-status").textContent = "Copied.";
    } catch {
      // No clipboard access (an older browser, or permission refused): select the text so
      // the host can copy it with the keyboard or the menu.
      input.focus();
      input.select();
      $("copy-status").textContent = "Selected: copy it with Ctrl+C (⌘C on a Mac).";
    }
  }

  function openPoster() {
    $("poster").hidden = false;
    document.querySelector("main").hidden = true;
    document.querySelector("header").hidden = true;
    $("print-poster").focus();
  }

  function closePoster() {
    if ($("poster").hidden) return;
    $("poster").hidden = true;
    document.querySelector("main").hidden = false;
    document.querySelector("header").hidden = false;
    $("show-poster").focus();
  }

  // ---------------------------------------------------------------- views in other files

  // What host-photos.js and host-people.js use, and where they put their views' openers
  // (openPhotos, openPeople: each takes an event of the list). A view registers its quiet
  // closer in `closers` and opens itself with `showView`.
  window.KantaHost = { call, showError, button, title, when, count, closers, showView,
    reloadEvents: () => loadEvents() };

  // ---------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => { signOut(""); $("host-key").focus(); });
    $("new-event").addEventListener("click", () => openEditor(null));
    $("page-previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadEvents(); });
    $("page-next").addEventListener("click", () => {
      const next = $("page-next").dataset.offset;
      if (next !== "") { offset = Number(next); loadEvents(); }
    });
    $("event-form").addEventListener("submit", saveEvent);
    $("cancel-event").addEventListener("click", closeEditor);
    $("delete-form").addEventListener("submit", confirmDelete);
    $("delete-cancel").addEventListener("click", () => $("confirm-delete").close());
    $("create-link").addEventListener("click", createLink);
    $("revoke-link").addEventListener("click", revokeLink);
    $("close-link").addEventListener("click", forgetLink);
    $("copy-link").addEventListener("click", copyLink);
    $("show-poster").addEventListener("click", openPoster);
    $("print-poster").addEventListener("click", () => window.print());
    $("close-poster").addEventListener("click", closePoster);
    // Signed in earlier in this tab: carry on. Otherwise nothing of the host's is fetched.
    if (sessionStorage.getItem(KEY_ITEM)) {
      loadEvents().then((ok) => showSignedIn(ok));
    } else {
      showSignedIn(false);
    }
  });
})();

// The host console's people view (see host.js: KantaHost): an event's people largest first,
// re-clustering on demand, and a person's page to name, merge, correct and erase them.
// Plain browser JavaScript (no build step, no library).
"use strict";

(() => {
  // People per page of the grid: a screenful of face crops on a laptop.
  const PAGE = 24;
  // Photos per request when gathering a person's faces (the API's largest page).
  const IMAGE_PAGE = 200;
  // The API's id of "in no person" (README: cluster_id -1 is noise).
  const NOISE = -1;

  const $ = (id) => document.getElementById(id);
  let current = null; // the event shown
  let offset = 0;
  let nextOffset = null;
  let everyone = []; // all people of the event [{cluster_id, name, face_count}], for the selects
  let person = null; // the person shown ({cluster_id, name, face_count}), or the noise

  const code = () => encodeURIComponent(current.code);
  // Unnamed people are told apart by their id (stable across runs: README "People").
  const personName = (p) => (p.cluster_id === NOISE ? "Faces in no person" : p.name || `Unnamed (person ${p.cluster_id})`);
  // "Unnamed" alone cannot tell people apart in a select or a button's label: add the id.
  const personLabel = (p) => `${p.name || "Unnamed"} (person ${p.cluster_id}, ${KantaHost.count(p.face_count, "face", "faces")})`;
  // A refused key signs the host out (host.js): nothing more to say here.
  const refused = (error) => error.status === 401 || error.status === 403;

  function report(box, error) {
    if (!refused(error)) KantaHost.showError(box, error);
  }

  // ---------------------------------------------------------------- the grid

  function runInWords(run) {
    if (!run) return "Not grouped into people yet: press Re-cluster now.";
    const { count, when } = KantaHost;
    let text = `Last run ${when(run.started_at)}: ${count(run.cluster_count, "person", "people")} from ` +
      `${count(run.face_count, "face", "faces")}, ${run.noise_count} in no person, ` +
      `${run.kept_count} kept their person (${run.seconds.toFixed(1)} s).`;
    const p = run.parameters || {};
    const cuts = [];
    if (p.face != null) cuts.push(`face cut ${p.face}`);
    if (p.person != null) cuts.push(`person cut ${p.person}`);
    if (p.eps != null) cuts.push(`eps ${p.eps}`);
    if ("onset" in p) cuts.push(p.onset == null ? "no onset of different people (not enough evidence)" : `different people from ${p.onset}`);
    if (p.same_photo_pairs != null) cuts.push(`${p.same_photo_pairs} same-photo pairs`);
    if (cuts.length) text += ` Cuts: ${cuts.join(", ")}.`;
    return text;
  }

  function personItem(p) {
    const item = document.createElement("li");
    item.dataset.clusterId = String(p.cluster_id);
    const sample = p.samples[0];
    if (sample) {
      const img = document.createElement("img");
      img.src = sample.url;
      // The button next to it names the person: the crop adds no words.
      img.alt = "";
      img.className = "face";
      item.append(img);
    }
    const name = document.createElement("p");
    name.className = "person-name";
    name.textContent = p.name || "Unnamed";
    const facts = document.createElement("p");
    facts.className = "muted";
    facts.textContent = `${KantaHost.count(p.face_count, "face", "faces")} in ${KantaHost.count(p.photo_count, "photo", "photos")}`;
    item.append(name, facts, KantaHost.button("Open", `Open ${personLabel(p)}`, "secondary", () => openPerson(p)));
    return item;
  }

  // Every person of the event (all pages, no samples), for the merge and move selects.
  async function loadEveryone() {
    const all = [];
    let at = 0;
    while (at !== null) {
      const page = await KantaHost.call(`events/${code()}/clusters?sample_size=0&limit=200&offset=${at}`);
      all.push(...page.items);
      at = page.next_offset;
    }
    everyone = all;
  }

  async function loadGrid() {
    const status = $("people-status");
    KantaHost.showError(status, null);
    let page;
    try {
      page = await KantaHost.call(`events/${code()}/clusters?sample_size=1&limit=${PAGE}&offset=${offset}`);
      await loadEveryone();
    } catch (error) {
      report(status, error);
      return;
    }
    $("people-run").textContent = runInWords(page.last_run) +
      (page.unclustered_count ? ` ${KantaHost.count(page.unclustered_count, "face", "faces")} added since.` : "");
    $("people-grid").replaceChildren(...page.items.map(personItem));
    if (!page.items.length) {
      const empty = document.createElement("li");
      empty.textContent = offset ? "No more people." : "No people yet.";
      $("people-grid").append(empty);
    }
    nextOffset = page.next_offset;
    $("people-previous").disabled = offset === 0;
    $("people-next").disabled = nextOffset === null;
    $("people-noise").hidden = !page.noise_count;
    $("people-noise-count").textContent = `${KantaHost.count(page.noise_count, "face is", "faces are")} like no other ` +
      `(${page.excluded_count} more too small, blurry or turned to use).`;
  }

  function showGrid() {
    person = null;
    $("person").hidden = true;
    $("people-list").hidden = false;
  }

  KantaHost.openPeople = async (event) => {
    current = event;
    offset = 0;
    $("people-title").textContent = `People of ${KantaHost.title(event)}`;
    $("people-run").textContent = "";
    $("people-grid").replaceChildren();
    showGrid();
    KantaHost.showView("people", event);
    await loadGrid();
    $("recluster").focus();
  };

  // The button stays focusable while a run is going (a disabled button drops the focus to
  // the page's start); aria-disabled says it does nothing until the run ends.
  async function recluster() {
    const button = $("recluster");
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    $("people-run").textContent = "Sorting faces into people…";
    try {
      await KantaHost.call(`events/${code()}/recluster`, { method: "POST" });
    } catch (error) {
      report($("people-status"), error);
      $("people-run").textContent = "";
      return;
    } finally {
      button.removeAttribute("aria-disabled");
    }
    offset = 0;
    await loadGrid();
    // The events list shows when people were last grouped.
    KantaHost.reloadEvents();
  }

  // Quietly: another view opened or the host signed out.
  function hidePeople() {
    $("people").hidden = true;
    current = null;
    if ($("confirm-erase").open) $("confirm-erase").close();
  }
  KantaHost.closers.people = hidePeople;

  function closePeople() {
    hidePeople();
    const back = document.querySelector("#event-list button");
    if (back) back.focus();
  }

  // ---------------------------------------------------------------- a person's page

  // Options of every person but `except`, largest first (as the API lists them).
  function otherOptions(except) {
    return everyone.filter((p) => p.cluster_id !== except).map((p) => {
      const option = document.createElement("option");
      option.value = String(p.cluster_id);
      option.textContent = personLabel(p);
      return option;
    });
  }

  // The photos of `clusterId` (all pages) and, in each, the faces that are theirs.
  async function facesOf(clusterId) {
    const images = [];
    let at = 0;
    while (at !== null) {
      const page = await KantaHost.call(`events/${code()}/images?cluster_id=${clusterId}&limit=${IMAGE_PAGE}&offset=${at}`);
      images.push(...page.items);
      at = page.next_offset;
    }
    const details = await Promise.all(images.map((i) => KantaHost.call(`images/${i.image_id}`)));
    return details.map((image) => ({ image, faces: image.faces.filter((f) => f.cluster_id === clusterId) }));
  }

  function faceItem(face, number) {
    const item = document.createElement("li");
    item.dataset.faceId = String(face.face_id);
    const img = document.createElement("img");
    img.className = "face";
    img.alt = `Face ${number}`;
    if (face.thumbnail_url) img.src = face.thumbnail_url;
    const label = document.createElement("label");
    const selectId = `move-${face.face_id}`;
    label.htmlFor = selectId;
    label.textContent = `Move face ${number} to`;
    const select = document.createElement("select");
    select.id = selectId;
    select.append(...otherOptions(person.cluster_id));
    item.append(img, label, select);
    const actions = document.createElement("div");
    actions.className = "buttons";
    const move = KantaHost.button("Move", `Move face ${number}`, "secondary", () => moveFace(face, Number(select.value)));
    move.disabled = !select.options.length;
    actions.append(move);
    if (person.cluster_id !== NOISE) {
      actions.append(KantaHost.button("Not this person", `Face ${number} is not this person`, "secondary",
        () => moveFace(face, null)));
    }
    item.append(actions);
    return item;
  }

  function photoItem(image, number) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = image.url || "#";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const img = document.createElement("img");
    if (image.url) img.src = image.url;
    img.alt = `Photo ${number}${image.original_filename ? `: ${image.original_filename}` : ""}`;
    link.append(img);
    item.append(link);
    return item;
  }

  async function showPerson() {
    const p = person;
    const isNoise = p.cluster_id === NOISE;
    $("person-title").textContent = personName(p);
    $("name-form").hidden = isNoise;
    $("merge-form").hidden = isNoise;
    $("erase-person").hidden = isNoise;
    $("person-name").value = p.name || "";
    $("merge-into").replaceChildren(...otherOptions(p.cluster_id));
    $("merge").disabled = !$("merge-into").options.length;
    KantaHost.showError($("person-status"), null);
    $("person-faces").replaceChildren();
    $("person-photos").replaceChildren();
    $("person-facts").textContent = "Loading…";
    let found;
    try {
      found = await facesOf(p.cluster_id);
    } catch (error) {
      $("person-facts").textContent = "";
      report($("person-status"), error);
      return;
    }
    if (person !== p) return; // the host moved on meanwhile
    const faces = found.flatMap((f) => f.faces);
    $("person-facts").textContent = `${KantaHost.count(faces.length, "face", "faces")} in ` +
      `${KantaHost.count(found.length, "photo", "photos")}.`;
    $("person-faces").replaceChildren(...faces.map((f, i) => faceItem(f, i + 1)));
    $("person-photos").replaceChildren(...found.map((f, i) => photoItem(f.image, i + 1)));
  }

  async function openPerson(p) {
    person = p;
    $("people-list").hidden = true;
    $("person").hidden = false;
    $("person-done").textContent = "";
    $("person-title").focus();
    await showPerson();
  }

  // After a correction: the people again (counts changed), then `p` shown anew.
  async function reopen(clusterId, done) {
    try {
      await loadEveryone();
    } catch (error) {
      report($("person-status"), error);
      return;
    }
    person = everyone.find((x) => x.cluster_id === clusterId) ||
      (clusterId === NOISE ? { cluster_id: NOISE, name: null, face_count: 0 } : null);
    if (!person) {
      showGrid();
      await loadGrid();
      $("people-run").textContent = done;
      $("recluster").focus();
      return;
    }
    await showPerson();
    $("person-done").textContent = done;
  }

  async function saveName(submitted) {
    submitted.preventDefault();
    const name = $("person-name").value.trim() || null;
    let saved;
    try {
      saved = await KantaHost.call(`events/${code()}/clusters/${person.cluster_id}`, { method: "PATCH", body: { name } });
    } catch (error) {
      report($("person-status"), error);
      return;
    }
    person = { ...person, name: saved.name };
    $("person-title").textContent = personName(person);
    // The selects show names: refresh them; the name is saved whatever this answers.
    await loadEveryone().catch(() => {});
    $("person-done").textContent = saved.name ? `Named ${saved.name}.` : "Name cleared.";
  }

  async function merge(submitted) {
    submitted.preventDefault();
    const into = Number($("merge-into").value);
    const from = personName(person);
    let merged;
    try {
      merged = await KantaHost.call(`events/${code()}/clusters/${person.cluster_id}/merge`,
        { method: "POST", body: { into } });
    } catch (error) {
      report($("person-status"), error);
      return;
    }
    // The merged person is the one shown now: the host sees the faces together.
    await reopen(merged.cluster_id, `Merged ${from} into ${personName(merged)}.`);
    $("person-title").focus();
  }

  async function moveFace(face, clusterId) {
    let moved;
    try {
      moved = await KantaHost.call(`faces/${face.face_id}/cluster`, { method: "PUT", body: { cluster_id: clusterId } });
    } catch (error) {
      report($("person-status"), error);
      return;
    }
    const to = everyone.find((p) => p.cluster_id === moved.cluster_id);
    await reopen(person.cluster_id, clusterId === null
      ? "Face taken out of this person." : `Face moved to ${to ? personName(to) : `person ${moved.cluster_id}`}.`);
    // The face's controls are gone with it: keep the keyboard on the page.
    $("person-title").focus();
  }

  // ---------------------------------------------------------------- erasing

  function askErase() {
    $("erase-title").textContent = `Erase ${personName(person)}?`;
    $("erase-loss").textContent = `This erases every face of this person (${KantaHost.count(person.face_count, "face", "faces")}), ` +
      "their face crops and their name, and keeps their face out of photos uploaded later. " +
      "The photos stay. It cannot be undone.";
    KantaHost.showError($("erase-status"), null);
    $("confirm-erase").showModal();
    $("erase-cancel").focus();
  }

  async function confirmErase(submitted) {
    submitted.preventDefault();
    let result;
    try {
      result = await KantaHost.call(`events/${code()}/clusters/${person.cluster_id}/erase`, { method: "POST" });
    } catch (error) {
      report($("erase-status"), error);
      return;
    }
    $("confirm-erase").close();
    showGrid();
    await loadGrid();
    $("people-run").textContent = result.message || `Erased ${KantaHost.count(result.erased, "face", "faces")}.`;
    $("recluster").focus();
  }

  // ---------------------------------------------------------------- wiring

  document.addEventListener("DOMContentLoaded", () => {
    $("recluster").addEventListener("click", recluster);
    $("close-people").addEventListener("click", closePeople);
    $("people-previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadGrid(); });
    $("people-next").addEventListener("click", () => {
      if (nextOffset !== null) { offset = nextOffset; loadGrid(); }
    });
    $("open-noise").addEventListener("click", () => openPerson({ cluster_id: NOISE, name: null, face_count: 0 }));
    $("name-form").addEventListener("submit", saveName);
    $("merge-form").addEventListener("submit", merge);
    $("erase-person").addEventListener("click", askErase);
    $("erase-form").addEventListener("submit", confirmErase);
    $("erase-cancel").addEventListener("click", () => $("confirm-erase").close());
    $("back-people").addEventListener("click", async () => {
      showGrid();
      await loadGrid();
      $("recluster").focus();
    });
    $("close-person").addEventListener("click", closePeople);
  });
})();

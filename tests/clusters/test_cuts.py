"""Per-event cuts (``kanta.clusters.cuts``): an event whose faces say different people start
closer than Kanta's defaults gets tighter cuts for clustering, search, forget and the
do-not-index list; an event of well-separated faces keeps the defaults; too little evidence
changes nothing; and a re-clustering records the cuts with their evidence.

The faces are real: every labelled face of tests/data and its mirror image (dlib on the
photos), in group photos. A population dlib separates poorly cannot be shown with
tests/data's people, so it is simulated from them: the same descriptors brought 0.55x as
close to their mean, where different people come within 0.4-0.5 of each other as in
``bench/recognition.py``'s Asian set (where the constants were measured)."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageOps

from kanta.clusters.algorithm import cluster_descriptors
from kanta.clusters.cuts import (
    BULK_GAP,
    BULK_QUANTILE,
    FLOOR,
    MIN_FACES,
    MIN_SAME_PHOTO_PAIRS,
    event_cuts,
    onset_of_strangers,
)
from kanta.config import get_settings
from kanta.faces.pipeline import analyse_image
from tests.clusters.test_people import recluster, upload
from tests.helpers import DATA

LABELLED = [line.split(",") for line in (DATA / "labels.csv").read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descriptors ``(n, 128)``, identity ids and photo ids of the largest face of every
    single-person photo of tests/data and of its mirror image, put in group photos of up to
    five different people (as an event's group photos: two faces of one photo are two people)."""
    x, who = [], []
    names = sorted({row[2] for row in LABELLED if row[1] == "1"})
    for row in LABELLED:
        if row[1] != "1" or "partial" in row[0] or "rgba" in row[0]:
            continue
        image = ImageOps.exif_transpose(Image.open(DATA / row[0])).convert("RGB")
        for variant in (image, ImageOps.mirror(image)):
            buffer = io.BytesIO()
            variant.save(buffer, "JPEG", quality=95)
            found = analyse_image(buffer.getvalue(), max_pixels=50_000_000, thumbnails=False).faces
            x.append(max(found, key=lambda f: f.bbox.area).descriptor)
            who.append(names.index(row[2]))
    who_a = np.array(who)
    photos = np.full(len(x), -1)
    for i in range(len(x)):
        if photos[i] < 0:
            members = [i]
            for j in range(i + 1, len(x)):
                if len(members) < 5 and photos[j] < 0 and who_a[j] not in set(who_a[members].tolist()):
                    members.append(j)
            photos[members] = i
    return np.array(x), who_a, photos


@pytest.fixture
def enough_pairs(faces, monkeypatch) -> int:
    """tests/data has 7 people: the group photos above make fewer pairs than an event needs
    (``MIN_SAME_PHOTO_PAIRS``); the threshold is lowered to what they make."""
    from kanta.clusters import cuts as module

    pairs = len(same_photo_distances(*faces[::2]))
    assert pairs >= 20
    monkeypatch.setattr(module, "MIN_SAME_PHOTO_PAIRS", pairs)
    return pairs


def same_photo_distances(x: np.ndarray, photos: np.ndarray) -> list[float]:
    return [float(np.linalg.norm(x[i] - x[j])) for i, j in itertools.combinations(range(len(x)), 2)
            if photos[i] == photos[j]]


def hard(x: np.ndarray) -> np.ndarray:
    """Descriptors of a population dlib separates poorly, simulated: 0.55x as close to their mean."""
    mean = x.mean(axis=0)
    return mean + 0.55 * (x - mean)


def mixes(labels: np.ndarray, who: np.ndarray) -> bool:
    """Whether some cluster holds two identities (a guest would be shown a stranger's photos)."""
    return any(len(set(who[labels == c].tolist())) > 1 for c in set(labels.tolist()) - {-1})


def settings_kwargs() -> dict[str, float]:
    s = get_settings()
    return {"eps": s.cluster_eps, "face": s.search_max_distance, "person": s.search_person_max_distance}


def test_well_separated_faces_keep_the_default_cuts(faces, enough_pairs):
    x, _, photos = faces
    cuts = event_cuts(x, photos, **settings_kwargs())
    assert cuts.same_photo_pairs == enough_pairs and cuts.onset > get_settings().cluster_eps
    assert (cuts.eps, cuts.face, cuts.person) == tuple(settings_kwargs().values())


def test_faces_dlib_separates_poorly_get_tighter_cuts_and_people_stay_apart(faces, enough_pairs):
    x, who, photos = faces
    close = hard(x)
    impostors = [np.linalg.norm(close[i] - close[j]) for i, j in itertools.combinations(range(len(x)), 2)
                 if who[i] != who[j]]
    assert np.quantile(impostors, 0.05) < 0.5  # strangers now within the shipped search cuts
    defaults = settings_kwargs()
    cuts = event_cuts(close, photos, **defaults)
    assert cuts.onset <= float(np.quantile(same_photo_distances(close, photos), 0.01)) + 1e-9
    shift = defaults["eps"] - cuts.onset
    assert shift > 0.1
    assert cuts.eps == pytest.approx(defaults["eps"] - shift)
    assert cuts.face == pytest.approx(defaults["face"] - shift)
    assert cuts.person == pytest.approx(defaults["person"] - shift)
    # The shipped cut merges different people; the event's keeps every person apart and
    # still puts faces of one person together.
    shipped = cluster_descriptors(close, eps=defaults["eps"], min_samples=2, groups=photos)
    assert mixes(shipped, who)
    own = cluster_descriptors(close, eps=cuts.eps, min_samples=2, groups=photos)
    assert not mixes(own, who) and (own >= 0).any()


def test_too_little_evidence_changes_nothing(faces):
    """Fewer faces than MIN_FACES and fewer pairs sharing a photo than an event needs, however
    close the faces: the settings' cuts."""
    x, _, photos = faces
    few = slice(0, MIN_FACES - 1)
    cuts = event_cuts(hard(x)[few], photos[few], **settings_kwargs())
    assert cuts.onset is None and cuts.same_photo_pairs < MIN_SAME_PHOTO_PAIRS and cuts.faces == MIN_FACES - 1
    assert (cuts.eps, cuts.face, cuts.person) == tuple(settings_kwargs().values())


def test_the_distances_of_all_pairs_are_evidence_without_group_photos(faces):
    """An event of many guests and no group photo: the upper quartile of all its pairs, less
    BULK_GAP, says where different people start; for well-separated faces, above the cuts."""
    x, _, _ = faces
    alone = np.arange(len(x))  # every face its own photo: no same-photo evidence
    i, j = np.triu_indices(len(x), 1)
    for descriptors in (x, hard(x)):
        expected = float(np.quantile(np.linalg.norm(descriptors[i] - descriptors[j], axis=1), BULK_QUANTILE))
        assert onset_of_strangers(descriptors, alone) == (pytest.approx(expected - BULK_GAP), 0)
        assert onset_of_strangers(descriptors, alone, gap=None) == (None, 0)
    assert event_cuts(x, alone, **settings_kwargs()).eps == get_settings().cluster_eps
    assert event_cuts(hard(x), alone, **settings_kwargs()).eps < get_settings().cluster_eps - 0.1


def test_cuts_never_go_below_the_floor(faces, enough_pairs):
    x, _, photos = faces
    copies = x.mean(axis=0) + 0.05 * (x - x.mean(axis=0))  # everyone nearly the same face
    cuts = event_cuts(copies, photos, **settings_kwargs())
    assert cuts.eps == cuts.face == cuts.person == FLOOR


def test_a_reclustering_records_its_cuts_and_their_evidence(api, functions, event):
    code = event["code"]
    upload(api, functions, code, "obama_1.jpg", "biden_1.jpg", "group_biden_obama.jpg")
    run = recluster(api, code)
    settings = get_settings()
    p = run["parameters"]
    assert (p["eps"], p["face"], p["person"]) == (settings.cluster_eps, settings.search_max_distance,
                                                  settings.search_person_max_distance)
    assert p["onset"] is None and p["same_photo_pairs"] == 1 and p["faces"] == 4
    status, people = api("list_clusters", route={"code": code})
    assert status == 200 and people["last_run"]["parameters"]["same_photo_pairs"] == 1


def search_hard_event(close: np.ndarray, who: np.ndarray, photos: np.ndarray, held: int):
    """The event without face ``held``, clustered and searched as Kanta does for an event
    whose faces are hard to tell apart: its own cuts, the ratio test. Returns the event's
    mask, people, and the search cuts."""
    from kanta.search.service import search_cuts

    rest = np.arange(len(close)) != held
    cuts = event_cuts(close[rest], photos[rest], **settings_kwargs())
    assert cuts.lowered
    people = cluster_descriptors(close[rest], eps=cuts.eps, min_samples=2, groups=photos[rest])
    return rest, people, search_cuts(cuts)


def test_in_a_hard_event_a_selfie_finds_only_its_guest_and_one_between_two_people_finds_nobody(faces, enough_pairs):
    """Real faces brought as close as dlib brings East Asian faces: each face in turn is a
    guest's selfie against the rest of the event. No selfie brings anyone else's photo, most
    still find their guest, and a selfie halfway between two guests matches neither, where the
    cuts alone show some such selfie both."""
    from kanta.search.matching import SearchCuts, select_faces

    x, who, photos = faces
    close = hard(x)
    found_with_ratio = found_by_cuts = 0
    for q in range(len(close)):
        rest, people, cuts = search_hard_event(close, who, photos, q)
        assert cuts.ratio == get_settings().search_ratio
        d = np.linalg.norm(close[rest] - close[q], axis=1)
        got = select_faces(d, people, cuts).faces
        assert set(who[rest][got].tolist()) <= {who[q]}, f"face {q} was shown someone else's photo"
        found_with_ratio += len(got) > 0
        found_by_cuts += len(select_faces(d, people, SearchCuts(cuts.face, cuts.person)).faces) > 0
    # Guests are still found: the ratio test turned none away that the cuts found.
    assert found_with_ratio >= found_by_cuts > len(close) // 2

    between = 0
    for a, b in itertools.combinations(sorted(set(who.tolist())), 2):
        i, j = np.flatnonzero(who == a)[0], np.flatnonzero(who == b)[0]
        selfie = (close[i] + close[j]) / 2
        rest, people, cuts = search_hard_event(close, who, photos, -1)
        d = np.linalg.norm(close - selfie, axis=1)
        plain = select_faces(d, people, SearchCuts(cuts.face, cuts.person)).faces
        between += len(set(who[plain].tolist())) > 1
        assert select_faces(d, people, cuts).faces.size == 0, f"a selfie between {a} and {b} matched"
    assert between > 0  # the cuts alone show some such selfie two people's photos

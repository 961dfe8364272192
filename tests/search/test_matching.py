"""The matching rule on distances alone (kanta.search.matching): a person matches by one very
near face or by two near enough faces, and then brings all their faces; a face in no person
matches only by itself."""

from __future__ import annotations

import numpy as np
import pytest

from kanta.search.matching import NO_PERSON, PersonEvidence, SearchCuts, select_faces

CUTS = SearchCuts(face=0.45, person=0.55)


def test_a_person_matched_by_one_near_face_brings_all_their_faces():
    distances = np.array([0.90, 0.30, 1.20, 0.80])
    people = np.array([7, 7, 7, 3])
    selection = select_faces(distances, people, CUTS)
    assert selection.faces.tolist() == [1, 0, 2]  # the far faces 0.90 and 1.20 too, nearest first
    assert selection.people == [PersonEvidence(7, 0.30, 0.90, "one_face")]


def test_two_faces_within_the_person_cut_match_where_one_would_not():
    people = np.array([4, 4, 4])
    two = select_faces(np.array([0.50, 0.54, 1.0]), people, CUTS)
    assert two.faces.tolist() == [0, 1, 2]
    assert two.people == [PersonEvidence(4, 0.50, 0.54, "two_faces")]
    # The second face just beyond the person cut: nobody.
    assert select_faces(np.array([0.50, 0.56, 1.0]), people, CUTS).people == []


def test_a_person_with_one_face_needs_the_face_cut():
    near = select_faces(np.array([0.44]), np.array([2]), CUTS)
    assert near.faces.tolist() == [0] and near.people == [PersonEvidence(2, 0.44, None, "one_face")]
    # Within the person cut but alone: no second face to back it up.
    alone = select_faces(np.array([0.50]), np.array([2]), CUTS)
    assert alone.faces.size == 0 and alone.people == []


def test_faces_in_no_person_match_only_within_the_face_cut():
    # Unclustered (-1 as the copy holds NULL), noise, and a face taken out of its person: two
    # of them within the person cut are not a person.
    distances = np.array([0.40, 0.50, 0.52, 0.46])
    people = np.array([NO_PERSON, NO_PERSON, NO_PERSON, -5])
    selection = select_faces(distances, people, CUTS)
    assert selection.faces.tolist() == [0] and selection.people == []


def test_cuts_are_inclusive():
    selection = select_faces(np.array([0.45, 0.55, 0.55]), np.array([NO_PERSON, 1, 1]), CUTS)
    assert selection.faces.tolist() == [0, 1, 2]
    assert [p.matched_by for p in selection.people] == ["two_faces"]


def test_order_is_nearest_first_with_ties_by_index_and_people_nearest_first():
    distances = np.array([0.70, 0.20, 0.20, 0.10, 0.35, 0.60])
    people = np.array([1, 1, NO_PERSON, 2, 2, 1])
    selection = select_faces(distances, people, CUTS)
    assert selection.faces.tolist() == [3, 1, 2, 4, 5, 0]
    assert [(p.person, p.nearest, p.second) for p in selection.people] == [(2, 0.10, 0.35), (1, 0.20, 0.60)]
    tied = select_faces(np.array([0.3, 0.3]), np.array([9, 5]), CUTS)
    assert [p.person for p in tied.people] == [5, 9]


def test_the_second_distance_is_the_persons_true_second_even_beyond_the_cuts():
    # A client shows "second nearest face: 1.10", not "this person has one face".
    selection = select_faces(np.array([0.20, 1.10, 1.30]), np.array([6, 6, 6]), CUTS)
    assert selection.people == [PersonEvidence(6, 0.20, 1.10, "one_face")]


def test_nothing_near_and_no_faces_give_empty_selections():
    far = select_faces(np.array([0.9, 1.0]), np.array([1, NO_PERSON]), CUTS)
    assert far.faces.size == 0 and far.people == []
    empty = select_faces(np.empty(0), np.empty(0, dtype=np.int64), CUTS)
    assert empty.faces.size == 0 and empty.people == []


@pytest.mark.parametrize(("distances", "people"), [
    (np.zeros(3), np.zeros(2, dtype=np.int64)),
    (np.zeros((2, 2)), np.zeros((2, 2), dtype=np.int64)),
])
def test_shapes_that_differ_are_refused(distances, people):
    with pytest.raises(ValueError, match="must be the same"):
        select_faces(distances, people, CUTS)


# The ratio test: with ``ratio`` set, only the best candidate may match, when clearly nearer
# than the next one, and a person also when its score is within ``clear``. Scores: the
# nearest face's distance + 0.05, or the mean of the two nearest when lower.
RATIO = SearchCuts(face=0.45, person=0.55, ratio=0.8, clear=0.55)


def test_a_selfie_between_two_people_gets_no_match_rather_than_the_wrong_one():
    # Person 1 passes the face cut (0.44; score 0.455); person 2 passes the person cut
    # (score 0.47). Without the ratio test both come back, one of them surely a stranger;
    # with it, nobody: 0.455 > 0.8 x 0.47.
    distances = np.array([0.44, 0.47, 0.46, 0.48, 1.2])
    people = np.array([1, 1, 2, 2, 3])
    assert [p.person for p in select_faces(distances, people, CUTS).people] == [1, 2]
    selection = select_faces(distances, people, RATIO)
    assert selection.faces.size == 0 and selection.people == []


def test_the_clearly_nearest_person_matches_alone():
    distances = np.array([0.30, 0.40, 0.42, 0.50, 0.60, 0.70])
    people = np.array([1, 1, 2, 2, 3, 3])
    assert [p.person for p in select_faces(distances, people, CUTS).people] == [1, 2]
    # Person 1 scores 0.35, the next (person 2) 0.46: 0.35 <= 0.8 x 0.46.
    selection = select_faces(distances, people, RATIO)
    assert selection.people == [PersonEvidence(1, 0.30, 0.40, "one_face", runner_up=pytest.approx(0.46))]
    assert selection.faces.tolist() == [0, 1]


def test_the_clearly_nearest_person_matches_though_no_cut_is_met():
    # Person 4 scores 0.54 (no cut met); the next person scores 0.70: 0.54 <= 0.8 x 0.70,
    # so person 4 matches, and says why.
    distances = np.array([0.50, 0.58, 0.90, 0.66, 0.74])
    people = np.array([4, 4, 4, 5, 5])
    assert select_faces(distances, people, CUTS).people == []
    selection = select_faces(distances, people, RATIO)
    assert selection.faces.tolist() == [0, 1, 2]
    assert selection.people == [PersonEvidence(4, 0.50, 0.58, "clearly_nearest", runner_up=pytest.approx(0.70))]
    # Beyond the clear score: nobody, however far the next person is.
    far = select_faces(distances + 0.03, people, RATIO)
    assert far.people == [] and far.faces.size == 0


def test_a_face_in_no_person_is_a_rival():
    # A loose face at 0.47 scores 0.52: it stops person 1 (score 0.45 > 0.8 x 0.52).
    people = np.array([1, 1, NO_PERSON])
    blocked = select_faces(np.array([0.44, 0.46, 0.47]), people, RATIO)
    assert blocked.faces.size == 0 and blocked.people == []
    # At 0.55 (score 0.60) it no longer does: 0.45 <= 0.8 x 0.60.
    selection = select_faces(np.array([0.44, 0.46, 0.55]), people, RATIO)
    assert [(p.person, p.runner_up) for p in selection.people] == [(1, pytest.approx(0.60))]
    assert selection.faces.tolist() == [0, 1]


def test_a_face_in_no_person_is_never_matched_as_clearly_nearest():
    # Score 0.46 + 0.05 = 0.51 is within the clear score and nobody else is near, but a face
    # in no person still needs the face cut; within it, it matches.
    assert select_faces(np.array([0.46, 0.9]), np.array([NO_PERSON, 3]), RATIO).faces.size == 0
    assert select_faces(np.array([0.44, 0.9]), np.array([NO_PERSON, 3]), RATIO).faces.tolist() == [0]


def test_reach_covers_every_rival_that_could_stop_a_match():
    assert CUTS.reach == 0.55
    assert RATIO.reach == pytest.approx(0.55 / 0.8)
    # Person 1 scores 0.55, the most a match can (two faces at the person cut). A rival just
    # within reach stops it; one beyond is not looked at, and could not have.
    people = np.array([1, 1, 2, 2])
    within = select_faces(np.array([0.55, 0.55, RATIO.reach - 0.01, RATIO.reach - 0.01]), people, RATIO)
    assert within.people == []
    beyond = select_faces(np.array([0.55, 0.55, RATIO.reach + 0.001, RATIO.reach + 0.001]), people, RATIO)
    assert [(p.person, p.matched_by, p.runner_up) for p in beyond.people] == [(1, "two_faces", None)]
    assert 0.55 <= 0.8 * (RATIO.reach + 0.001)

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

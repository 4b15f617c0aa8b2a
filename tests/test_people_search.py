"""Finding a person by name, as a coach types it: short Danish names too ("Bo", "Li"), without listing half the
municipality for two letters."""

from __future__ import annotations

from bot.people import name_matches, searchable


def test_a_two_letter_name_is_found_as_a_whole_word() -> None:
    assert searchable("Bo") and searchable(" li ")
    assert name_matches("Bo", "Bo Nielsen") and name_matches("bo", "Anne-Bo Holm")
    assert not name_matches("bo", "Bodil Hansen")  # two letters inside a name would match half the list
    assert not name_matches("an", "Anna Jensen")


def test_three_letters_or_more_match_any_part_of_the_name_whatever_the_accents() -> None:
    assert name_matches("bod", "Bodil Hansen") and name_matches("soren", "Søren Ærø")
    assert name_matches("bo niel", "Bo Nielsen")  # every word must match: a short one whole, a longer one in part
    assert not name_matches("bo hans", "Bodil Hansen")


def test_one_letter_is_not_a_search() -> None:
    assert not searchable("b") and not searchable("  ")

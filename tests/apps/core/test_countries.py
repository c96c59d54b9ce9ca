"""The assigned ISO 3166-1 alpha-2 codes: 249 of them, upper-case, two letters each."""

from apps.core.countries import ASSIGNED


def test_the_249_assigned_codes_and_no_others() -> None:
    assert len(ASSIGNED) == 249
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in ASSIGNED)
    assert {"DE", "GB", "US", "JP", "BR", "SS", "AQ"} <= ASSIGNED
    # User-assigned, reserved or merely common, never assigned: not countries.
    assert not {"XK", "XX", "UK", "EU", "ZZ", "AA", "QM", "EL"} & ASSIGNED

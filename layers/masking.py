"""Masking of personal data (names, ID numbers, phone numbers) for every screen that lists people.

Residents' details are shown masked by default (张**, 230602********1234, 138****5678): enough to tell
people apart and to check a record against a paper form, not enough to identify or call anyone.  The
admin, the API and later screens use these functions so that a person looks the same everywhere.
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """The family name (first character) and two stars, whatever the length, so the length leaks nothing."""
    name = (name or "").strip()
    return f"{name[:1]}**" if name else ""


def mask_id_number(id_number: str) -> str:
    """Keep the region code (6) and the last 4 characters of an 18-digit (or 15-digit) ID number."""
    value = (id_number or "").strip()
    if len(value) < 11:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(phone: str) -> str:
    """Keep the first 3 and the last 4 digits of a phone number (138****5678)."""
    value = (phone or "").strip()
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]

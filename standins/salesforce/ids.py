"""Salesforce record ids: 15-character case-sensitive, 18-character case-safe.

Shape (Salesforce "Working with Record IDs" and the object reference's "ID field type"):
``PPP`` key prefix of the object (``001`` Account, ``003`` Contact, ``00Q`` Lead, ``006``
Opportunity, ``a0..`` custom objects, ``00D`` organization, ``005`` user, ``01g`` query
locator, ``750`` Bulk job), then the instance (two characters), one reserved character and nine
base-62 digits that make the id unique. The 18-character form appends three characters, one per
5-character chunk, that encode which letters of the chunk are upper case, so the id survives
case-insensitive comparison.
"""

from __future__ import annotations

import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
"""Salesforce's digit order: 0-9, then A-Z, then a-z."""

SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
"""Maps a 5-bit "which characters are upper case" mask to one suffix character."""

INSTANCE = "Dn"
"""The two "pod" characters every id minted here carries (any two base-62 characters work)."""

MAX_COUNTER = 62**9 - 1


def checksum(id15: str) -> str:
    """The three case-safe suffix characters of a 15-character id.

    Bit ``i`` of chunk ``n`` is set when character ``5n + i`` is an upper-case ASCII letter.
    """
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id (the suffix is recomputed)."""
    if len(record_id) not in (15, 18) or any(c not in BASE62 for c in record_id):
        raise ValueError(f"not a Salesforce id: {record_id!r}")
    if len(record_id) == 18:
        return _from_case_safe(record_id)
    return record_id + checksum(record_id)


def _from_case_safe(id18: str) -> str:
    """Restore the 15-character id's letter case from the suffix, then append the suffix."""
    suffix = id18[15:].upper()
    if any(c not in SUFFIX_ALPHABET for c in suffix):
        raise ValueError(f"not a Salesforce id: {id18!r}")
    chars = list(id18[:15])
    for chunk, code in enumerate(suffix):
        bits = SUFFIX_ALPHABET.index(code)
        for position in range(5):
            index = chunk * 5 + position
            upper = bool(bits & (1 << position))
            if chars[index].isalpha():
                chars[index] = chars[index].upper() if upper else chars[index].lower()
    id15 = "".join(chars)
    return id15 + checksum(id15)


def is_valid(record_id: str) -> bool:
    """True for a well-formed 15-character id or an 18-character id whose suffix matches."""
    if len(record_id) == 15:
        return all(c in BASE62 for c in record_id)
    if len(record_id) == 18 and all(c in BASE62 for c in record_id):
        return checksum(record_id[:15]) == record_id[15:]
    return False


def normalize(record_id: str) -> str | None:
    """The canonical 18-character id, or None when ``record_id`` is not an id at all."""
    if len(record_id) == 15 and is_valid(record_id):
        return record_id + checksum(record_id)
    if len(record_id) == 18 and all(c in BASE62 for c in record_id):
        try:
            return _from_case_safe(record_id)
        except ValueError:
            return None
    return None


def make(prefix: str, counter: int) -> str:
    """The 18-character id number ``counter`` of the object with key prefix ``prefix``."""
    if len(prefix) != 3 or not 0 < counter <= MAX_COUNTER:
        raise ValueError(f"cannot mint an id from {prefix!r}/{counter}")
    digits = []
    for _ in range(9):
        counter, remainder = divmod(counter, 62)
        digits.append(BASE62[remainder])
    id15 = prefix + INSTANCE + "0" + "".join(reversed(digits))
    return id15 + checksum(id15)


def counter_of(record_id: str) -> int:
    """The unique number inside an id minted by :func:`make` (its last nine base-62 digits)."""
    value = 0
    for char in record_id[6:15]:
        value = value * 62 + BASE62.index(char)
    return value

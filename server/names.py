"""Names people choose (teams, display names): what is shown, and the key that makes them unique.

A name is shown as typed once NFKC-normalised and with its spaces collapsed; characters that
cannot be seen or that reorder the text (controls, bidi overrides, zero-width characters,
fillers) are refused, and so are Latin letters mixed with Greek or Cyrillic ones (Unicode
UTS #39's "moderately restrictive" rule), the usual way to forge a look-alike. Uniqueness is
decided on :func:`name_key`: NFKC, case-folded, every kind of dash read as ``-``. So
``U-Netters``, ``u-netters`` and ``U‐Netters`` (U+2010) are one name. Pure functions: the
models, the web app and the CLI all call them.
"""

from __future__ import annotations

import re
import unicodedata

# Categories nobody can see or that change how the text around them is laid out.
INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
# Default-ignorable characters of other categories: they render as nothing.
INVISIBLE_CHARACTERS = {
    "\u034f",  # combining grapheme joiner
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",  # Hangul fillers
    "\u17b4",
    "\u17b5",  # Khmer inherent vowels
    *map(chr, range(0xFE00, 0xFE10)),  # variation selectors
    *map(chr, range(0xE0100, 0xE01F0)),
}
# Scripts that must not be mixed with Latin letters in one name (their letters look alike).
LOOKALIKE_SCRIPTS = ("GREEK", "CYRILLIC")
DASHES = re.compile(r"[\u2010-\u2015\u2212\u2043\u2e3a\u2e3b\ufe58\ufe63\uff0d\u058a\u05be]")
SPACES = re.compile(r"\s+")


class NameRefusedError(ValueError):
    """A chosen name that cannot be shown faithfully to others; the message says why."""


def _describe(character: str) -> str:
    name = unicodedata.name(character, "unnamed character")
    return f"U+{ord(character):04X} ({name})"


def _scripts(text: str) -> set[str]:
    """The scripts of the letters of ``text``, read from their Unicode names."""
    return {
        unicodedata.name(c, "?").split(" ")[0]
        for c in text
        if unicodedata.category(c).startswith("L")
    }


def clean_name(raw: str, what: str = "Name", max_length: int = 100) -> str:
    """The name to store and show: NFKC, spaces collapsed; raises :class:`NameRefusedError`."""
    name = unicodedata.normalize("NFKC", raw)
    for character in name:
        if (
            unicodedata.category(character) in INVISIBLE_CATEGORIES
            or character in INVISIBLE_CHARACTERS
        ):
            raise NameRefusedError(
                f"{what} contains an invisible or text-direction character, "
                f"{_describe(character)}: type the name again with visible characters only."
            )
    name = SPACES.sub(" ", name).strip()
    if not name:
        raise NameRefusedError(f"{what} is empty: type at least one visible character.")
    if len(name) > max_length:
        raise NameRefusedError(
            f"{what} has {len(name)} characters; at most {max_length} are accepted."
        )
    scripts = _scripts(name)
    mixed = [script for script in LOOKALIKE_SCRIPTS if script in scripts]
    if "LATIN" in scripts and mixed:
        raise NameRefusedError(
            f"{what} mixes Latin letters with {mixed[0].title()} ones, which look alike: "
            "write it in one alphabet."
        )
    return name


def name_key(name: str) -> str:
    """The comparison key of a name: two names with one key are the same name.

    Invisible characters are dropped here rather than refused, so that keys can be computed
    for names stored before they were refused (see the 0002 migration).
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join(
        c
        for c in text
        if unicodedata.category(c) not in INVISIBLE_CATEGORIES and c not in INVISIBLE_CHARACTERS
    )
    text = DASHES.sub("-", text.casefold())
    return SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def normalise_email(raw: str) -> str:
    """An email as stored and compared: NFKC, stripped, lower case, no invisible characters."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    for character in email:
        if (
            unicodedata.category(character) in INVISIBLE_CATEGORIES
            or character in INVISIBLE_CHARACTERS
        ):
            raise NameRefusedError(
                f"The email address contains an invisible character, {_describe(character)}: "
                "type it again."
            )
    return email

"""Word lists the generator draws from: names and cities per locale, e-mail domains, and slugs.

Names and most cities come from faker's locale providers (read once, never through faker's own
slow random machinery); the rest is small hand-made lists. Every list is sorted and de-duplicated
so that faker reordering a tuple between releases cannot change what a seed produces (adding or
removing words still does: the faker version is pinned in requirements.txt).

Only words that are safe in every output path survive: no tab, newline, backslash or double
quote (PostgreSQL COPY text format and our hand-built JSON rely on that), no comma in a name.
"""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass
from functools import cache

_UNSAFE = frozenset('\t\n\r\\",')

# Transliterations NFKD decomposition does not cover; the rest lose their accents via NFKD.
_TRANSLIT = str.maketrans(
    {
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "œ": "oe",
        "Œ": "OE",
    }
)

# Chinese names have no Latin letters to build an address from; people use pinyin instead.
_PINYIN = (
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "lin",
    "luo",
    "gao",
    "wei",
    "fang",
    "jie",
    "min",
    "jun",
)

_CITIES_BUILTIN = {
    "AT": (
        "Wien",
        "Graz",
        "Linz",
        "Salzburg",
        "Innsbruck",
        "Klagenfurt",
        "Villach",
        "Wels",
        "Sankt Pölten",
        "Dornbirn",
        "Steyr",
        "Feldkirch",
        "Bregenz",
        "Leoben",
        "Traun",
    ),
    "CH": (
        "Zürich",
        "Genève",
        "Basel",
        "Bern",
        "Lausanne",
        "Winterthur",
        "Luzern",
        "St. Gallen",
        "Lugano",
        "Biel/Bienne",
        "Thun",
        "Köniz",
        "Fribourg",
        "Schaffhausen",
        "Chur",
    ),
    "GB": (
        "London",
        "Birmingham",
        "Manchester",
        "Leeds",
        "Glasgow",
        "Sheffield",
        "Bradford",
        "Liverpool",
        "Edinburgh",
        "Bristol",
        "Cardiff",
        "Leicester",
        "Coventry",
        "Belfast",
        "Nottingham",
        "Newcastle upon Tyne",
        "Brighton",
        "Southampton",
        "Oxford",
        "Cambridge",
    ),
    "IE": (
        "Dublin",
        "Cork",
        "Limerick",
        "Galway",
        "Waterford",
        "Drogheda",
        "Kilkenny",
        "Sligo",
        "Dundalk",
        "Swords",
        "Bray",
        "Navan",
        "Ennis",
        "Tralee",
        "Carlow",
    ),
    "FR": (
        "Paris",
        "Marseille",
        "Lyon",
        "Toulouse",
        "Nice",
        "Nantes",
        "Montpellier",
        "Strasbourg",
        "Bordeaux",
        "Lille",
        "Rennes",
        "Reims",
        "Saint-Étienne",
        "Le Havre",
        "Toulon",
        "Grenoble",
        "Dijon",
        "Angers",
        "Nîmes",
        "Besançon",
        "Orléans",
        "Clermont-Ferrand",
        "Aix-en-Provence",
    ),
    "BE_fr": (
        "Bruxelles",
        "Liège",
        "Charleroi",
        "Namur",
        "Mons",
        "La Louvière",
        "Tournai",
        "Seraing",
        "Verviers",
        "Mouscron",
        "Wavre",
        "Arlon",
        "Ottignies-Louvain-la-Neuve",
    ),
}

#: Free-mail domains per language. All on the reserved ``.example`` TLD (RFC 2606): generated
#: data must never be a real person's address, even if someone points it at a real platform.
FREE_MAIL_DOMAINS = {
    "nl": (
        "ziggo.example",
        "kpnmail.example",
        "gmail.example",
        "hotmail.example",
        "outlook.example",
        "xs4all.example",
        "telenet.example",
    ),
    "de": (
        "web.example",
        "gmx.example",
        "t-online.example",
        "gmail.example",
        "freenet.example",
        "posteo.example",
        "outlook.example",
    ),
    "en": (
        "gmail.example",
        "outlook.example",
        "yahoo.example",
        "btinternet.example",
        "icloud.example",
        "eircom.example",
        "hotmail.example",
    ),
    "fr": (
        "orange.example",
        "free.example",
        "laposte.example",
        "gmail.example",
        "sfr.example",
        "wanadoo.example",
        "skynet.example",
    ),
}

COMPANY_SUFFIXES = {
    "NL": ("B.V.", "B.V.", "N.V.", "Groep", "& Zonen"),
    "BE": ("BV", "NV", "SRL", "SA", "& Co"),
    "DE": ("GmbH", "GmbH", "AG", "GmbH & Co. KG", "KG", "e.V."),
    "AT": ("GmbH", "AG", "KG"),
    "CH": ("AG", "GmbH", "SA"),
    "GB": ("Ltd", "Ltd", "PLC", "& Sons", "LLP"),
    "IE": ("Ltd", "DAC", "Teoranta"),
    "FR": ("SARL", "SAS", "SA", "et Fils"),
}

INDUSTRIES = (
    "retail",
    "manufacturing",
    "healthcare",
    "finance",
    "education",
    "logistics",
    "hospitality",
    "software",
    "construction",
    "energy",
    "public_sector",
    "media",
)


@dataclass(frozen=True)
class NamePool:
    """First and last names of one origin, each with its ASCII slug for e-mail local parts."""

    first: tuple[str, ...]
    last: tuple[str, ...]
    first_slug: tuple[str, ...]
    last_slug: tuple[str, ...]


def _clean(words) -> tuple[str, ...]:
    return tuple(sorted({w.strip() for w in words if w and w.strip() and not (_UNSAFE & set(w))}))


def slug(word: str) -> str:
    """ASCII letters and digits only, lower case: ``Müller-Lüdenscheidt`` -> ``muellerluedenscheidt``.

    German umlauts become ``ae/oe/ue`` (as Germans write them in addresses), other accents drop.
    Words without any Latin letter (Chinese) map to a pinyin syllable chosen by their code point.
    """
    text = word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "Ae").replace("Ö", "Oe").replace("Ü", "Ue").translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in text.lower() if c.isascii() and c.isalnum())
    return ascii_only or _PINYIN[sum(map(ord, word)) % len(_PINYIN)]


def _provider(kind: str, locale: str):
    return importlib.import_module(f"faker.providers.{kind}.{locale}").Provider


def _pool(first_words, last_words) -> NamePool:
    first, last = _clean(first_words), _clean(last_words)
    return NamePool(first, last, tuple(map(slug, first)), tuple(map(slug, last)))


@cache
def name_pools() -> dict[str, NamePool]:
    """Name pools keyed by origin: ``nl de en fr`` (one per CRM language) plus ``pl`` and ``zh``."""
    person = {loc: _provider("person", loc) for loc in ("nl_NL", "de_DE", "en_GB", "fr_FR", "pl_PL", "zh_CN")}
    return {
        "nl": _pool(person["nl_NL"].first_names, person["nl_NL"].last_names),
        "de": _pool(person["de_DE"].first_names, person["de_DE"].last_names),
        "en": _pool(person["en_GB"].first_names, person["en_GB"].last_names),
        "fr": _pool(person["fr_FR"].first_names, person["fr_FR"].last_names),
        "pl": _pool(person["pl_PL"].first_names, person["pl_PL"].unisex_last_names),
        "zh": _pool(person["zh_CN"].first_names, person["zh_CN"].last_names),
    }


@cache
def cities() -> dict[str, tuple[str, ...]]:
    """City names keyed by country (``BE_nl``/``BE_fr`` for Belgium's two language areas)."""
    result = {country: _clean(names) for country, names in _CITIES_BUILTIN.items()}
    result["NL"] = _clean(_provider("address", "nl_NL").cities)
    result["BE_nl"] = _clean(_provider("address", "nl_BE").cities)
    result["DE"] = _clean(_provider("address", "de_DE").cities)
    return result

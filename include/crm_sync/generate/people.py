"""Deterministic generation of realistic CRM rows: accounts, contacts, leads, consents, lists.

Output depends only on the ``GenerationSpec``. The contacts are cut into fixed blocks of
``BLOCK_CONTACTS``; block *b* holds contacts ``[b*B, (b+1)*B)`` plus the leads and accounts that
belong to that range by the ratios, and draws everything from its own ``random.Random`` seeded
with ``(seed, b)``. So the data never depends on how a writer groups blocks into chunks, any block
can be generated alone, and "same seed, same bytes" holds. Never change ``BLOCK_CONTACTS`` or the
order of random draws without accepting that every seed then produces different data.

Speed matters (a million contacts in seconds, not minutes): names are drawn by index from
pre-loaded word lists instead of through faker, weighted choices from flat lookup tables, and
timestamps from text tables. What the data contains, and why:

* each language nl/de/en/fr with matching countries and cities; names of that origin, plus some
  Polish (ł) and Chinese (中文) names -- non-ASCII must survive every hop to the platform;
* contacts linked to accounts of the same block, often with an address at the account's domain;
* deliberate shared addresses: leads that are the same person as a contact (address differing
  in case), duplicate contact records, contacts using their account's generic address;
* dirty addresses: missing (NULL, empty, blank), whitespace-padded, mixed-case and invalid ones,
  and a few the platform refuses (``*@blocked.example``, ``spam@``) or filters (``postmaster@``,
  ``abuse@``);
* consents per entity and consent type, granted or revoked (some revoked without a grant);
* a few entities already marked bounced; marketing-list memberships derived from attributes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

from include.crm_sync.generate import wordlists
from include.crm_sync.generate.model import Block, GenerationSpec, Row
from include.crm_sync.generate.timestamps import day_texts, epoch_seconds, time_of_day_texts

#: Contacts per generation block. Part of the data definition: changing it changes every seed.
BLOCK_CONTACTS = 1000

T = TypeVar("T")

_DAY = 86_400
_YEAR = 365 * _DAY


def _table(pairs: Sequence[tuple[T, int]]) -> tuple[T, ...]:
    """A lookup table for weighted choice: ``table[int(random() * len(table))]``."""
    return tuple(value for value, weight in pairs for _ in range(weight))


_LANGUAGES = _table([("nl", 45), ("de", 22), ("en", 18), ("fr", 15)])
_COUNTRIES = {
    "nl": _table([("NL", 85), ("BE", 15)]),
    "de": _table([("DE", 80), ("AT", 10), ("CH", 10)]),
    "en": _table([("GB", 75), ("IE", 25)]),
    "fr": _table([("FR", 70), ("BE", 20), ("CH", 10)]),
}
# Name origin: mostly the language's own, some Polish and Chinese names in every country.
_ORIGIN_OVERRIDE = _table([(None, 960), ("pl", 30), ("zh", 10)])
_TIERS = _table([("standard", 70), ("gold", 20), ("vip", 10)])
_LEAD_SOURCES = _table(
    [("website", 40), ("webinar", 20), ("trade_fair", 15), ("referral", 15), ("purchased_list", 10)]
)
_LEAD_STATUS = _table([("open", 50), ("nurturing", 30), ("qualified", 20)])
_GENERIC_LOCALS = _table([("info", 50), ("sales", 15), ("contact", 15), ("office", 10), ("hello", 10)])
_BOUNCE_CATEGORY = _table([("hardbounce", 8), ("overflow", 2)])

#: Per entity type: (consent_id, probability the entity has a row, probability it is revoked).
_CONSENT_PLAN = {
    "contact": (
        ("events", 0.25, 0.10),
        ("newsletter", 0.65, 0.10),
        ("product_updates", 0.40, 0.12),
        ("service", 0.85, 0.02),
    ),
    "lead": (
        ("events", 0.35, 0.08),
        ("newsletter", 0.55, 0.08),
        ("product_updates", 0.20, 0.10),
        ("service", 0.30, 0.02),
    ),
    "account": (
        ("events", 0.30, 0.10),
        ("newsletter", 0.50, 0.10),
        ("product_updates", 0.60, 0.10),
        ("service", 0.90, 0.01),
    ),
}

# How an address is stored, by cumulative probability (the rest is stored clean).
_P_NULL, _P_EMPTY, _P_BLANK, _P_INVALID, _P_PADDED, _P_MIXED = (0.030, 0.033, 0.035, 0.050, 0.070, 0.120)


def block_count(spec: GenerationSpec) -> int:
    return -(-spec.contacts // BLOCK_CONTACTS)


def iter_blocks(spec: GenerationSpec) -> Iterator[Block]:
    """All blocks of the data set, in order."""
    generator = BlockGenerator(spec)
    for block_no in range(block_count(spec)):
        yield generator.block(block_no)


def email_normalized(email: str | None) -> str | None:
    """``lower(trim(email))``, as the schema defines it (generated padding is spaces only)."""
    return None if email is None else email.strip(" ").lower()


class BlockGenerator:
    """Generates any block of one spec; holds the word lists and lookup tables it draws from."""

    def __init__(self, spec: GenerationSpec) -> None:
        self.spec = spec
        self.pools = wordlists.name_pools()
        self.cities = wordlists.cities()
        self.days = day_texts()
        self.tods = time_of_day_texts()
        self.as_of = epoch_seconds(spec.as_of)
        self.rand = random.Random().random  # replaced by the block's own generator in block()

    # ------------------------------------------------------------------ block

    def block(self, block_no: int) -> Block:
        spec = self.spec
        # A string seed is hashed with SHA-512 by random.Random: stable across runs and Pythons.
        self.rand = random.Random(f"crm-sync:{spec.seed}:{block_no}").random
        c0 = block_no * BLOCK_CONTACTS
        c1 = min(c0 + BLOCK_CONTACTS, spec.contacts)
        block = Block()
        accounts = [
            self._account(block, n + 1) for n in range(spec.accounts_before(c0), spec.accounts_before(c1))
        ]
        people: list[tuple] = []  # contacts whose clean address a lead may share
        for n in range(c0, c1):
            self._contact(block, n + 1, accounts, people)
        for n in range(spec.leads_before(c0), spec.leads_before(c1)):
            self._lead(block, n + 1, people)
        return block

    # ------------------------------------------------------------------ entities

    def _account(self, block: Block, number: int) -> tuple:
        rand = self.rand
        entity_id = f"A{number:08d}"
        language, country, city = self._place()
        pool = self.pools[language]
        j = int(rand() * len(pool.last))
        suffixes = wordlists.COMPANY_SUFFIXES[country]
        company = f"{pool.last[j]} {suffixes[int(rand() * len(suffixes))]}"
        # The number keeps the many "Müller GmbH"s of a large data set on different domains.
        domain = f"{pool.last_slug[j]}-{country.lower()}{number % 997}.example"
        r = rand()
        if r < 0.08:
            clean = None
        elif r < 0.095:
            clean = f"postmaster@{domain}"
        elif r < 0.10:
            clean = f"abuse@{domain}"
        else:
            clean = f"{_GENERIC_LOCALS[int(rand() * len(_GENERIC_LOCALS))]}@{domain}"
        email = self._stored(clean)
        tier = _TIERS[int(rand() * len(_TIERS))]
        industry = wordlists.INDUSTRIES[int(rand() * len(wordlists.INDUSTRIES))]
        employees = int(10 ** (1 + rand() * 3.5))
        attributes = f'{{"tier": "{tier}", "industry": "{industry}", "employees": {employees}}}'
        created, updated = self._lifetime()
        self._emit(
            block,
            entity_id,
            "account",
            email,
            None,
            None,
            company,
            language,
            city,
            country,
            attributes,
            created,
            updated,
        )
        if tier == "vip":
            block.members.append(("vip_accounts", entity_id))
        return entity_id, company, domain, clean, tier == "vip"

    def _contact(self, block: Block, number: int, accounts: list[tuple], people: list[tuple]) -> None:
        rand = self.rand
        entity_id = f"C{number:08d}"
        account = accounts[int(rand() * len(accounts))] if accounts and rand() < 0.7 else None
        r = rand()
        if people and r < 0.005:
            # A duplicate record of an earlier contact: same person, same address (maybe padded).
            first, last, first_slug, last_slug, language, city, country, clean, _ = people[
                int(rand() * len(people))
            ]
            email = clean if rand() < 0.5 else f" {clean} "
        else:
            language, country, city = self._place()
            first, last, first_slug, last_slug = self._name(language)
            if account is not None and account[3] is not None and r < 0.015:
                clean = account[3]  # uses the account's generic mailbox
            elif account is not None and rand() < 0.75:
                clean = self._local(first_slug, last_slug) + "@" + account[2]
            else:
                clean = self._free_mail(first_slug, last_slug, language)
            email = self._stored(clean)
        if email is not None and email.strip(" ") == clean and "@" in clean:
            people.append((first, last, first_slug, last_slug, language, city, country, clean, email))
        customer = rand() < 0.6
        if account is not None:
            attributes = (
                f'{{"account_id": "{account[0]}", "customer": {"true" if customer else "false"}, '
                f'"segment": "b2b", "score": {int(rand() * 101)}}}'
            )
            company = account[1]
        elif rand() < 0.97:
            attributes = (
                f'{{"customer": {"true" if customer else "false"}, '
                f'"segment": "b2c", "score": {int(rand() * 101)}}}'
            )
            company = None
        else:
            attributes = company = None
        created, updated = self._lifetime()
        self._emit(
            block,
            entity_id,
            "contact",
            email,
            first,
            last,
            company,
            language,
            city,
            country,
            attributes,
            created,
            updated,
        )
        members = block.members
        if language == "nl" and customer and attributes is not None:
            members.append(("nl_customers", entity_id))
        if account is not None and account[4]:
            members.append(("vip_accounts", entity_id))
        if rand() < 0.05:
            members.append(("webinar_attendees", entity_id))

    def _lead(self, block: Block, number: int, people: list[tuple]) -> None:
        rand = self.rand
        entity_id = f"L{number:08d}"
        if people and rand() < 0.10:
            # The same person as a contact, entered again as a lead: same address, other case.
            first, last, first_slug, last_slug, language, city, country, clean, contact_email = people[
                int(rand() * len(people))
            ]
            email = _recase(clean, rand())
            if email == contact_email.strip(" "):
                email = clean.upper() if email != clean.upper() else clean
        else:
            language, country, city = self._place()
            first, last, first_slug, last_slug = self._name(language)
            email = self._stored(self._free_mail(first_slug, last_slug, language))
        company = None
        if rand() < 0.7:
            pool = self.pools[language]
            suffixes = wordlists.COMPANY_SUFFIXES[country]
            company = f"{pool.last[int(rand() * len(pool.last))]} {suffixes[int(rand() * len(suffixes))]}"
        source = _LEAD_SOURCES[int(rand() * len(_LEAD_SOURCES))]
        status = _LEAD_STATUS[int(rand() * len(_LEAD_STATUS))]
        attributes = f'{{"lead_source": "{source}", "lead_status": "{status}", "score": {int(rand() * 101)}}}'
        created, updated = self._lifetime()
        self._emit(
            block,
            entity_id,
            "lead",
            email,
            first,
            last,
            company,
            language,
            city,
            country,
            attributes,
            created,
            updated,
        )
        if language == "de":
            block.members.append(("de_prospects", entity_id))
        if source == "webinar":
            block.members.append(("webinar_attendees", entity_id))

    def _emit(
        self,
        block: Block,
        entity_id: str,
        entity_type: str,
        email: str | None,
        first: str | None,
        last: str | None,
        company: str | None,
        language: str,
        city: str,
        country: str,
        attributes: str | None,
        created: int,
        updated: int,
    ) -> None:
        """Append the entity row (with a possible earlier hard bounce) and its consents."""
        rand = self.rand
        days, tods = self.days, self.tods
        is_bounced, bounced_at, category = "0", None, None
        if email and rand() < 0.004:
            moment = max(created, self.as_of - 2 * _YEAR) + int(rand() * 300 * _DAY)
            moment = min(moment, self.as_of - 1)
            is_bounced, category = "1", _BOUNCE_CATEGORY[int(rand() * len(_BOUNCE_CATEGORY))]
            bounced_at = days[moment // _DAY] + tods[moment % _DAY]
        block.entities.append(
            (
                entity_id,
                entity_type,
                email,
                email_normalized(email),
                first,
                last,
                company,
                language,
                city,
                country,
                attributes,
                is_bounced,
                bounced_at,
                category,
                days[created // _DAY] + tods[created % _DAY],
                days[updated // _DAY] + tods[updated % _DAY],
            )
        )
        self._consents(block.consents, entity_id, entity_type, created)

    def _consents(self, out: list[Row], entity_id: str, entity_type: str, created: int) -> None:
        rand = self.rand
        days, tods = self.days, self.tods
        as_of = self.as_of
        for consent_id, p_row, p_revoked in _CONSENT_PLAN[entity_type]:
            if rand() >= p_row:
                continue
            granted = created + int(rand() * (as_of - created))
            if rand() < p_revoked:
                if rand() < 0.15:  # opted out without ever having opted in
                    revoked, granted_text = granted, None
                else:
                    revoked = granted + int(rand() * (as_of - granted))
                    granted_text = days[granted // _DAY] + tods[granted % _DAY]
                revoked_text = days[revoked // _DAY] + tods[revoked % _DAY]
                out.append(
                    (entity_id, consent_id, "revoked", granted_text, revoked_text, "crm", revoked_text)
                )
            else:
                granted_text = days[granted // _DAY] + tods[granted % _DAY]
                out.append((entity_id, consent_id, "granted", granted_text, None, "crm", granted_text))

    # ------------------------------------------------------------------ fields

    def _lifetime(self) -> tuple[int, int]:
        """Created within eight years before ``as_of``, last updated some time after that."""
        rand = self.rand
        created = self.as_of - 8 * _YEAR + int(rand() * (8 * _YEAR - _DAY))
        return created, created + int(rand() * (self.as_of - created))

    def _place(self) -> tuple[str, str, str]:
        rand = self.rand
        language = _LANGUAGES[int(rand() * len(_LANGUAGES))]
        countries = _COUNTRIES[language]
        country = countries[int(rand() * len(countries))]
        key = f"BE_{'nl' if language == 'nl' else 'fr'}" if country == "BE" else country
        cities = self.cities[key]
        return language, country, cities[int(rand() * len(cities))]

    def _name(self, language: str) -> tuple[str, str, str, str]:
        rand = self.rand
        origin = _ORIGIN_OVERRIDE[int(rand() * len(_ORIGIN_OVERRIDE))] or language
        pool = self.pools[origin]
        i = int(rand() * len(pool.first))
        j = int(rand() * len(pool.last))
        return pool.first[i], pool.last[j], pool.first_slug[i], pool.last_slug[j]

    def _local(self, first: str, last: str) -> str:
        """An e-mail local part built from name slugs the way people build theirs."""
        rand = self.rand
        r = rand()
        if r < 0.30:
            return f"{first}.{last}"
        if r < 0.45:
            return f"{first[0]}.{last}"
        if r < 0.55:
            return f"{first}{last}"
        if r < 0.75:
            return f"{first}.{last}{1 + int(rand() * 99)}"
        if r < 0.85:
            return f"{first}{(50 + int(rand() * 56)) % 100:02d}"
        if r < 0.90:
            return f"{last}.{first}"
        return f"{first}_{last}{1 + int(rand() * 999)}"

    def _free_mail(self, first: str, last: str, language: str) -> str:
        rand = self.rand
        local = self._local(first, last)
        if rand() < 0.6 and not local[-1].isdigit():  # free-mail names are mostly taken
            local += str(1 + int(rand() * 9999))
        domains = wordlists.FREE_MAIL_DOMAINS[language]
        return f"{local}@{domains[int(rand() * len(domains))]}"

    def _stored(self, clean: str | None) -> str | None:
        """The address as the CRM holds it: the clean one, or missing/dirty/refused variants."""
        if clean is None:
            return None
        rand = self.rand
        r = rand()
        if r < 0.003:
            clean = clean.split("@")[0] + "@blocked.example"  # blocklisted domain on the platform
        elif r < 0.0035:
            clean = "spam@" + clean.split("@")[1]  # blocklisted local part
        elif r < 0.0045:
            clean = ("postmaster@" if r < 0.004 else "abuse@") + clean.split("@")[1]  # filtered
        r = rand()
        if r >= _P_MIXED:
            return clean
        if r < _P_NULL:
            return None
        if r < _P_EMPTY:
            return ""
        if r < _P_BLANK:
            return "   "
        if r < _P_INVALID:
            return _invalid(clean, rand())
        if r < _P_PADDED:
            return (" " * (1 + int(rand() * 2))) + clean if rand() < 0.5 else clean + " "
        return _recase(clean, rand())


def _recase(address: str, r: float) -> str:
    """The same address in other letter case (always differs from the all-lower-case input)."""
    local, _, domain = address.partition("@")
    if r < 0.6:
        recased = ".".join(part[:1].upper() + part[1:] for part in local.split(".")) + "@" + domain
    elif r < 0.8:
        recased = address.upper()
    else:
        recased = local + "@" + domain.upper()
    return recased if recased != address else address.upper()


def _invalid(address: str, r: float) -> str:
    """A syntactically invalid address derived from a valid one, as typos and bad imports make."""
    local, _, domain = address.partition("@")
    if r < 0.2:
        return f"{local}.{domain}"  # the @ lost
    if r < 0.35:
        return f"{local}@@{domain}"
    if r < 0.5:
        return f"{local} {local[:1]}@{domain}"  # space inside
    if r < 0.65:
        return f"{local}@{domain.replace('.', ',', 1)}"  # comma for dot
    if r < 0.8:
        return f"{local}..x@{domain}"  # consecutive dots
    if r < 0.9:
        return f"@{domain}"
    return f"{local}@"

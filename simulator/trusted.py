"""Trusted identities abused: smugglers adapting to a green lane.

A green lane releases AEO traders and parties with a long clean record without a check, so
organised smuggling learns to hide behind them: goods slipped into a certified trader's
consignments or sent under its name, and "clean skin" couriers recruited because they have
no record. :func:`disguise` rewrites the party of an illicit event as a trusted one: an AEO
shipper of the consignment's origin (courier), an established company of the origin as the
sender (postal), a frequent traveller's identity (passenger). ``HubWorld(trusted_abuse=...)``
does so for a share of the illicit events from its drift on.

>>> import random
>>> from simulator.population import Population
>>> population = Population(seed=0)
>>> record = {"origin_country": "CN", "shipper_id": "x", "shipper_name": "x",
...           "shipper_address": "x", "aeo_status": "none"}
>>> disguised = disguise("courier", record, population, random.Random(1))
>>> disguised["aeo_status"] != "none", record["aeo_status"]
(True, 'none')
"""

from __future__ import annotations

import random
from typing import Any

from simulator.population import Population

__all__ = ["disguise"]


def disguise(
    stream: str, record: dict[str, Any], population: Population, rng: random.Random
) -> dict[str, Any]:
    """A copy of ``record`` whose party is a trusted one (the record itself if none fits)."""
    if stream == "courier":
        pool = population.shippers.get(record.get("origin_country") or "")
        certified = [party for party in pool.members if party.aeo != "none"] if pool else []
        if not certified:
            return record
        shipper = rng.choice(certified)
        return {**record, "shipper_id": shipper.ident, "shipper_name": shipper.name,
                "shipper_address": shipper.address, "aeo_status": shipper.aeo}
    if stream == "postal":
        pool = population.shippers.get(record.get("origin_country") or "")
        if pool is None:
            return record
        sender = pool.pick(rng)
        return {**record, "sender_name": sender.name, "sender_address": sender.address}
    traveller = population.frequent_travellers.pick(rng)
    disguised = {**record, "traveller_name": traveller.name,
                 "document_number": traveller.document}
    for field, value in (("date_of_birth", traveller.birth_date), ("phone", traveller.phone),
                         ("nationality", traveller.nationality)):
        if record.get(field) is not None:
            disguised[field] = value
    return disguised

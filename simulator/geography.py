"""Countries, airports and flights of the synthetic world.

Airports and carriers are real IATA codes so records look familiar, but which routes are
risky, and which carriers send late passenger data, is a property of this simulation only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Country:
    """A country as the simulator needs it: codes, airports, places and how names look.

    >>> COUNTRIES["TR"].alpha3, COUNTRIES["TR"].airports[0]
    ('TUR', 'IST')
    """

    alpha2: str
    alpha3: str
    names: str
    airports: tuple[str, ...]
    cities: tuple[str, ...]
    phone_prefix: str
    postcode_digits: int = 5


def _country(
    alpha2: str, alpha3: str, names: str, airports: str, cities: str, phone: str, digits: int = 5
) -> Country:
    return Country(
        alpha2, alpha3, names, tuple(airports.split()), tuple(cities.split("|")), phone, digits
    )


COUNTRIES: Mapping[str, Country] = {
    c.alpha2: c
    for c in (
        _country("DE", "DEU", "de", "FRA MUC LEJ CGN", "Berlin|Hamburg|München|Köln|Leipzig|"
                 "Frankfurt am Main|Stuttgart|Dresden|Hannover|Nürnberg", "49"),
        _country("AT", "AUT", "de", "VIE", "Wien|Graz|Linz", "43", 4),
        _country("PL", "POL", "pl", "WAW", "Warszawa|Kraków|Wrocław", "48"),
        _country("CZ", "CZE", "pl", "PRG", "Praha|Brno", "420"),
        _country("NL", "NLD", "en", "AMS", "Amsterdam|Rotterdam|Utrecht", "31", 4),
        _country("FR", "FRA", "fr", "CDG", "Paris|Lyon|Strasbourg", "33"),
        _country("DK", "DNK", "en", "CPH", "København|Aarhus", "45", 4),
        _country("CN", "CHN", "zh", "PVG PEK CAN SZX CTU", "Shenzhen|Guangzhou|Shanghai|Yiwu|"
                 "Ningbo|Dongguan|Beijing|Hangzhou", "86", 6),
        _country("HK", "HKG", "zh", "HKG", "Hong Kong|Kowloon|Tsuen Wan", "852", 0),
        _country("TW", "TWN", "zh", "TPE", "Taipei|Taichung|Hsinchu", "886"),
        _country("VN", "VNM", "vi", "SGN HAN", "Ho Chi Minh City|Hanoi|Hai Phong", "84", 6),
        _country("KR", "KOR", "ko", "ICN", "Seoul|Busan|Incheon", "82"),
        _country("JP", "JPN", "ja", "NRT HND KIX", "Tokyo|Osaka|Nagoya", "81", 7),
        _country("IN", "IND", "sa", "DEL BOM BLR MAA", "Mumbai|Delhi|Bengaluru|Chennai|Jaipur",
                 "91", 6),
        _country("PK", "PAK", "sa", "KHI LHE ISB", "Karachi|Lahore|Sialkot|Faisalabad", "92"),
        _country("BD", "BGD", "sa", "DAC", "Dhaka|Chittagong|Gazipur", "880", 4),
        _country("LK", "LKA", "sa", "CMB", "Colombo|Kandy", "94"),
        _country("TH", "THA", "th", "BKK", "Bangkok|Chiang Mai|Phuket", "66"),
        _country("MY", "MYS", "sea", "KUL", "Kuala Lumpur|Penang|Johor Bahru", "60"),
        _country("SG", "SGP", "zh", "SIN", "Singapore", "65", 6),
        _country("ID", "IDN", "sea", "CGK", "Jakarta|Surabaya|Bandung", "62"),
        _country("TR", "TUR", "tr", "IST SAW ESB AYT", "İstanbul|Ankara|İzmir|Bursa|Antalya",
                 "90"),
        _country("AE", "ARE", "ar", "DXB AUH", "Dubai|Abu Dhabi|Sharjah", "971", 0),
        _country("QA", "QAT", "ar", "DOH", "Doha", "974", 0),
        _country("EG", "EGY", "ar", "CAI HRG", "Cairo|Alexandria|Hurghada", "20"),
        _country("MA", "MAR", "ar", "CMN", "Casablanca|Marrakech|Rabat", "212"),
        _country("IL", "ISR", "en", "TLV", "Tel Aviv|Haifa|Jerusalem", "972", 7),
        _country("US", "USA", "en", "JFK ORD LAX MIA ATL MEM CVG SFO", "New York|Chicago|"
                 "Los Angeles|Miami|Memphis|Seattle|Houston|San Jose", "1"),
        _country("CA", "CAN", "en", "YYZ YUL", "Toronto|Montréal|Vancouver", "1", 6),
        _country("MX", "MEX", "es", "MEX", "Ciudad de México|Guadalajara|Monterrey", "52"),
        _country("BR", "BRA", "pt", "GRU GIG", "São Paulo|Rio de Janeiro|Curitiba", "55", 8),
        _country("AR", "ARG", "es", "EZE", "Buenos Aires|Córdoba", "54", 4),
        _country("CO", "COL", "es", "BOG MDE", "Bogotá|Medellín|Cali", "57", 6),
        _country("PE", "PER", "es", "LIM", "Lima|Cusco|Arequipa", "51"),
        _country("EC", "ECU", "es", "UIO GYE", "Quito|Guayaquil", "593", 6),
        _country("PY", "PRY", "es", "ASU", "Asunción|Ciudad del Este", "595", 4),
        _country("PA", "PAN", "es", "PTY", "Ciudad de Panamá|Colón", "507", 4),
        _country("GB", "GBR", "en", "LHR EMA MAN", "London|Manchester|Birmingham|Leeds", "44",
                 0),
        _country("CH", "CHE", "de", "ZRH GVA BSL", "Zürich|Genève|Basel|Bern", "41", 4),
        _country("NO", "NOR", "en", "OSL", "Oslo|Bergen", "47", 4),
        _country("ET", "ETH", "af", "ADD", "Addis Ababa", "251", 4),
        _country("NG", "NGA", "af", "LOS ABV", "Lagos|Abuja|Kano", "234", 6),
        _country("GH", "GHA", "af", "ACC", "Accra|Kumasi", "233", 0),
        _country("KE", "KEN", "af", "NBO", "Nairobi|Mombasa", "254"),
        _country("ZA", "ZAF", "en", "JNB", "Johannesburg|Cape Town|Durban", "27", 4),
    )
}

#: Country of every airport in the table above.
AIRPORT_COUNTRY: Mapping[str, str] = {
    airport: country.alpha2 for country in COUNTRIES.values() for airport in country.airports
}

#: EU countries a German hub forwards consignments to (the destination is DE otherwise).
ONWARD_DESTINATIONS: tuple[str, ...] = ("AT", "PL", "CZ", "NL", "FR", "DK")

#: Non-EU airports where courier and passenger traffic changes planes on its way in.
TRANSIT_AIRPORTS: tuple[str, ...] = ("HKG", "DXB", "IST", "DOH", "LHR", "ADD", "ANC")

#: Inbound passenger flights: departure airport -> (weight of traffic, operating carriers).
PASSENGER_DEPARTURES: Mapping[str, tuple[float, tuple[str, ...]]] = {
    "JFK": (5, ("LH", "UA", "DL", "SQ")), "ORD": (3, ("LH", "UA")), "LAX": (2, ("LH",)),
    "YYZ": (2, ("LH", "AC")), "MIA": (1, ("LH",)), "LHR": (6, ("LH", "BA")),
    "ZRH": (3, ("LX", "LH")), "OSL": (2, ("LH", "SK")), "DXB": (4, ("EK", "LH")),
    "DOH": (3, ("QR",)), "IST": (5, ("TK", "LH")), "SAW": (2, ("PC",)),
    "AYT": (4, ("DE", "X3", "XQ")), "HRG": (2, ("DE", "X3")), "BKK": (2, ("TG", "LH")),
    "SIN": (2, ("SQ", "LH")), "PVG": (2, ("LH", "MU")), "PEK": (2, ("CA", "LH")),
    "HND": (2, ("NH", "LH")), "ICN": (1.5, ("KE", "LH")), "DEL": (2, ("AI", "LH")),
    "BOM": (1.5, ("LH", "AI")), "GRU": (1.2, ("LH", "LA")), "BOG": (0.8, ("LH", "AV")),
    "PTY": (0.4, ("LH", "CM")), "MEX": (1, ("LH", "AM")), "EZE": (0.8, ("LH",)),
    "LOS": (0.6, ("LH",)), "ACC": (0.5, ("LH", "KP")), "ADD": (0.8, ("ET",)),
    "NBO": (0.5, ("KQ", "LH")), "CMN": (0.8, ("AT", "LH")), "CAI": (1.5, ("MS", "LH")),
    "TLV": (1.5, ("LY", "LH")), "JNB": (1, ("LH", "SA")),
}

#: Leisure charter carriers that, in this world, often send API data late or incomplete for
#: perfectly ordinary passengers: noise a model must not mistake for risk.
LATE_API_CARRIERS: frozenset[str] = frozenset({"DE", "X3"})


def hub_airport(hub: str) -> str:
    """IATA code of a hub named like ``hub_FRA``.

    >>> hub_airport("hub_LEJ")
    'LEJ'
    """
    return hub.rsplit("_", 1)[-1].upper()

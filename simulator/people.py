"""Synthetic people and companies: names, addresses, phones and identifiers.

Everything is assembled from short lists plus random digits, so values look like the real
thing to a human and to a parser, but belong to nobody. Builders take the caller's
``random.Random`` so they stay deterministic.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from simulator.geography import COUNTRIES, Country


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# region -> (first names, family names, street names); "{}" marks where the number goes.
_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (_split("Anna Lukas Marie Jonas Sophie Leon Lena Felix Laura Paul Julia Maximilian "
                  "Sarah Tim Katharina Jan Hannah Niklas Lea Tobias"),
           _split("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
                  "Koch Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger")),
    "pl": (_split("Anna Piotr Katarzyna Tomasz Magdalena Jan Agnieszka Paweł Ewa Marek"),
           _split("Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński")),
    "fr": (_split("Camille Louis Léa Hugo Chloé Lucas Manon Jules Inès Théo"),
           _split("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau")),
    "en": (_split("James Emma Oliver Olivia William Ava Michael Sophia David Isabella Daniel "
                  "Mia John Emily Robert Grace Thomas Chloe Andrew Hannah"),
           _split("Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Clark Lewis "
                  "Walker Hall Allen Young King Wright Scott Green Baker")),
    "zh": (_split("Wei Fang Min Jing Lei Yan Jun Li Hao Xin Yong Hui Tao Ying Qiang Mei Bo "
                  "Lin Chen Yu"),
           _split("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin "
                  "Gao Luo")),
    "vi": (_split("Anh Minh Linh Huy Trang Duc Thao Nam Hoa Long"),
           _split("Nguyen Tran Le Pham Hoang Phan Vu Dang Bui Do")),
    "ko": (_split("Min-jun Seo-yeon Ji-ho Ha-eun Do-yun Ji-woo Seo-jun Su-bin"),
           _split("Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim")),
    "ja": (_split("Haruto Yui Sota Hina Yuto Aoi Riku Sakura Kenji Yuki"),
           _split("Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato")),
    "sa": (_split("Aarav Priya Rahul Ananya Vikram Sneha Arjun Kavya Imran Ayesha Rohan Fatima "
                  "Sanjay Neha Farhan Nadia"),
           _split("Sharma Patel Singh Kumar Gupta Reddy Khan Iyer Das Chowdhury Rahman Mehta "
                  "Nair Joshi Hussain Perera")),
    "th": (_split("Somchai Suda Niran Malee Anan Ploy Kittisak Siriporn"),
           _split("Saetang Srisuk Wongsa Chaiyaporn Boonmee Rattanakul Suwan Thongchai")),
    "sea": (_split("Ahmad Siti Budi Dewi Rizal Nur Hafiz Putri Agus Aisyah"),
            _split("Abdullah Santoso Wijaya Rahman Hassan Ibrahim Setiawan Tan Lim Halim")),
    "tr": (_split("Mehmet Ayşe Mustafa Fatma Ahmet Emine Ali Zeynep Hüseyin Elif Emre Merve "
                  "Burak Esra"),
           # Turkish spelling: the dotless i (U+0131) is intended.
           _split("Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir "  # noqa: RUF001
                  "Arslan Doğan Kılıç Aslan")),  # noqa: RUF001
    "ar": (_split("Mohammed Fatima Ahmed Aisha Omar Mariam Youssef Layla Khalid Noor Hassan "
                  "Salma"),
           _split("Al-Mansouri Haddad Khalil Nasser Saleh Hamdan Farouk Aziz Karim Rashid "
                  "El-Amin Bakr")),
    "es": (_split("Santiago Valentina Mateo Camila Sebastián Isabella Diego Lucía Alejandro "
                  "Sofía Andrés Daniela Carlos María"),
           _split("García Rodríguez Martínez López González Hernández Pérez Sánchez Ramírez "
                  "Torres Flores Rivera Gómez Díaz")),
    "pt": (_split("João Maria Pedro Ana Lucas Juliana Gabriel Beatriz Rafael Larissa"),
           _split("Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Costa")),
    "af": (_split("Chinedu Ama Kwame Ngozi Tunde Abena Emeka Fatou Yaw Amina Kofi Adaeze"),
           _split("Okafor Mensah Adeyemi Boateng Owusu Okonkwo Asante Bello Tesfaye Kamau "
                  "Osei Mwangi")),
}

_STREETS: dict[str, tuple[str, ...]] = {
    "de": ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schulstraße", "Lindenallee",
           "Bergstraße", "Kirchgasse", "Waldstraße", "Rosenweg", "Am Markt"),
    "en": ("High Street", "Main Street", "Park Avenue", "Oak Road", "Church Lane",
           "Maple Drive", "Station Road", "Elm Street"),
    "zh": ("Renmin Road", "Jianshe Road", "Zhongshan Road", "Industrial Park Road",
           "Huaqiang North Road", "Nanjing Road"),
    "tr": ("Atatürk Caddesi", "Cumhuriyet Caddesi", "İstiklal Caddesi", "Gül Sokak"),
    "es": ("Calle Mayor", "Avenida Bolívar", "Calle 45", "Carrera 7", "Avenida Central"),
    "pt": ("Rua das Flores", "Avenida Paulista", "Rua Augusta", "Rua do Comércio"),
    "ar": ("Sheikh Zayed Road", "Al Wasl Road", "Corniche Street", "King Faisal Street"),
}
_STREET_REGION = {"pl": "de", "fr": "de", "vi": "zh", "ko": "zh", "ja": "zh", "th": "en",
                  "sea": "en", "sa": "en", "af": "en"}

_COMPANY_WORDS = _split(
    "Global Bright Star Sun Golden Pacific Future Smart Green Ocean United Royal Prime Eagle "
    "Dragon Silver Blue Summit Apex Nova"
)
_COMPANY_NOUNS = _split(
    "Trading Electronics Textiles Logistics Technology Imports Exports Supply Industries "
    "Commerce Goods Retail Manufacturing Solutions"
)
_COMPANY_SUFFIX = {"CN": "Co., Ltd.", "HK": "Limited", "TW": "Co., Ltd.", "KR": "Co., Ltd.",
                   "JP": "K.K.", "US": "LLC", "CA": "Inc.", "GB": "Ltd", "DE": "GmbH",
                   "AT": "GmbH", "CH": "AG", "TR": "Ltd. Şti.", "IN": "Pvt. Ltd.",
                   "PK": "Pvt. Ltd.", "BR": "Ltda.", "AE": "LLC", "FR": "SARL", "PL": "Sp. z o.o."}

_DOCUMENT_CHARS = "CFGHJKLMNPRTVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class Party:
    """A shipper, consignee, sender or addressee; ``ident`` is an account, EORI or id number."""

    ident: str
    name: str
    address: str
    country: str
    phone: str
    aeo: str = "none"


@dataclass(frozen=True, slots=True)
class Traveller:
    """A passenger with the identity data an API/PNR message carries."""

    name: str
    document: str
    birth_date: str
    phone: str
    nationality: str
    trips_per_year: int


def name_region(country: str) -> str:
    """Which name list fits people of ``country``."""
    found = COUNTRIES.get(country)
    return found.names if found else "en"


def person_name(rng: random.Random, country: str) -> str:
    """A plausible full name for someone from ``country``.

    >>> person_name(random.Random(1), "DE")
    'Sophie Braun'
    """
    firsts, lasts = _NAMES[name_region(country)]
    return f"{rng.choice(firsts)} {rng.choice(lasts)}"


def _country(code: str) -> Country:
    return COUNTRIES.get(code) or COUNTRIES["US"]


def postal_address(rng: random.Random, country: str) -> str:
    """A street address with house number, postcode and city in ``country``.

    >>> postal_address(random.Random(1), "DE")
    'Gartenweg 146, 43432 Hamburg, DE'
    """
    place = _country(country)
    region = place.names
    streets = _STREETS.get(region) or _STREETS[_STREET_REGION.get(region, "en")]
    street = f"{rng.choice(streets)} {rng.randint(1, 220)}"
    city = rng.choice(place.cities)
    if place.postcode_digits:
        low = 10 ** (place.postcode_digits - 1)
        city = f"{rng.randint(low, 10 * low - 1)} {city}"
    return f"{street}, {city}, {place.alpha2}"


def phone_number(rng: random.Random, country: str) -> str:
    """An international phone number for ``country``.

    >>> phone_number(random.Random(1), "DE")
    '+49 1568 2058756'
    """
    prefix = _country(country).phone_prefix
    return f"+{prefix} {rng.randint(1500, 1799)} {rng.randint(1_000_000, 9_999_999)}"


def company_name(rng: random.Random, country: str) -> str:
    """A trading company name in the style of ``country``.

    >>> company_name(random.Random(3), "CN")
    'Shanghai Smart Commerce Co., Ltd.'
    """
    place = _country(country)
    suffix = _COMPANY_SUFFIX.get(country, "Ltd.")
    words = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_NOUNS)}"
    if country in ("CN", "HK", "TW"):
        return f"{rng.choice(place.cities)} {words} {suffix}"
    if country in ("DE", "AT", "CH"):
        return f"{rng.choice(_NAMES['de'][1])} {words} {suffix}"
    return f"{words} {suffix}"


def eori(rng: random.Random, country: str) -> str:
    """An EORI-shaped trader number: country code plus up to 15 digits."""
    return f"{country}{rng.randint(10**11, 10**13 - 1)}"


def company(rng: random.Random, country: str, aeo: str = "none") -> Party:
    """A trading company registered in ``country``."""
    return Party(
        eori(rng, country),
        company_name(rng, country),
        postal_address(rng, country),
        country,
        phone_number(rng, country),
        aeo,
    )


def private_person(rng: random.Random, country: str) -> Party:
    """A private person with a courier customer account number."""
    return Party(
        f"C{rng.randint(10**9, 10**10 - 1)}",
        person_name(rng, country),
        postal_address(rng, country),
        country,
        phone_number(rng, country),
    )


def birth_date(rng: random.Random) -> str:
    """ISO date of birth of an adult (born 1944 to 2006)."""
    return f"{rng.randint(1944, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def travel_document(rng: random.Random, country: str) -> str:
    """A passport number: German style for DE, letter plus eight digits elsewhere."""
    if country == "DE":
        return "C" + "".join(rng.choices(_DOCUMENT_CHARS, k=8))
    return rng.choice(string.ascii_uppercase) + str(rng.randint(10**7, 10**8 - 1))


def traveller(rng: random.Random, country: str, trips_per_year: int) -> Traveller:
    """A passenger who holds a passport of ``country``."""
    return Traveller(
        person_name(rng, country),
        travel_document(rng, country),
        birth_date(rng),
        phone_number(rng, country),
        _country(country).alpha3,
        trips_per_year,
    )

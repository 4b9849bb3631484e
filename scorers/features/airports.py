"""Country of an airport: where a consignment's route says it was dispatched from.

A courier record's ``route`` lists IATA airport codes, dispatch point first. Comparing the
dispatch country with the declared origin needs each airport's country; this table holds the
airports of the major air-cargo lanes into Europe (the simulator's and the benchmark
worlds' among them). An airport missing here simply gives no dispatch country: a check
that needs it stays silent rather than guessing. Extend the table for other lanes.

>>> AIRPORT_COUNTRY["HKG"], airport_country("pvg"), airport_country("XXX") is None
('HK', 'CN', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_BY_COUNTRY = {
    # Europe
    "DE": "FRA MUC LEJ CGN HAM TXL BER DUS STR HHN NUE",
    "AT": "VIE", "PL": "WAW KTW", "CZ": "PRG", "NL": "AMS MST", "FR": "CDG ORY LYS MRS",
    "DK": "CPH BLL", "BE": "BRU LGG", "LU": "LUX", "IT": "MXP FCO BGY", "ES": "MAD BCN ZAZ",
    "PT": "LIS", "IE": "DUB SNN", "SE": "ARN", "FI": "HEL", "HU": "BUD", "RO": "OTP",
    "GR": "ATH", "GB": "LHR EMA MAN STN LGW", "CH": "ZRH GVA BSL", "NO": "OSL",
    "IS": "KEF", "RS": "BEG", "UA": "KBP", "RU": "SVO DME",
    # Asia
    "CN": "PVG PEK PKX CAN SZX CTU CGO HGH XMN NGB TSN",
    "HK": "HKG", "MO": "MFM", "TW": "TPE", "VN": "SGN HAN DAD", "KR": "ICN GMP",
    "JP": "NRT HND KIX NGO", "IN": "DEL BOM BLR MAA HYD CCU", "PK": "KHI LHE ISB SKT",
    "BD": "DAC CGP", "LK": "CMB", "TH": "BKK DMK", "MY": "KUL PEN", "SG": "SIN",
    "ID": "CGK SUB", "PH": "MNL CEB", "KH": "PNH", "MM": "RGN", "NP": "KTM",
    "KZ": "ALA NQZ", "UZ": "TAS",
    # Middle East
    "TR": "IST SAW ESB AYT ADB", "AE": "DXB DWC AUH SHJ", "QA": "DOH", "SA": "RUH JED DMM",
    "OM": "MCT", "BH": "BAH", "KW": "KWI", "IL": "TLV", "JO": "AMM", "LB": "BEY",
    "IR": "IKA",
    # Africa
    "EG": "CAI HRG", "MA": "CMN RAK", "TN": "TUN", "DZ": "ALG", "ET": "ADD", "NG": "LOS ABV",
    "GH": "ACC", "KE": "NBO", "ZA": "JNB CPT", "SN": "DSS",
    # Americas
    "US": "JFK ORD LAX MIA ATL MEM CVG SFO ANC IAH DFW SDF ONT SEA EWR",
    "CA": "YYZ YUL YVR", "MX": "MEX GDL", "BR": "GRU GIG VCP", "AR": "EZE", "CO": "BOG MDE",
    "PE": "LIM", "EC": "UIO GYE", "PY": "ASU", "PA": "PTY", "CL": "SCL", "VE": "CCS",
    "DO": "SDQ", "CW": "CUR",
    # Oceania
    "AU": "SYD MEL", "NZ": "AKL",
}

#: IATA airport code -> ISO 3166-1 alpha-2 country.
AIRPORT_COUNTRY: Mapping[str, str] = MappingProxyType(
    {airport: country for country, codes in _BY_COUNTRY.items() for airport in codes.split()}
)


def airport_country(airport: str) -> str | None:
    """The country of an IATA airport code, ``None`` when the table does not know it."""
    return AIRPORT_COUNTRY.get(airport.strip().upper())

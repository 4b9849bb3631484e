"""Rules and watch lists: operators, strict loading with lines, safe evaluation, privacy."""

from __future__ import annotations

import copy
import functools
import json
import math
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers.base import Reason, explain, risk_of
from scorers.rules import FEATURE_NAMES, RuleBook, RuleFileError, RuleHit, personal_fields

AVRO = Path(__file__).resolve().parents[1] / "schemas" / "avro"
EVENT_SCHEMAS = ["CourierConsignment", "PostalItem", "PassengerRecord"]

WATCHLISTS = """\
watchlists:
  airports: [BOG, GRU]
  prefixes: ['2402', '93']
  words: [Phone, LAPTOP]
"""


def book_for(when: str, stream: str = '"*"', **extra: str) -> RuleBook:
    """A rule book with one rule 't' whose `when:` block is ``when``."""
    lines = [
        WATCHLISTS,
        "rules:",
        "  - id: t",
        f"    stream: {stream}",
        "    when:",
        textwrap.indent(textwrap.dedent(when).strip(), "      "),
        "    severity: 0.5",
        "    reason: fired",
    ]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    return RuleBook.from_text("\n".join(lines))


def fires(when: str, x: dict[str, Any]) -> bool:
    return book_for(when).score_one(x) == 0.5


OPERATOR_CASES = [
    # (when, record, expected)
    ("category: gift", {"category": "gift"}, True),
    ("category: gift", {"category": "sale"}, False),
    ("category: {eq: gift}", {"category": "gift"}, True),
    ("cash: true", {"cash": True}, True),
    ("cash: true", {"cash": 1.0}, True),
    ("cash: true", {"cash": False}, False),
    ("category: {ne: gift}", {"category": "sale"}, True),
    ("category: {ne: gift}", {"category": "gift"}, False),
    ("category: {in: [gift, sample]}", {"category": "sample"}, True),
    ("category: {in: [gift, sample]}", {"category": "sale"}, False),
    ("category: {not_in: [gift, sample]}", {"category": "sale"}, True),
    ("category: {not_in: [gift, sample]}", {"category": "gift"}, False),
    ("value_eur: {lt: 45}", {"value_eur": 44.99}, True),
    ("value_eur: {lt: 45}", {"value_eur": 45}, False),
    ("value_eur: {le: 45}", {"value_eur": 45.0}, True),
    ("value_eur: {le: 45}", {"value_eur": 45.01}, False),
    ("value_eur: {gt: 45}", {"value_eur": 45.01}, True),
    ("value_eur: {gt: 45}", {"value_eur": 45}, False),
    ("value_eur: {ge: 45}", {"value_eur": 45}, True),
    ("value_eur: {ge: 45}", {"value_eur": 44}, False),
    ("weight_kg: {between: [0.5, 2]}", {"weight_kg": 0.5}, True),
    ("weight_kg: {between: [0.5, 2]}", {"weight_kg": 2}, True),
    ("weight_kg: {between: [0.5, 2]}", {"weight_kg": 2.01}, False),
    ("hs6: {startswith: '85'}", {"hs6": "851712"}, True),
    ("hs6: {startswith: ['2402', '93']}", {"hs6": "930200"}, True),
    ("hs6: {startswith: ['2402', '93']}", {"hs6": "240399"}, False),
    ("hs6: {startswith: {watchlist: prefixes}}", {"hs6": "240220"}, True),
    ("goods_description: {contains: phone}", {"goods_description": "Mobile PHONE case"}, True),
    ("goods_description: {contains: [tablet, Laptop]}", {"goods_description": "laptops"}, True),
    ("goods_description: {contains: phone}", {"goods_description": "shoes"}, False),
    ("goods_description: {contains: {watchlist: words}}", {"goods_description": "a phone"}, True),
    ("departure_airport: {in_watchlist: airports}", {"departure_airport": "GRU"}, True),
    ("departure_airport: {in_watchlist: airports}", {"departure_airport": "LHR"}, False),
    ("departure_airport: {not_in_watchlist: airports}", {"departure_airport": "LHR"}, True),
    ("departure_airport: {in: {watchlist: airports}}", {"departure_airport": "BOG"}, True),
    ("hs6: {missing: true}", {}, True),
    ("hs6: {missing: true}", {"hs6": None}, True),
    ("hs6: {missing: true}", {"hs6": "  "}, True),
    ("value_eur: {missing: true}", {"value_eur": math.nan}, True),
    ("hs6: {missing: true}", {"hs6": "851712"}, False),
    ("hs6: {missing: false}", {"hs6": "851712"}, True),
    ("hs6: {present: true}", {"hs6": "851712"}, True),
    ("hs6: {present: true}", {"hs6": ""}, False),
    ("hs6: {present: false}", {}, True),
    # several operators on one field, several fields in one mapping: all must hold
    ("value_eur: {gt: 10, lt: 20}", {"value_eur": 15}, True),
    ("value_eur: {gt: 10, lt: 20}", {"value_eur": 25}, False),
    ("{category: gift, value_eur: {gt: 45}}", {"category": "gift", "value_eur": 50}, True),
    ("{category: gift, value_eur: {gt: 45}}", {"category": "gift", "value_eur": 40}, False),
    # list fields match when any element does
    ("route: {in: [PTY, CUR]}", {"route": ["CN", "PTY", "DE"]}, True),
    ("route: {not_in: [PTY, CUR]}", {"route": ["CN", "PTY", "DE"]}, False),
    ("itinerary: {contains: bog}", {"itinerary": ["FRA", "BOG"]}, True),
    ("itinerary: {startswith: B}", {"itinerary": ["FRA", "BOG"]}, True),
]


@pytest.mark.parametrize(("when", "x", "expected"), OPERATOR_CASES)
def test_operator(when: str, x: dict[str, Any], expected: bool) -> None:
    assert fires(when, x) is expected


COMBINATOR_CASES = [
    ("all: [{cash: true}, {one_way: true}]", {"cash": True, "one_way": True}, True),
    ("all: [{cash: true}, {one_way: true}]", {"cash": True, "one_way": False}, False),
    ("any: [{cash: true}, {one_way: true}]", {"cash": False, "one_way": True}, True),
    ("any: [{cash: true}, {one_way: true}]", {"cash": False, "one_way": False}, False),
    ("not: {cash: true}", {"cash": False}, True),
    ("not: {cash: true}", {"cash": True}, False),
    # a missing field makes its condition false, so `not` of it is true
    ("not: {cash: true}", {}, True),
    (
        """
        - cash: true
        - any:
            - booking_lead_hours: {lt: 48}
            - not: {departure_airport: {in_watchlist: airports}}
        """,
        {"cash": True, "booking_lead_hours": 100, "departure_airport": "LHR"},
        True,
    ),
    (
        """
        - cash: true
        - any:
            - booking_lead_hours: {lt: 48}
            - not: {departure_airport: {in_watchlist: airports}}
        """,
        {"cash": True, "booking_lead_hours": 100, "departure_airport": "BOG"},
        False,
    ),
]


@pytest.mark.parametrize(("when", "x", "expected"), COMBINATOR_CASES)
def test_combinator(when: str, x: dict[str, Any], expected: bool) -> None:
    assert fires(when, x) is expected


MISMATCHES = [
    ("value_eur: {lt: 3}", {"value_eur": "abc"}),
    ("value_eur: {between: [1, 5]}", {"value_eur": "3"}),
    ("value_eur: {gt: 3}", {"value_eur": True}),
    ("value_eur: {gt: 3}", {"value_eur": [5, 6]}),
    ("value_eur: {gt: 3}", {"value_eur": {"amount": 5}}),
    ("hs6: {startswith: '85'}", {"hs6": 851712}),
    ("goods_description: {contains: phone}", {"goods_description": 42}),
    ("category: {in: [gift]}", {"category": {"nested": "gift"}}),
    ("category: {in: [gift]}", {"category": [["gift"]]}),
    ("category: {ne: gift}", {}),
    ("category: {not_in: [gift]}", {}),
    ("value_eur: {lt: 3}", {"value_eur": math.nan}),
    ("value_eur: {lt: 3}", {}),
]


@pytest.mark.parametrize(("when", "x"), MISMATCHES)
def test_missing_fields_and_type_mismatches_are_false(when: str, x: dict[str, Any]) -> None:
    assert fires(when, x) is False


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["gift", "GRU", "24", "240220", "KP", "passenger", "postal", "courier"]),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FIELDS = sorted(FEATURE_NAMES | {"goods_description", "route", "itinerary", "hs_code"})


@functools.cache
def _default_book() -> RuleBook:
    return RuleBook.from_yaml()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JUNK, max_size=12))
def test_default_rules_never_raise_on_data(x: dict[str, Any]) -> None:
    book = _default_book()
    before = copy.deepcopy(x)
    score = book.score_one(x)
    hits = book.hits(x)
    assert 0.0 <= score <= 1.0
    assert score == max((h.severity for h in hits), default=0.0)
    assert [r.code for r in book.explain_one(x)] == [f"rule.{h.id}" for h in hits]
    assert isinstance(book.always_inspect(x), bool)
    assert repr(x) == repr(before)  # never mutates the input


# -- loading errors ---------------------------------------------------------------------------

BAD_FILE = """\
watchlists:
  airports: [BOG, GRU]
rules:
  - id: cash_short_notice
    stream: passenger
    when:
      cash: true
      booking_lead_hours: {gt_: 48}
    severity: 0.7
    reason: "Cash ticket"
  - id: bad_list
    stream: passenger
    when:
      departure_airport: {in_watchlist: airprots}
    severity: 0.5
    reason: "x"
  - id: too_severe
    stream: postal
    when: {value_eur: {gt: 45}}
    severity: 1.5
    reason: "x"
  - id: cash_short_notice
    stream: courier
    when: {value_eur: {gt: 45}}
    severity: 0.1
    reason: "again"
  - id: no_reason
    stream: courier
    when: {value_eur: {gt: 45}}
    severity: 0.1
"""


def line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``marker``."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    return lines[occurrence - 1]


def test_bad_file_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BAD_FILE, encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        RuleBook.from_yaml(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert len(error.problems) == 5
    expected = [
        (line_of(BAD_FILE, "gt_"), "rule 'cash_short_notice': unknown operator 'gt_'"),
        (line_of(BAD_FILE, "airprots"), "rule 'bad_list': unknown watchlist 'airprots'"),
        (line_of(BAD_FILE, "1.5"), "rule 'too_severe': severity must be a number in [0, 1]"),
        (line_of(BAD_FILE, "cash_short_notice", 2), "rule 'cash_short_notice': duplicate id"),
        (line_of(BAD_FILE, "id: no_reason"), "rule 'no_reason': missing 'reason'"),
    ]
    for problem, (line, words) in zip(error.problems, expected, strict=True):
        assert problem.startswith(f"{path} line {line}: {words}"), problem
    assert f"first defined on line {line_of(BAD_FILE, 'cash_short_notice')}" in str(error)
    assert str(path) in str(error).splitlines()[0]
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


SINGLE_PROBLEMS = [
    # (rule lines under "- id: r", marker on the bad line, words in the message)
    (
        "stream: postl\n  when: {cash: true}\n  severity: 0.1\n  reason: x",
        "postl",
        "unknown stream",
    ),
    (
        "stream: postal\n  when: {vlaue_eur: {gt: 1}}\n  severity: 0.1\n  reason: x",
        "vlaue",
        "'value_eur'",
    ),
    (
        "stream: postal\n  when: {hs_chapter: {in: [22, 24]}}\n  severity: 0.1\n  reason: x",
        "22",
        "quote",
    ),
    ("stream: postal\n  when: {origin_country: NO}\n  severity: 0.1\n  reason: x", "NO", "quote"),
    (
        "stream: postal\n  when: {hs6: {startswith: 85}}\n  severity: 0.1\n  reason: x",
        "85",
        "quote",
    ),
    (
        "stream: postal\n  when: {value_eur: {gt: ten}}\n  severity: 0.1\n  reason: x",
        "ten",
        "numbers",
    ),
    (
        "stream: postal\n  when: {value_eur: {between: [5, 1]}}\n  severity: 0.1\n  reason: x",
        "5, 1",
        "low <= high",
    ),
    (
        "stream: postal\n  when: {hs6: {missing: yes please}}\n  severity: 0.1\n  reason: x",
        "please",
        "true or false",
    ),
    (
        "stream: postal\n  when: {category: {eq: [gift]}}\n  severity: 0.1\n  reason: x",
        "[gift]",
        "use 'in'",
    ),
    ("stream: postal\n  when: {any: []}\n  severity: 0.1\n  reason: x", "any", "non-empty list"),
    ("stream: postal\n  when: []\n  severity: 0.1\n  reason: x", "when", "empty"),
    ("stream: postal\n  when: {cash: true}\n  severity: high\n  reason: x", "high", "severity"),
    ("stream: postal\n  when: {cash: true}\n  severity: -0.1\n  reason: x", "-0.1", "severity"),
    ("stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: ''", "reason", "non-empty"),
    ("stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: 'a {b'", "{b", "braces"),
    (
        "stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: '{foo}'",
        "foo",
        "unknown field",
    ),
    (
        "stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: '{value_eur!r}'",
        "!r",
        "format",
    ),
    (
        "stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: '{value_eur.real}'",
        "real",
        "unknown",
    ),
    (
        "stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: x\n  severty: 1",
        "severty",
        "'severity'",
    ),
    (
        "stream: postal\n  when: {cash: true}\n  severity: 0.1\n  reason: x\n  enabled: maybe",
        "maybe",
        "true or false",
    ),
    (
        "stream: postal\n  when: {cash: true, cash: false}\n  severity: 0.1\n  reason: x",
        "cash",
        "twice",
    ),
]


@pytest.mark.parametrize(("body", "marker", "words"), SINGLE_PROBLEMS)
def test_each_kind_of_mistake_is_named(body: str, marker: str, words: str) -> None:
    text = "rules:\n- id: r\n  " + body + "\n"
    with pytest.raises(RuleFileError) as info:
        RuleBook.from_text(text, source="team.yaml")
    (problem,) = info.value.problems
    assert problem.startswith(f"team.yaml line {line_of(text, marker)}: rule 'r': "), problem
    assert words in problem


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty file"),
        ("rules: [\n", "not valid YAML"),
        ("rules:\n  - id: x\n    stream: *\n", 'quoted: "*"'),
        ("- a\n- b\n", "expected a mapping"),
        ("watchlists: {}\n", "missing 'rules:'"),
        ("rules: {}\nextra: 1\n", "unknown section 'extra'"),
        ("watchlists:\n  c: [NO, SE]\nrules: []\n", "quote codes"),
        ("rules:\n  - just text\n", "a rule must be a mapping"),
        ("rules:\n  - stream: postal\n", "missing 'id'"),
        ("rules:\n  - !!python/object:os.system {}\n", "unsupported YAML tag"),
        ("rules:\n  - id: 2024-13-45\n", "cannot read value"),
        ("rules: 5\n", "must be a list"),
    ],
)
def test_file_level_mistakes(text: str, words: str) -> None:
    with pytest.raises(RuleFileError) as info:
        RuleBook.from_text(text, source="x.yaml")
    assert words in str(info.value)
    assert all(p.startswith("x.yaml") for p in info.value.problems)


def test_unreadable_file_is_a_rule_file_error(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="cannot read rules file"):
        RuleBook.from_yaml(tmp_path / "absent.yaml")


def test_empty_rule_list_is_allowed() -> None:
    book = RuleBook.from_text("rules: []\n")
    assert book.score_one({"stream": "postal"}) == 0.0
    assert book.hits({}) == []


# -- reasons and privacy ----------------------------------------------------------------------


def _avro_personal_fields() -> set[str]:
    names: set[str] = set()
    for name in EVENT_SCHEMAS:
        schema = json.loads((AVRO / f"riskstream.{name}.avsc").read_text(encoding="utf-8"))
        names |= {f["name"] for f in schema["fields"] if f.get("personal")}
    return names


def test_personal_fields_come_from_the_schemas() -> None:
    assert personal_fields() == _avro_personal_fields()
    assert {"shipper_name", "traveller_name", "document_number"} <= personal_fields()


@pytest.mark.parametrize("field", sorted(_avro_personal_fields()))
def test_reasons_may_not_show_personal_fields(field: str) -> None:
    text = (
        "rules:\n- id: r\n  stream: '*'\n  when: {cash: true}\n  severity: 0.1\n"
        f"  reason: 'Sender {{{field}}} again'\n"
    )
    with pytest.raises(RuleFileError, match=f"personal field '{field}'"):
        RuleBook.from_text(text)
    # even a field declared as extra stays personal
    with pytest.raises(RuleFileError, match="personal"):
        RuleBook.from_text(text, extra_fields=[field])


def test_conditions_may_match_pseudonymised_tokens() -> None:
    book = book_for("shipper_id: {in: [tok-1a2b]}")
    assert book.score_one({"shipper_id": "tok-1a2b"}) == 0.5


def test_reason_text_is_verbatim() -> None:
    reason = "Ünusual «route» — see SOP 4.2; {{literal braces}} & 100% sure?"
    text = (
        "rules:\n- id: r\n  stream: '*'\n  when: {cash: true}\n  severity: 0.2\n"
        f"  reason: {json.dumps(reason)}\n"
    )
    (hit,) = RuleBook.from_text(text).hits({"cash": True})
    assert hit == RuleHit("r", 0.2, False, reason.replace("{{", "{").replace("}}", "}"))


@pytest.mark.parametrize(
    ("reason", "x", "shown"),
    [
        ("{value_eur:.0f} EUR", {"value_eur": 45.6}, "46 EUR"),
        ("{value_eur} EUR", {"value_eur": 45.678}, "45.68 EUR"),
        ("{value_eur} EUR", {"value_eur": 120.0}, "120 EUR"),
        ("{completeness}", {"completeness": 0.0042}, "0.0042"),
        ("HS {hs6}", {"hs6": "851712"}, "HS 851712"),
        ("{value_eur:.0f}", {"value_eur": "n/k"}, "n/k"),
        ("{hs6}", {}, "n/a"),
        ("{origin_country}/{hub}", {"origin_country": "CN", "hub": "LEJ"}, "CN/LEJ"),
    ],
)
def test_reason_placeholders(reason: str, x: dict[str, Any], shown: str) -> None:
    text = (
        "rules:\n- id: r\n  stream: '*'\n  when: {cash: true}\n  severity: 0.2\n"
        f"  reason: {json.dumps(reason)}\n"
    )
    (hit,) = RuleBook.from_text(text).hits({"cash": True, **x})
    assert hit.reason == shown


# -- the scorer contract ----------------------------------------------------------------------

TWO_RULES = """\
rules:
  - id: gift
    stream: postal
    when: {category: gift, value_eur: {gt: 45}}
    severity: 0.3
    reason: Gift above relief
  - id: sanctioned
    stream: [courier, postal]
    when: {origin_country: {in: [KP]}}
    severity: 0.9
    always_inspect: true
    reason: Sanctioned origin
  - id: anywhere
    stream: "*"
    when: {value_eur: {gt: 1000}}
    severity: 0.3
    reason: Valuable
  - id: switched_off
    stream: postal
    enabled: false
    when: {category: gift}
    severity: 1.0
    reason: Switched off
"""


def test_hits_scores_and_reasons() -> None:
    book = RuleBook.from_text(TWO_RULES)
    x = {"stream": "postal", "category": "gift", "value_eur": 2000.0, "origin_country": "KP"}
    assert [h.id for h in book.hits(x)] == ["sanctioned", "gift", "anywhere"]
    assert book.score_one(x) == 0.9
    assert book.always_inspect(x)
    assert book.explain_one(x) == [
        Reason("rule.sanctioned", "Sanctioned origin", 0.9),
        Reason("rule.gift", "Gift above relief", 0.3),
        Reason("rule.anywhere", "Valuable", 0.3),
    ]
    assert risk_of(book, x) == 0.9 and explain(book, x) == book.explain_one(x)
    calm = {**x, "origin_country": "CN"}
    assert not book.always_inspect(calm) and book.score_one(calm) == 0.3


def test_stream_filter() -> None:
    book = RuleBook.from_text(TWO_RULES)
    base = {"category": "gift", "value_eur": 2000.0, "origin_country": "KP"}
    assert [h.id for h in book.hits({**base, "stream": "courier"})] == ["sanctioned", "anywhere"]
    assert [h.id for h in book.hits({**base, "stream": "passenger"})] == ["anywhere"]
    assert [h.id for h in book.hits(base)] == ["anywhere"]  # no stream: only "*" rules
    assert [h.id for h in book.hits({**base, "stream": ["odd"]})] == ["anywhere"]


def test_disabled_rules_stay_loaded_but_silent() -> None:
    book = RuleBook.from_text(TWO_RULES)
    assert [r.id for r in book.rules] == ["gift", "sanctioned", "anywhere", "switched_off"]
    assert "switched_off" not in {h.id for h in book.hits({"stream": "postal", "category": "gift"})}


def test_learn_one_is_a_no_op_and_order_does_not_matter() -> None:
    book = RuleBook.from_text(TWO_RULES)
    x = {"stream": "postal", "category": "gift", "value_eur": 50.0}
    before = copy.deepcopy(x)
    book.learn_one(x)
    book.learn_one(x, True, 2.0)
    assert x == before
    reordered = dict(reversed(list(x.items())))
    assert book.hits(reordered) == book.hits(x)


def test_pickle_round_trip() -> None:
    book = RuleBook.from_yaml()
    x = {"stream": "postal", "category": "gift", "value_eur": 80.0, "origin_country": "IR"}
    copied = pickle.loads(pickle.dumps(book))
    assert copied.hits(x) == book.hits(x) and copied.always_inspect(x)
    book.learn_one(x, True)
    assert pickle.loads(pickle.dumps(book)).hits(x) == book.hits(x)


def test_extra_fields_extend_what_rules_may_use() -> None:
    text = (
        "rules:\n- id: r\n  stream: '*'\n  when: {anomaly_rank: {gt: 0.99}}\n  severity: 0.2\n"
        "  reason: 'rank {anomaly_rank}'\n"
    )
    with pytest.raises(RuleFileError, match="unknown field 'anomaly_rank'"):
        RuleBook.from_text(text)
    book = RuleBook.from_text(text, extra_fields=["anomaly_rank"])
    assert book.hits({"anomaly_rank": 0.995})[0].reason == "rank 0.99"


# -- the packaged default file ----------------------------------------------------------------

DEFAULT_EXAMPLES: dict[str, dict[str, Any]] = {
    "sanctioned_origin": {"stream": "courier", "origin_country": "IR"},
    "cash_short_notice": {
        "stream": "passenger",
        "cash": True,
        "booking_lead_hours": 20.0,
        "departure_airport": "GRU",
    },
    "one_way_cash_no_bags": {"stream": "passenger", "one_way": True, "cash": 1, "baggage_count": 0},
    "api_late_incomplete": {"stream": "passenger", "api_late": True, "mandatory_fields_missing": 3},
    "excise_goods_as_gift": {
        "stream": "courier",
        "hs_chapter": "22",
        "category": "gift",
        "value_eur": 30.0,
    },
    "gift_above_relief": {"stream": "postal", "category": "gift", "value_eur": 60.0},
    "electronics_undervalued": {
        "stream": "postal",
        "hs_chapter": "85",
        "weight_kg": 2.0,
        "value_per_kg": 1.5,
    },
    "heavy_and_worthless": {
        "stream": "courier",
        "weight_kg": 35.0,
        "value_eur": 5.0,
        "category": "sale",
    },
    "high_risk_goods_vague": {"stream": "postal", "hs6": "930200", "description_words": 1},
    "unclassified_high_value": {"stream": "courier", "value_eur": 400.0, "hs_missing": True},
}


def test_default_file_loads_and_documents_itself() -> None:
    book = RuleBook.from_yaml()
    assert 6 <= len(book.rules) <= 10
    assert {"source_airports", "sanctioned_origins", "high_risk_hs_prefixes"} <= set(
        book.watchlists
    )
    packaged = Path(__file__).resolve().parents[1] / "scorers" / "rules" / "default.yaml"
    assert "OPERATORS" in packaged.read_text(encoding="utf-8")


@pytest.mark.parametrize(("rule_id", "x"), sorted(DEFAULT_EXAMPLES.items()))
def test_default_rules_fire_on_crafted_examples(rule_id: str, x: dict[str, Any]) -> None:
    book = RuleBook.from_yaml()
    hits = {h.id: h for h in book.hits(x)}
    assert rule_id in hits
    assert "{" not in hits[rule_id].reason and "n/a" not in hits[rule_id].reason


def test_every_default_rule_has_an_example() -> None:
    assert {r.id for r in RuleBook.from_yaml().rules} == set(DEFAULT_EXAMPLES)


def test_default_rules_stay_quiet_on_ordinary_events() -> None:
    book = RuleBook.from_yaml()
    ordinary = [
        {"stream": "postal", "category": "sale", "value_eur": 30.0, "hs6": "610910",
         "hs_chapter": "61", "weight_kg": 0.4, "value_per_kg": 75.0, "origin_country": "CN",
         "description_words": 4},
        {"stream": "courier", "category": "gift", "value_eur": 20.0, "hs6": "220421",
         "hs_chapter": "22", "weight_kg": 1.5, "origin_country": "FR"},
        {"stream": "passenger", "cash": False, "booking_lead_hours": 12.0,
         "departure_airport": "GRU", "one_way": False, "baggage_count": 1, "api_late": False,
         "mandatory_fields_missing": 0},
    ]  # fmt: skip
    for x in ordinary:
        assert book.hits(x) == [] and not book.always_inspect(x)


def test_sanctioned_origin_always_inspects() -> None:
    book = RuleBook.from_yaml()
    assert book.always_inspect({"stream": "postal", "origin_country": "KP"})
    assert not book.always_inspect({"stream": "passenger", "origin_country": "KP"})

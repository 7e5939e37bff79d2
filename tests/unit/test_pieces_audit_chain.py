"""The hash chain of a piece's events: canonical JSON, hashing, verification, and tampering of every kind."""

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus_chain.domain.audit_chain import (
    GENESIS,
    canonical_decimal,
    canonical_json,
    chain_hashes,
    event_hash,
    event_payload,
    verify_chain,
)
from chorus_chain.domain.statuses import Status

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def history():
    """A short piece history as the operations layer would record it."""
    steps = [
        ("create", None, Status.BROUILLON, None, None),
        ("deposit", Status.BROUILLON, Status.A_VALIDER_1, None, None),
        ("validate_partially", Status.A_VALIDER_1, Status.VALIDEE_1, None, Decimal("800.5")),
        ("forward", Status.VALIDEE_1, Status.DEPOSEE, None, None),
        ("reject", Status.DEPOSEE, Status.REJETEE, "doublon", None),
    ]
    return [
        event_payload(piece="12345678900017/F-2026-001", seq=i, at=T0 + timedelta(hours=i),
                      actor="system" if action == "forward" else "jeanne@example.fr",
                      actor_siret=None if action == "forward" else "12345678900017",
                      action=action, from_status=before, to_status=after, reason=reason, amount=amount)
        for i, (action, before, after, reason, amount) in enumerate(steps)
    ]


def chained():
    payloads = history()
    return list(zip(payloads, chain_hashes(payloads), strict=True))


def test_canonical_json_is_stable():
    payload = {"b": Decimal("1234.5"), "a": datetime(2026, 3, 2, 10, 15, tzinfo=ZoneInfo("Europe/Paris")),
               "d": date(2026, 3, 31), "s": Status.DEPOSEE, "n": None, "l": [1, True], "é": "œuvre"}
    assert canonical_json(payload) == (
        '{"a":"2026-03-02T09:15:00.000000+00:00","b":"1234.50","d":"2026-03-31","l":[1,true],"n":null,'
        '"s":"DEPOSEE","é":"œuvre"}'
    )


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1234.5"), "1234.50"), (Decimal("1234.50"), "1234.50"), (Decimal("1234.500"), "1234.50"),
    (Decimal("0.1250"), "0.125"), (Decimal("1E+3"), "1000.00"), (Decimal("-0.00"), "0.00"),
    (Decimal("-12.3"), "-12.30"), (Decimal("0"), "0.00"),
])
def test_amounts_hash_the_same_whatever_their_exponent(value, text):
    assert canonical_decimal(value) == text


def test_unhashable_payloads_are_refused():
    with pytest.raises(TypeError):
        canonical_json({"amount": 12.5})
    with pytest.raises(ValueError):
        canonical_json({"at": datetime(2026, 3, 2, 9, 15)})
    with pytest.raises(TypeError):
        canonical_json({"x": {1, 2}})
    with pytest.raises(TypeError):
        canonical_json({1: "x"})
    with pytest.raises(ValueError):
        canonical_json({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        event_payload(piece="p", seq=0, at=T0, actor="system", actor_siret=None, action="create",
                      from_status=None, to_status="BROUILLON", extra={"ratio": 0.5})


def test_event_hash_is_sha256_of_previous_and_payload():
    payload = {"action": "create"}
    expected = hashlib.sha256((GENESIS + "\n" + '{"action":"create"}').encode()).hexdigest()
    assert event_hash(GENESIS, payload) == expected
    assert event_hash(expected, payload) != expected
    for bad in ("", "abc", GENESIS.upper().replace("0", "A"), None):
        with pytest.raises(ValueError):
            event_hash(bad, payload)


def test_same_instant_in_another_zone_or_exponent_hashes_the_same():
    one = event_payload(piece="p", seq=1, at=T0, actor="a", actor_siret=None, action="mark_paid",
                        from_status="MANDATEE", to_status="MISE_EN_PAIEMENT", amount=Decimal("10.5"),
                        paid_on=date(2026, 3, 31))
    two = dict(one, at=T0.astimezone(ZoneInfo("Europe/Paris")), amount=Decimal("10.50"))
    assert event_hash(GENESIS, one) == event_hash(GENESIS, two)


def test_an_intact_chain_verifies():
    events = chained()
    assert verify_chain(events) is None
    assert verify_chain(events, head=events[-1][1]) is None
    assert verify_chain([]) is None
    assert verify_chain([], head=GENESIS) is None


@pytest.mark.parametrize(("tamper", "index"), [
    (lambda e: e.__setitem__(2, (dict(e[2][0], amount=Decimal("8005.00")), e[2][1])), 2),   # amount altered
    (lambda e: e.__setitem__(4, (dict(e[4][0], reason="non_conforme"), e[4][1])), 4),       # reason altered
    (lambda e: e.__setitem__(1, (dict(e[1][0], actor="eve@example.fr"), e[1][1])), 1),      # actor altered
    (lambda e: e.__setitem__(3, (dict(e[3][0], at=T0), e[3][1])), 3),                        # backdated
    (lambda e: e.__setitem__(0, (e[0][0], "f" * 64)), 0),                                   # hash replaced
    (lambda e: e.pop(2), 2),                                                                 # event deleted
    (lambda e: e.insert(2, e[1]), 2),                                                        # event duplicated
    (lambda e: e.__setitem__(slice(1, 3), [e[2], e[1]]), 1),                                 # events swapped
])
def test_every_kind_of_tampering_is_found_where_it_happened(tamper, index):
    events = chained()
    tamper(events)
    assert verify_chain(events) == index


def test_rehashing_from_the_altered_event_on_still_breaks_against_the_head():
    events = chained()
    head = events[-1][1]
    payloads = [p for p, _ in events]
    payloads[2] = dict(payloads[2], amount=Decimal("8005.00"))
    forged = list(zip(payloads, chain_hashes(payloads), strict=True))
    assert verify_chain(forged) is None  # a consistent forgery of the whole chain...
    assert verify_chain(forged, head=head) == len(forged)  # ...does not match the head kept on the piece


def test_a_chain_cut_short_is_found_with_the_head():
    events = chained()
    head = events[-1][1]
    assert verify_chain(events[:-1]) is None
    assert verify_chain(events[:-1], head=head) == len(events) - 1


def test_an_unhashable_stored_payload_counts_as_a_break():
    events = chained()
    events[3] = (dict(events[3][0], amount=1.5), events[3][1])
    assert verify_chain(events) == 3


def test_payload_carries_every_audit_field():
    payload = history()[4]
    assert set(payload) == {"piece", "seq", "at", "actor", "actor_siret", "action", "from", "to", "reason",
                            "comment", "amount", "paid_on"}
    assert payload["from"] == "DEPOSEE" and payload["to"] == "REJETEE"
    with_extra = event_payload(piece="p", seq=0, at=T0, actor="a", actor_siret=None, action="deposit",
                               from_status="BROUILLON", to_status="DEPOSEE",
                               extra={"sha256": "ab" * 32, "montant_ttc": Decimal("1200")})
    assert '"extra":{"montant_ttc":"1200.00","sha256":"' in canonical_json(with_extra)


@given(st.lists(st.dictionaries(st.text(max_size=5), st.one_of(
    st.none(), st.text(max_size=10), st.integers(), st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    max_size=4), min_size=1, max_size=8), st.data())
def test_changing_any_payload_breaks_the_chain_at_that_event(payloads, data):
    hashes = chain_hashes(payloads)
    assert verify_chain(list(zip(payloads, hashes, strict=True))) is None
    index = data.draw(st.integers(min_value=0, max_value=len(payloads) - 1))
    altered = [dict(p) for p in payloads]
    altered[index]["__tampered__"] = True
    assert verify_chain(list(zip(altered, hashes, strict=True))) == index

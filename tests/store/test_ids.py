"""Run ids: format, uniqueness, time order and prefix normalisation (issue 2, DESIGN §1)."""

from __future__ import annotations

import re
import time

from gitxp.store.ids import ALPHABET, ID_LENGTH, id_time, is_run_id, new_run_id, normalize_prefix

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_format_is_26_crockford_base32_characters() -> None:
    assert ID_LENGTH == 26
    assert set(ALPHABET) == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    for _ in range(200):
        run_id = new_run_id()
        assert CROCKFORD.match(run_id), run_id
        assert is_run_id(run_id)
        # No letters people read as digits (I, L, O) and no U.
        assert not set(run_id) & set("ILOU")


def test_ten_thousand_ids_are_unique() -> None:
    ids = [new_run_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    # Even when they all claim the same millisecond.
    now = time.time()
    same_ms = [new_run_id(now) for _ in range(10_000)]
    assert len(set(same_ms)) == 10_000
    assert len({i[:10] for i in same_ms}) == 1


def test_ids_sort_by_time() -> None:
    start = 1_700_000_000.0
    moments = [start + k * 0.001 for k in range(50)] + [start + 3600 * k for k in range(1, 50)]
    ids = [new_run_id(t) for t in moments]
    assert ids == sorted(ids)
    for moment, run_id in zip(moments, ids, strict=True):
        assert abs(id_time(run_id) - moment) < 0.0011
    # Ids made one after the other, a few milliseconds apart, sort in creation order.
    made = []
    for _ in range(5):
        made.append(new_run_id())
        time.sleep(0.003)
    assert made == sorted(made)
    # The time part is the current time.
    assert abs(id_time(new_run_id()) - time.time()) < 5


def test_time_part_spans_the_future() -> None:
    # 48 bits of milliseconds: good until the year 10889, still sortable as text.
    late = new_run_id(253402300799.0)  # 9999-12-31T23:59:59Z
    early = new_run_id(0.0)
    assert early.startswith("0000000000")
    assert early < new_run_id() < late
    assert is_run_id(late) and is_run_id(early)


def test_prefix_normalisation() -> None:
    run_id = new_run_id()
    assert normalize_prefix(run_id) == run_id
    assert normalize_prefix(run_id.lower()) == run_id
    assert normalize_prefix(f"  {run_id[:8].lower()}\n") == run_id[:8]
    # Crockford: I and L read as 1, O as 0, in either case.
    assert normalize_prefix("0ioL") == "0101"
    assert normalize_prefix("oO1iIlL") == "0011111"
    # Not a possible start of a run id.
    assert normalize_prefix("") is None
    assert normalize_prefix("   ") is None
    assert normalize_prefix("01U") is None
    assert normalize_prefix("01-2") is None
    assert normalize_prefix(run_id + "0") is None
    assert normalize_prefix("refs/gitxp/runs/" + run_id) is None


def test_is_run_id_is_strict() -> None:
    run_id = new_run_id()
    assert is_run_id(run_id)
    assert not is_run_id(run_id.lower())
    assert not is_run_id(run_id[:-1])
    assert not is_run_id(run_id + "A")
    assert not is_run_id("U" + run_id[1:])
    assert not is_run_id(" " + run_id[1:])
    assert not is_run_id("not-an-id")

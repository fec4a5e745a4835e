"""A warning repeated on every line costs the first few occurrences, not one object each."""
from __future__ import annotations

from typing import List, Tuple

from backprop_lint.caffe import textproto
from backprop_lint.caffe.model import KEPT_REPEATS, Location, RepeatedWarnings, Warning_
from backprop_lint.linting.rules.custom import MAX_LINES_SHOWN, grouped

HEAD = 'name: "n"\nlayer { name: "d" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'


def test_the_loader_keeps_enough_lines_for_the_grouped_message() -> None:
    assert KEPT_REPEATS >= MAX_LINES_SHOWN + 2


def test_repeats_past_the_kept_ones_are_counted() -> None:
    count = 5 * KEPT_REPEATS
    _, warnings = textproto.parse(HEAD + "zz: 1\n" * count, file="n.prototxt")
    assert len(warnings) == KEPT_REPEATS
    assert sum(warning.count for warning in warnings) == count
    assert [warning.location for warning in warnings] == [
        Location("n.prototxt", line, 1) for line in range(3, 3 + KEPT_REPEATS)
    ]


def test_interleaved_repeats_are_counted_per_message() -> None:
    layers = "".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "x" top: "x" zz: 1 yy: 2 }}\n' for i in range(40))
    _, warnings = textproto.parse(HEAD + layers, file="n.prototxt")
    assert len(warnings) == 2 * KEPT_REPEATS
    by_name: List[Tuple[str, int]] = [('"zz"' in warning.message, warning.count) for warning in warnings]
    assert sum(count for is_zz, count in by_name if is_zz) == 40
    assert sum(count for is_zz, count in by_name if not is_zz) == 40


def test_grouping_counted_warnings_gives_the_same_message_as_keeping_them_all() -> None:
    for count in (1, 2, KEPT_REPEATS - 1, KEPT_REPEATS, KEPT_REPEATS + 1, 1000):
        kept: List[Warning_] = []
        reported = RepeatedWarnings(kept)
        every: List[Warning_] = []
        for line in range(3, 3 + count):
            for message in ("no field zz", "no field yy"):
                location = Location("f", line, 1)
                reported.add(message, "unknown-field", lambda: location)
                every.append(Warning_(message, location, "unknown-field"))
        assert len(kept) == 2 * min(count, KEPT_REPEATS)
        assert grouped(kept) == grouped(every)


def test_a_message_of_another_kind_is_not_counted_on_it() -> None:
    kept: List[Warning_] = []
    reported = RepeatedWarnings(kept)
    for _ in range(KEPT_REPEATS):
        reported.add("same text", "unknown-field", lambda: Location("f", 1, 1))
    reported.add("same text", "fork-only-field", lambda: Location("f", 2, 1))
    assert [warning.kind for warning in kept][-1] == "fork-only-field"
    assert all(warning.count == 1 for warning in kept)

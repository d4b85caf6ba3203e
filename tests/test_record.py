"""`dsl.record` classes behave as the frozen, slotted, keyword-only dataclasses they replace."""

from __future__ import annotations

import copy
import pickle

import pytest

from dsl import ir
from dsl.record import Record, field, record


@record
class _Point(Record):
    x: int
    tags: list[str] = field(default_factory=list)
    label: str = "p"


@record(frozen=False)
class _Counter(Record):
    count: int = 0


def test_fields_defaults_and_fresh_factory_values() -> None:
    first, second = _Point(x=1), _Point(x=2, label="q")
    assert (first.x, first.tags, first.label) == (1, [], "p") and second.label == "q"
    assert first.tags is not second.tags
    assert not hasattr(first, "__dict__")
    with pytest.raises(TypeError):
        _Point(1)  # type: ignore[call-arg]  # keyword-only
    with pytest.raises(TypeError):
        _Point()  # type: ignore[call-arg]  # `x` has no default


def test_frozen_equal_hashed_and_shown_as_dataclasses_are() -> None:
    span = ir.Span(file="a.graph", line=1, column=2, end_line=1, end_column=5)
    with pytest.raises(AttributeError):
        span.line = 3  # type: ignore[misc]
    same = ir.Span(file="a.graph", line=1, column=2, end_line=1, end_column=5)
    assert span == same and hash(span) == hash(same) and span != ir.Span.start_of("a.graph")
    assert repr(span) == "Span(file='a.graph', line=1, column=2, end_line=1, end_column=5)"
    counter = _Counter()
    counter.count += 1
    assert counter.count == 1
    with pytest.raises(TypeError):
        hash(counter)


def test_copies_and_pickles_round_trip() -> None:
    name = ir.Name(span=ir.Span.start_of("a.graph"), id="x")
    call = ir.Call(span=name.span, func=name, args=[name])
    for clone in (copy.deepcopy(call), pickle.loads(pickle.dumps(call)), call.model_copy()):
        assert clone == call and clone is not call
    changed = call.model_copy(update={"args": []})
    assert changed.args == [] and call.args == [name]


def test_a_record_is_built_as_its_own_class_and_stays_frozen() -> None:
    point = _Point(x=1)
    assert type(point) is _Point and isinstance(point, Record)
    with pytest.raises(AttributeError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x  # type: ignore[misc]

    class Unrecorded(_Point):
        __slots__ = ()

    with pytest.raises(TypeError, match="@record"):
        Unrecorded(x=1)

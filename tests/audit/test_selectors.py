"""failures_for and the timeline order (the dashboard figures: tests/connector/test_dashboard_selectors.py)."""

from __future__ import annotations

from audit.models import EventCode
from audit.selectors import failures_for, record_timeline
from tests import builders
from tests.conftest import Cast


def test_failures_for_is_scoped_and_oldest_first(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    first = builders.fail(builders.bill(cast.acme, v, "A-1"))
    second = builders.fail(builders.bill(cast.acme, v, "A-2"))
    gv = builders.vendor(cast.globex, "Globex Steel")
    g = builders.fail(builders.bill(cast.globex, gv, "G-1"))
    assert list(failures_for(cast.alice)) == [first, second]
    assert list(failures_for(cast.charlie)) == [g]
    assert set(failures_for(cast.sam)) == {first, second, g}


def test_timeline_is_in_order_of_occurrence(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    record = builders.fail(builders.bill(cast.acme, v, "A-1"))
    codes = [e.code for e in record_timeline(record=record)]
    assert codes == [EventCode.QB_RECEIVED, EventCode.PUSH_FAILED_PERMANENT]

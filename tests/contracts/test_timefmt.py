from datetime import UTC, date, datetime

from keiyaku.contracts.timefmt import jst_timestamp, wareki


def test_jst_timestamp_from_utc():
    assert (
        jst_timestamp(datetime(2026, 4, 1, 1, 56, 22, tzinfo=UTC)) == "2026-04-01 10:56:22 +09:00"
    )


def test_wareki():
    assert wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(date(2026, 4, 1)) == "令和8年4月1日"
    assert wareki(date(2019, 4, 30)) == "平成31年4月30日"

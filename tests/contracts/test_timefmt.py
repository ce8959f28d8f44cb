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


def test_a_deadline_is_said_in_jst_with_its_weekday_and_zone():
    from django.utils import translation

    from keiyaku.contracts.timefmt import deadline_text

    end_of_day = datetime(2026, 12, 8, 14, 59, 59, tzinfo=UTC)  # 23:59:59 JST
    with translation.override("ja"):
        assert deadline_text(end_of_day) == "2026年12月8日（火）23:59（日本時間）"
        assert (
            deadline_text(end_of_day, era=True) == "令和8年（2026年）12月8日（火）23:59（日本時間）"
        )
        # The time in Japan, not in UTC; the era from its first day (元年).
        assert deadline_text(datetime(2019, 5, 1, 0, 0, tzinfo=UTC), era=True).startswith(
            "令和元年（2019年）5月1日（水）09:00"
        )
    with translation.override("en"):
        assert deadline_text(end_of_day) == "Tue 8/12/2026 23:59 Japan time"

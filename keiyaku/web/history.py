"""The contract page's 「履歴」: the audit log as staff read it (issue 14, clerk).

Placing boxes writes one audit entry per drag (box.add, box.update, box.delete): five boxes
made about twenty lines of history. The display groups each run of placement edits by one
person between two other events into one line, 「入力欄を配置・変更（5件）」; the audit log
itself keeps every entry (the export and the hash chain are untouched).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from keiyaku.audit.models import Event

#: The events of the box placement screen, shown grouped.
PLACEMENT_EVENTS = frozenset({"box.add", "box.update", "box.delete"})


@dataclass(frozen=True)
class HistoryLine:
    """One line of the history: one event, or a run of placement edits."""

    created_at: datetime
    """When it happened (the first of a run)."""
    until: datetime | None
    """The last of a run, when it ends later than it started."""
    label: str
    actor_label: str
    ip: str | None
    count: int
    """Audit entries this line stands for."""


def history_lines(events: Iterable[Event]) -> list[HistoryLine]:
    """`events` (oldest first) as history lines: consecutive placement events of one actor
    become one line labelled with their number; every other event is a line of its own."""
    lines: list[HistoryLine] = []
    run: list[Event] = []

    def close_run() -> None:
        if not run:
            return
        first, last = run[0], run[-1]
        lines.append(
            HistoryLine(
                created_at=first.created_at,
                until=last.created_at if last.created_at != first.created_at else None,
                label=_("入力欄を配置・変更（%(count)d件）") % {"count": len(run)}
                if len(run) > 1
                else first.label,
                actor_label=first.actor_label,
                ip=last.ip,
                count=len(run),
            )
        )
        run.clear()

    for event in events:
        if event.event in PLACEMENT_EVENTS:
            if run and (run[0].actor_id, run[0].actor_label) != (
                event.actor_id,
                event.actor_label,
            ):
                close_run()
            run.append(event)
            continue
        close_run()
        lines.append(
            HistoryLine(
                created_at=event.created_at,
                until=None,
                label=event.label,
                actor_label=event.actor_label,
                ip=event.ip,
                count=1,
            )
        )
    close_run()
    return lines

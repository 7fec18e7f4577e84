"""The time-based split: train on older weeks, test on the latest, with a gap between them.

All boundaries are UTC midnights, so that the test period is made of whole days (precision@k is
reported per day):

    test_to   = midnight after the day of the latest eventTime (or --test-end)
    test_from = test_to - test_days
    gap_from  = test_from - gap_days
    train     = eventTime < gap_from          gap rows are dropped          test = [test_from, test_to)

Why the gap: a label is known only after a delay (chargebacks take weeks). Transactions just before
the test period are the ones whose fraud is least likely to have been reported when a model trained
on them would have gone live; training on them would also put the same fraud campaigns on both
sides of the split. The gap keeps the test an honest picture of the next weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

DAY_MS = 86_400_000


class SplitError(ValueError):
    """A split the trainer cannot train or evaluate on (empty, or without both classes)."""


@dataclass(frozen=True)
class Split:
    gap_from: int  # epoch ms; train is everything before it
    test_from: int
    test_to: int  # exclusive
    train: np.ndarray  # bool masks over the examples
    gap: np.ndarray
    test: np.ndarray
    after: np.ndarray  # after test_to (only with an explicit --test-end)

    @property
    def test_days(self) -> list[int]:
        """The test period's days, as UTC day numbers (days since the epoch)."""
        return list(range(self.test_from // DAY_MS, self.test_to // DAY_MS))


def iso_day(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * DAY_MS / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def iso_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_day(text: str) -> int:
    """'YYYY-MM-DD' -> epoch ms of that UTC midnight."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise SplitError(f"--test-end must be a date YYYY-MM-DD, got {text!r}") from None
    return int(day.timestamp() * 1000)


def time_split(event_time: np.ndarray, labels: np.ndarray, test_days: int, gap_days: int, test_end: int | None = None) -> Split:
    if test_days < 1 or gap_days < 0:
        raise SplitError(f"need --test-days >= 1 and --gap-days >= 0, got {test_days} and {gap_days}")
    test_to = test_end if test_end is not None else (int(event_time.max()) // DAY_MS + 1) * DAY_MS
    test_from = test_to - test_days * DAY_MS
    gap_from = test_from - gap_days * DAY_MS
    split = Split(
        gap_from=gap_from,
        test_from=test_from,
        test_to=test_to,
        train=event_time < gap_from,
        gap=(event_time >= gap_from) & (event_time < test_from),
        test=(event_time >= test_from) & (event_time < test_to),
        after=event_time >= test_to,
    )
    first, last = iso_time(int(event_time.min())), iso_time(int(event_time.max()))
    for name, mask, window in (
        ("train", split.train, f"before {iso_time(gap_from)}"),
        ("test", split.test, f"{iso_time(test_from)} .. {iso_time(test_to)}"),
    ):
        rows, positives = int(mask.sum()), int(labels[mask].sum())
        where = f"the {name} period ({window}; examples span {first} .. {last}, test {test_days}d, gap {gap_days}d)"
        if rows == 0:
            raise SplitError(f"{where} has no examples: collect more history or shorten --test-days/--gap-days")
        if positives == 0:
            raise SplitError(f"{where} has {rows} examples but no fraud label: nothing to learn or measure")
        if positives == rows:
            raise SplitError(f"{where} has only fraud labels ({rows}): AUC needs legitimate examples too")
    return split

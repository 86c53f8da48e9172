"""FHIR dates and dateTimes as the mapping needs them: an age at a date, a span in weeks, an order in time."""

from __future__ import annotations

import datetime as dt

UTC = dt.timezone.utc
WEEK_SECONDS = 7 * 24 * 3600


def parse(value: object) -> dt.datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime (UTC); a partial date (`1950`, `1950-06`)
    stands for the first moment of its period. None when it is not such a value."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) == 4:
            return dt.datetime(int(value), 1, 1, tzinfo=UTC)
        if len(value) == 7:
            return dt.datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
        if len(value) == 10:
            return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def age_years(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def weeks_between(start: dt.datetime, end: dt.datetime) -> float | int:
    """Whole or fractional weeks, to 3 decimals (a trial of 2.5 weeks reads back as 2.5)."""
    weeks = round((end - start).total_seconds() / WEEK_SECONDS, 3)
    return int(weeks) if weeks == int(weeks) else weeks


def iso(moment: dt.datetime) -> str:
    """A FHIR instant. The year always has four digits (strftime's %Y writes 999 for the year 999, which
    no FHIR reader, this one included, takes for a date: a trial of 53,535 weeks was lost on the way)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def minus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)

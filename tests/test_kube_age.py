"""The pods table's AGE reads as kubectl prints it (apimachinery's HumanDuration)."""

import datetime

import pytest

from core.kube_age import age, human_duration

HOUR = 3600
DAY = 24 * HOUR


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-2, "<invalid>"),
        (-1, "0s"),
        (1, "1s"),
        (70, "70s"),
        (190, "3m10s"),
        (300, "5m"),
        (70 * 60, "70m"),
        (3 * HOUR + 20 * 60, "3h20m"),
        (47 * HOUR, "47h"),
        (49 * HOUR, "2d1h"),
        (8 * DAY + 2 * HOUR, "8d"),
        (367 * DAY, "367d"),
        ((365 * 2 + 3) * DAY, "2y3d"),
        ((365 * 8 + 1) * DAY, "8y"),
    ],
)
def test_human_duration_matches_kubectl(seconds, shown):
    assert human_duration(seconds) == shown


def test_age_of_a_creation_timestamp():
    now = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
    assert age("2026-12-01T11:55:00Z", now=now) == "5m"
    assert age("", now=now) == "<unknown>" and age(None, now=now) == "<unknown>"

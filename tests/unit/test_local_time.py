"""Times shown to people: in DISPLAY_TIMEZONE, to the minute, labelled with their offset."""

from datetime import UTC, datetime

import pytest
from flask import Flask

from app.templating import local_time, zone_label
from config import ConfigError, load_config


@pytest.fixture
def shanghai():
    app = Flask(__name__)
    app.config["DISPLAY_TIMEZONE"] = "Asia/Shanghai"
    with app.app_context():
        yield


@pytest.mark.usefixtures("shanghai")
def test_utc_time_is_shown_in_the_display_zone_with_its_label():
    assert local_time(datetime(2026, 12, 3, 7, 7, 59, tzinfo=UTC)) == "2026-12-03 15:07 UTC+8"


@pytest.mark.usefixtures("shanghai")
def test_label_can_be_left_to_a_heading_and_none_is_blank():
    assert local_time(datetime(2026, 12, 3, 23, 30, tzinfo=UTC), zone=False) == "2026-12-04 07:30"
    assert local_time(None) == ""


def test_offsets_with_minutes_and_zero_read_plainly():
    from zoneinfo import ZoneInfo

    assert zone_label(datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata"))) == "UTC+5:30"
    assert zone_label(datetime(2026, 1, 1, tzinfo=UTC)) == "UTC"


def test_unknown_display_zone_is_refused_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="DISPLAY_TIMEZONE"):
        load_config(
            "testing",
            environ={"DISPLAY_TIMEZONE": "Mars/Olympus", "INSTANCE_DIR": str(tmp_path)},
        )

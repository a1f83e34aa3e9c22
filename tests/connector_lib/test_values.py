"""Value normalisation against real and vendor PI Web API bodies: every kind keeps its meaning."""

import datetime as dt
import json

import pytest

from connector_lib.timeutil import parse_pi_timestamp
from connector_lib.values import VALUE_FIELDS, MalformedValue, normalise
from tests.conftest import FIXTURES

UTC = dt.UTC


def load(name):
    return json.loads((FIXTURES / "piwebapi" / name).read_text())


def as_dict(item, units=None):
    return dict(zip(VALUE_FIELDS, normalise(item, units)))


def test_system_state_pt_created_real_capture():
    row = as_dict(load("r03_kukur_issue328_recorded_item_pt_created.json"))
    assert row["value_type"] == "system" and row["is_system"] is True
    assert (row["state_name"], row["state_code"]) == ("Pt Created", 253)
    assert row["value_double"] is None and row["good"] is False
    assert row["timestamp"] == dt.datetime(2022, 2, 18, 8, 28, 57, tzinfo=UTC)


def test_numbers_and_duplicates_on_one_timestamp_kept():
    items = load("s01_kukur_tests_recorded_duplicates_shutdown.json")["Items"]
    rows = [as_dict(i) for i in items]
    same = [r for r in rows if r["timestamp_raw"].startswith("2020-01-01T09:42:25")]
    assert len(same) == 3 and [r["value_double"] for r in same] == [3.38636, 23.6581783, 23.6581783]
    shutdown = [r for r in rows if r["value_type"] == "system"]
    assert shutdown and shutdown[0]["state_name"] == "Shutdown" and shutdown[0]["state_code"] == 254


def test_digital_without_issystem_and_negative_code():
    rows = [as_dict(i) for i in load("s03_piwebasync_docs_recorded_interface_bad_value.json")["Items"]]
    assert rows[0]["value_type"] == "number" and rows[0]["value_double"] == 0.0
    assert rows[1]["value_type"] == "digital" and rows[1]["state_code"] == -1
    assert rows[1]["state_name"] == "Interface Bad Value" and rows[1]["is_system"] is False
    off = as_dict(load("v06_doc_recorded_digital_off_no_issystem.json")["Items"][0])
    assert (off["value_type"], off["state_name"], off["state_code"], off["units"]) == ("digital", "Off", 0, "m")


def test_per_value_errors_keep_the_timestamp_and_the_error():
    row = as_dict(load("v07_doc_value_with_errors.json"))
    assert row["value_type"] == "error" and row["good"] is False
    assert "PI Point not found." in row["errors"]


def test_string_quality_flags_and_stream_units():
    item = {
        "Timestamp": "2024-05-01T00:00:07.1254321Z",
        "Value": "Grade A batch 1234",
        "Good": True,
        "Questionable": True,
        "Substituted": False,
        "Annotated": True,
    }
    row = as_dict(item, units="kPa")
    assert row["value_type"] == "string" and row["value_string"] == "Grade A batch 1234"
    assert (row["questionable"], row["substituted"], row["annotated"]) == (True, False, True)
    assert row["units"] == "kPa"


def test_real_mixed_timestamp_forms():
    stream = load("r04_commandcenter_streamsets_channel_message.json")["Items"]
    items = [v for s in stream for v in s["Items"]]
    assert any("." in v["Timestamp"] for v in items) and any("." not in v["Timestamp"] for v in items)
    for item in items:
        row = as_dict(item)
        assert row["timestamp"].tzinfo == UTC and row["timestamp_raw"] == item["Timestamp"]


@pytest.mark.parametrize(
    "text, micros",
    [
        ("2022-12-09T14:06:38.4350128Z", 435012),
        ("2022-12-09T14:06:38Z", 0),
        ("2022-12-09T14:06:38.5Z", 500000),
        ("2022-12-09T16:06:38.1234567+02:00", 123456),
    ],
)
def test_timestamp_precision(text, micros):
    when = parse_pi_timestamp(text)
    assert when.microsecond == micros and when.hour == 14 and when.utcoffset() == dt.timedelta(0)


def test_timestamp_without_zone_is_rejected():
    with pytest.raises(ValueError):
        parse_pi_timestamp("2022-12-09T14:06:38")


@pytest.mark.parametrize(
    "item, reason",
    [
        ([], "not a JSON object"),
        ({"Value": 1.0}, "Timestamp"),
        ({"Timestamp": "yesterday", "Value": 1.0}, "unparseable Timestamp"),
        ({"Timestamp": "2024-01-01T00:00:00Z", "Value": None}, "null without Errors"),
        ({"Timestamp": "2024-01-01T00:00:00Z", "Value": [1, 2]}, "unsupported Value type"),
        ({"Timestamp": "2024-01-01T00:00:00Z", "Value": {"Name": "On"}}, "digital state"),
        ({"Timestamp": "2024-01-01T00:00:00Z", "Value": 1.0, "Good": "yes"}, "Good is not a boolean"),
    ],
)
def test_malformed_values_are_reported_with_their_payload(item, reason):
    with pytest.raises(MalformedValue) as info:
        normalise(item)
    assert reason in info.value.reason and info.value.raw is item


@pytest.mark.parametrize(
    "fixture,unknown",
    [
        ("r06a_pisquare37098_streamset_value_good.json", {"annotated"}),  # a 2018 server: no Annotated
        ("r06b_pisquare37098_streamset_value_pt_created.json", {"substituted", "annotated"}),
        ("s02_kukur_tests_recorded_page_of_system_states.json", {"questionable", "substituted", "annotated"}),
        ("s01_kukur_tests_recorded_duplicates_shutdown.json", {"questionable", "substituted", "annotated"}),
        ("v07_doc_value_with_errors.json", {"annotated"}),
    ],
)
def test_a_flag_the_server_did_not_send_is_unknown_not_false(fixture, unknown):
    body = load(fixture)
    # a stream set's items carry the value in Value; a recorded page's items are the values
    items = [i["Value"] if "WebId" in i else i for i in body["Items"]] if "Items" in body else [body]
    for item in items:
        row = as_dict(item)
        flags = {f: row[f] for f in ("good", "questionable", "substituted", "annotated")}
        assert {f for f, v in flags.items() if v is None} == unknown, (fixture, flags)
        sent = {f for f in flags if f.capitalize() in item and not (f == "good" and row["value_type"] == "error")}
        assert all(flags[f] is item[f.capitalize()] for f in sent), (fixture, flags)

"""Every wrong or missing setting fails fast with one readable line that names the key."""

import pytest

from connector_lib.config import SETTINGS, ConfigError, PIConfig

GOOD = {"pi.url": "https://pi.example.com/piwebapi"}


def _error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        PIConfig.from_mapping(raw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_are_valid_and_documented():
    config = PIConfig.from_mapping(GOOD)
    assert config.url == "https://pi.example.com/piwebapi"
    assert config.verify_tls is True and config.auth_type == "anonymous"
    assert config.page_size <= config.max_items_per_call
    assert all(s.doc for s in SETTINGS)


def test_nested_yaml_style_keys_are_flattened():
    config = PIConfig.from_mapping({"pi": {"url": "http://h/piwebapi", "page_size": 500, "tls": {"verify": False}}})
    assert config.page_size == 500 and config.verify_tls is False


@pytest.mark.parametrize("raw, key, fragment", [
    ({}, "pi.url", "required"),
    ({"pi.url": "pi.example.com"}, "pi.url", "http"),
    ({**GOOD, "pi.auth.type": "ntlmv9"}, "pi.auth.type", "basic, anonymous"),
    ({**GOOD, "pi.auth.type": "basic"}, "pi.auth.username", "required"),
    ({**GOOD, "pi.auth.type": "basic", "pi.auth.username": "u"}, "pi.auth.password", "required"),
    ({**GOOD, "pi.page_size": "-5"}, "pi.page_size", ">= 1"),
    ({**GOOD, "pi.page_size": "lots"}, "pi.page_size", "integer"),
    ({**GOOD, "pi.page_size": "200000"}, "pi.page_size", "max_items_per_call"),
    ({**GOOD, "pi.values_per_call": "150001"}, "pi.values_per_call", "max_items_per_call"),
    ({**GOOD, "pi.values_per_call": "0"}, "pi.values_per_call", ">= 1"),
    ({**GOOD, "pi.tags_per_request": "0"}, "pi.tags_per_request", "between 1 and 10000"),
    ({**GOOD, "pi.backfill_start": "last tuesday-ish"}, "pi.backfill_start", "not a time"),
    ({**GOOD, "pi.lookback": "10 parsecs"}, "pi.lookback", "not a duration"),
    ({**GOOD, "pi.max_window": "0s"}, "pi.max_window", "positive"),
    ({**GOOD, "pi.http.timeout": "-3s"}, "pi.http.timeout", "duration"),
    ({**GOOD, "pi.http.max_retries": "1000"}, "pi.http.max_retries", "between 0 and 100"),
    ({**GOOD, "pi.tls.verify": "maybe"}, "pi.tls.verify", "true or false"),
    ({**GOOD, "pi.tls.ca_bundle": "/nonexistent/ca.pem"}, "pi.tls.ca_bundle", "not found"),
    ({**GOOD, "pi.max_tags": "-1"}, "pi.max_tags", ">= 0"),
    ({**GOOD, "pi.pagesize": "100"}, "pi.pagesize", "unknown setting"),
    ({**GOOD, "pi.auth.type": "basic", "pi.auth.username": "u", "pi.auth.password": "env:OSIPI_TEST_UNSET_VAR"},
     "pi.auth.password", "OSIPI_TEST_UNSET_VAR is not set"),
    ({**GOOD, "pi.partitions": "many"}, "pi.partitions", "integer"),
])
def test_bad_setting_names_the_key(raw, key, fragment):
    message = _error(raw)
    assert message.startswith(key + ":"), message
    assert fragment in message, message


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot be read"):
        PIConfig.from_yaml(str(tmp_path / "missing.yml"))
    bad = tmp_path / "bad.yml"
    bad.write_text("pi.url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line"):
        PIConfig.from_yaml(str(bad))
    scalar = tmp_path / "scalar.yml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match=r"must be a mapping"):
        PIConfig.from_yaml(str(scalar))


def test_password_from_environment_never_in_repr_or_options(monkeypatch):
    monkeypatch.setenv("OSIPI_TEST_PASSWORD", "canary-Secret-31337")
    config = PIConfig.from_mapping({**GOOD, "pi.auth.type": "basic", "pi.auth.username": "svc",
                                    "pi.auth.password": "env:OSIPI_TEST_PASSWORD"})
    assert config.password == "canary-Secret-31337"
    assert "canary" not in repr(config)
    assert "canary" not in str(config.to_options())
    assert PIConfig.from_options(config.to_options(), config.password) == config


def test_from_spark_conf_reads_only_known_keys():
    conf = {"pi.url": "http://h/piwebapi", "pi.page_size": "42", "spark.sql.shuffle.partitions": "3"}
    config = PIConfig.from_spark_conf(lambda key, default=None: conf.get(key, default))
    assert config.page_size == 42


def test_every_setting_is_documented_with_its_default():
    from connector_lib.config import SETTINGS
    from tests.conftest import REPO

    reference = (REPO / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        shown = {None: "(required)", "": "(empty)"}.get(setting.default, f"`{setting.default}`")
        assert f"| `{setting.key}` | {shown} |" in reference, setting.key

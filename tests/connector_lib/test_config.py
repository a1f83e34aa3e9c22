"""Every wrong or missing setting fails fast with one readable line that names the key."""

import pickle

import pytest

from connector_lib.config import ConfigError, PIConfig
from connector_lib.settings import SETTINGS
from tests.conftest import REPO

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


@pytest.mark.parametrize(
    "raw, key, fragment",
    [
        ({}, "pi.url", "required"),
        ({"pi.url": "pi.example.com"}, "pi.url", "http"),
        ({**GOOD, "pi.auth.type": "ntlmv9"}, "pi.auth.type", "basic, bearer, kerberos, anonymous"),
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
        ({**GOOD, "pi.reread_table": "my table; DROP TABLE x"}, "pi.reread_table", "must be a table name"),
        ({**GOOD, "pi.af.root": "Sydney"}, "pi.af.root", "needs pi.af.databases"),
        ({**GOOD, "pi.af.databases": "Operations", "pi.af.root": "Sydney\\U*"}, "pi.af.root", "without wildcards"),
        ({**GOOD, "pi.af.page_size": "0"}, "pi.af.page_size", "between 1 and 10000"),
        ({**GOOD, "pi.ef.templates": "Batch"}, "pi.ef.templates", "needs pi.af.databases"),
        ({**GOOD, "pi.auth.type": "bearer"}, "pi.auth.token_url", "required when pi.auth.type is bearer"),
        (
            {**GOOD, "pi.auth.type": "bearer", "pi.auth.token": "t", "pi.auth.token_url": "https://idp/token"},
            "pi.auth.token",
            "not both",
        ),
        ({**GOOD, "pi.auth.type": "bearer", "pi.auth.token_url": "idp/token"}, "pi.auth.token_url", "not an http"),
        ({**GOOD, "pi.auth.type": "bearer", "pi.auth.token_url": "https://idp/token"}, "pi.auth.client_id", "required"),
        (
            {**GOOD, "pi.auth.type": "bearer", "pi.auth.token_url": "https://idp/token", "pi.auth.client_id": "c"},
            "pi.auth.client_secret",
            "required",
        ),
        (
            {**GOOD, "pi.auth.type": "kerberos", "pi.auth.kerberos_keytab": "/nonexistent/svc.keytab"},
            "pi.auth.kerberos_keytab",
            "file not found",
        ),
        ({**GOOD, "pi.ef.lookback": "a while"}, "pi.ef.lookback", "not a duration"),
        ({**GOOD, "pi.ef.backfill_start": "*+1d"}, "pi.ef.backfill_start", "must not be in the future"),
        ({**GOOD, "pi.ef.current": "view"}, "pi.ef.current", "unknown setting"),
        ({**GOOD, "pi.ef.page_size": "20000"}, "pi.ef.page_size", "between 1 and 10000"),
        ({**GOOD, "pi.ef.enabled": "maybe"}, "pi.ef.enabled", "true or false"),
        ({**GOOD, "pi.http.timeout": "-3s"}, "pi.http.timeout", "duration"),
        ({**GOOD, "pi.http.max_retries": "1000"}, "pi.http.max_retries", "between 0 and 100"),
        ({**GOOD, "pi.tls.verify": "maybe"}, "pi.tls.verify", "true or false"),
        ({**GOOD, "pi.tls.ca_bundle": "/nonexistent/ca.pem"}, "pi.tls.ca_bundle", "not found"),
        ({**GOOD, "pi.max_tags": "-1"}, "pi.max_tags", ">= 0"),
        ({**GOOD, "pi.pagesize": "100"}, "pi.pagesize", "unknown setting"),
        (
            {**GOOD, "pi.auth.type": "basic", "pi.auth.username": "u", "pi.auth.password": "env:OSIPI_TEST_UNSET_VAR"},
            "pi.auth.password",
            "OSIPI_TEST_UNSET_VAR is not set",
        ),
        ({**GOOD, "pi.partitions": "many"}, "pi.partitions", "integer"),
        ({**GOOD, "pi.url": "https://"}, "pi.url", "host missing"),
        ({**GOOD, "pi.url": "ftp://pi.example.com/piwebapi"}, "pi.url", "http"),
        ({**GOOD, "pi.backfill_start": "*+1d"}, "pi.backfill_start", "future"),
        ({**GOOD, "pi.max_concurrent_requests": "0"}, "pi.max_concurrent_requests", "between 1 and 64"),
        ({**GOOD, "pi.max_requests_per_second": "fast"}, "pi.max_requests_per_second", "number"),
        ({**GOOD, "pi.max_requests_per_second": "-2"}, "pi.max_requests_per_second", ">= 0"),
        ({**GOOD, "pi.http.backoff": "-1s"}, "pi.http.backoff", "duration"),
        ({**GOOD, "pi.settle_lag": "soon"}, "pi.settle_lag", "not a duration"),
        ({**GOOD, "pi.max_items_per_call": "0"}, "pi.max_items_per_call", ">= 1"),
        ({**GOOD, "pi.tags_per_request": "1e3"}, "pi.tags_per_request", "integer"),
        ({**GOOD, "pi.shard.count": "0"}, "pi.shard.count", "between 1 and 4096"),
        ({**GOOD, "pi.shard.count": "4", "pi.shard.index": "4"}, "pi.shard.index", "below pi.shard.count (4)"),
        ({**GOOD, "pi.shard.index": "-1"}, "pi.shard.index", ">= 0"),
        (
            {**GOOD, "pi.shard.count": "2", "pi.shard.index": "1", "pi.af.databases": "Ops"},
            "pi.af.databases",
            "shard 0 only",
        ),
    ],
)
def test_bad_setting_names_the_key(raw, key, fragment):
    message = _error(raw)
    assert message.startswith(key + ":"), message
    assert fragment in message, message


@pytest.mark.parametrize(
    "text, error",
    [
        (None, r"cannot be read"),
        ("pi.url: [unclosed\n", r"not valid YAML at line"),
        ("just a string\n", r"must be a mapping"),
        ("", r"must be a mapping"),
        ("url: http://h/piwebapi\n", r"^url: unknown setting"),
    ],
)
def test_unreadable_invalid_and_stray_yaml(tmp_path, text, error):
    path = tmp_path / "settings.yml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=error):
        PIConfig.from_yaml(str(path))


@pytest.mark.parametrize(
    "settings, field, option",
    [
        (
            {"pi.auth.type": "basic", "pi.auth.username": "svc", "pi.auth.password": "env:OSIPI_TEST_SECRET"},
            "password",
            "pi.auth.password",
        ),
        ({"pi.auth.type": "bearer", "pi.auth.token": "env:OSIPI_TEST_SECRET"}, "token", "pi.auth.token"),
        (
            {
                "pi.auth.type": "bearer",
                "pi.auth.token_url": "https://idp.example.com/token",
                "pi.auth.client_id": "pi",
                "pi.auth.client_secret": "env:OSIPI_TEST_SECRET",
            },
            "client_secret",
            "pi.auth.client_secret",
        ),
    ],
)
def test_secrets_never_in_repr_and_only_in_their_own_option(monkeypatch, settings, field, option):
    """A secret given as env:VAR travels to executors as the reference (each reads its own environment);
    one given as a value (a resolved Databricks secret reference) under its own redacted option."""
    monkeypatch.setenv("OSIPI_TEST_SECRET", "canary-Secret-31337")
    config = PIConfig.from_mapping({**GOOD, **settings})
    assert getattr(config, field) == "canary-Secret-31337"
    assert "canary" not in repr(config)
    options = config.to_options()
    assert set(options) == {"config"} and "canary" not in options["config"] and "OSIPI_TEST_SECRET" in options["config"]
    assert PIConfig.from_options(options) == config  # resolved again from this process's environment
    monkeypatch.delenv("OSIPI_TEST_SECRET")
    with pytest.raises(
        ConfigError, match=f"^{option}: environment variable OSIPI_TEST_SECRET is not set in this Spark Python worker"
    ):
        PIConfig.from_options(options)
    monkeypatch.setenv("OSIPI_TEST_SECRET", "canary-Secret-31337")
    shipped = pickle.dumps(config)  # what Spark sends executors with the reader
    assert b"canary" not in shipped and pickle.loads(shipped) == config  # each reads its own environment
    monkeypatch.delenv("OSIPI_TEST_SECRET")
    with pytest.raises(ConfigError, match=f"^{option}: environment variable OSIPI_TEST_SECRET is not set"):
        pickle.loads(shipped)
    resolved = {k: ("canary-Secret-31337" if v.startswith("env:") else v) for k, v in settings.items()}
    config = PIConfig.from_mapping({**GOOD, **resolved})
    options = config.to_options()
    assert "canary" not in options["config"] and options[option] == "canary-Secret-31337"
    assert set(options) == {"config", option}  # each secret under its own (redacted) option, nothing else
    assert PIConfig.from_options(options) == config
    assert pickle.loads(pickle.dumps(config)) == config  # a value travels in the pickle, as in the options


def test_a_setting_of_another_auth_mode_is_an_error():
    with pytest.raises(ConfigError, match=r"^pi.auth.token_url: used only when pi.auth.type is bearer \(it is basic\)"):
        PIConfig.from_mapping(
            {
                **GOOD,
                "pi.auth.type": "basic",
                "pi.auth.username": "u",
                "pi.auth.password": "p",
                "pi.auth.token_url": "https://idp.example.com/token",
            }
        )
    with pytest.raises(ConfigError, match=r"^pi.auth.password: used only when pi.auth.type is basic or kerberos"):
        PIConfig.from_mapping({**GOOD, "pi.auth.type": "bearer", "pi.auth.token": "t", "pi.auth.password": "p"})


def test_from_spark_conf_reads_the_pi_keys_and_ignores_spark_keys():
    conf = {"pi.url": "http://h/piwebapi", "pi.page_size": "42", "spark.sql.shuffle.partitions": "3"}
    config = PIConfig.from_spark_conf(conf)
    assert config.page_size == 42


def test_a_misspelt_key_in_the_pipeline_configuration_is_an_error_naming_it():
    conf = {"pi.url": "http://h/piwebapi", "pi.tag_fliter": "SYD.*", "spark.sql.shuffle.partitions": "3"}
    with pytest.raises(ConfigError) as raised:
        PIConfig.from_spark_conf(conf)
    assert str(raised.value) == (
        "pi.tag_fliter: unknown setting (did you mean pi.tag_filter? known: see docs/configuration.md)"
    )


def test_every_setting_is_documented_with_its_default():
    from connector_lib.settings import SETTINGS

    reference = (REPO / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        shown = {None: "(required)", "": "(empty)"}.get(setting.default, f"`{setting.default}`")
        assert f"| `{setting.key}` | {shown} |" in reference, setting.key


def test_credentials_in_the_url_are_refused_without_echoing_them():
    message = _error({"pi.url": "https://svc:Canary-Secret-9@pi.example.com/piwebapi"})
    assert message.startswith("pi.url:") and "Canary-Secret-9" not in message and "svc" not in message


def test_every_message_is_one_line_naming_a_key():
    for raw in ({}, {**GOOD, "pi.page_size": "x"}, {**GOOD, "pi.lookback": "?"}, {**GOOD, "pi.auth.type": "kerberos5"}):
        message = _error(raw)
        assert "\n" not in message and message.split(":")[0].startswith("pi.")


def test_yaml_lists_are_comma_separated_settings(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("pi:\n  url: http://h/piwebapi\n  tags: [SYD.A, SYD.B]\n")
    assert PIConfig.from_yaml(str(good)).tags == ("SYD.A", "SYD.B")


@pytest.mark.parametrize(
    "text, key",
    [
        ("pi.url: http://h/piwebapi\npi.page_size: -5\n", "pi.page_size"),
        ("pi.url: http://h/piwebapi\npi.auth.type: ntlm\n", "pi.auth.type"),
        ("pi.page_size: 10\n", "pi.url"),
        ("pi.url: [unclosed\n", "config file"),
    ],
)
def test_make_run_with_a_bad_config_prints_one_line_and_exits_2(tmp_path, text, key):
    """The user's path (``make run CONFIG=...``): one readable line, no traceback, before Spark starts."""
    import subprocess
    import sys

    path = tmp_path / "bad.yml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "devtools.run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    out = (done.stdout + done.stderr).strip()
    assert done.returncode == 2 and out.count("\n") == 0 and "Traceback" not in out, out
    assert out.startswith("configuration error: " + key), out


@pytest.mark.parametrize("name", ["pi_reread_requests", "ops.pi_reread", "main.ops.pi_reread", "`my-cat`.ops.t"])
def test_reread_table_takes_one_to_three_part_names(name):
    assert PIConfig.from_mapping({**GOOD, "pi.reread_table": name}).reread_table == name


def test_a_runtime_older_than_spark_4_is_refused_in_one_line():
    from connector_lib.runtime import UnsupportedRuntime, require_supported_spark

    require_supported_spark("4.0.0", "4.0.0")
    require_supported_spark("4.2.0", "4.1.4")
    with pytest.raises(UnsupportedRuntime) as raised:
        require_supported_spark("4.0.0", "3.5.2")  # a serverless environment version with a Spark 3.5 client
    assert str(raised.value) == (
        "pyspark 3.5.2: osipi-lakeflow needs Spark 4.0 or newer (Databricks Runtime 17.3 LTS or newer: pipeline "
        "channel CURRENT or PREVIEW, environment_version 4; docs/deploy.md)"
    )
    with pytest.raises(UnsupportedRuntime, match="^Spark 3.5.0: "):
        require_supported_spark("3.5.0", "4.0.0")


def test_shards_split_the_server_rate_limit_and_own_each_point_once():
    shards = [
        PIConfig.from_mapping(
            {**GOOD, "pi.max_requests_per_second": "12", "pi.shard.count": "3", "pi.shard.index": str(i)}
        )
        for i in range(3)
    ]
    assert [c.requests_per_second for c in shards] == [4.0, 4.0, 4.0]
    assert PIConfig.from_mapping({**GOOD, "pi.max_requests_per_second": "12"}).requests_per_second == 12.0
    for point_id in range(1, 50):
        assert sum(c.owns_point(point_id) for c in shards) == 1

"""The settings table in one place: docs/configuration.md shows exactly connector_lib/settings.py, and the
typed configuration takes its defaults from it."""

import dataclasses

from connector_lib.config import PIConfig
from connector_lib.settings import SETTINGS, markdown_table, with_table
from tests.conftest import REPO

DOCS = REPO / "docs" / "configuration.md"


def test_the_documentation_table_is_generated_from_the_settings():
    document = DOCS.read_text(encoding="utf-8")
    assert with_table(document) == document, "docs/configuration.md is out of date: run make docs"
    assert markdown_table().count("\n") == len(SETTINGS) + 1


def test_every_setting_has_a_meaning_and_a_unique_key():
    assert all(s.doc.strip() for s in SETTINGS)
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)


def test_the_configuration_keeps_no_defaults_of_its_own():
    """Defaults live in the settings table only: a field default would be a second one."""
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in dataclasses.fields(PIConfig)
    )


def test_a_blank_name_setting_falls_back_to_its_documented_default():
    config = PIConfig.from_mapping({"pi.url": "http://h/piwebapi", "pi.tag_filter": " ", "pi.ef.batch_template": ""})
    defaults = {s.key: s.default for s in SETTINGS}
    assert config.tag_filter == defaults["pi.tag_filter"]
    assert config.ef_batch_template == defaults["pi.ef.batch_template"]

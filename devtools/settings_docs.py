"""Regenerate the settings table of docs/configuration.md from connector_lib/settings.py (``make docs``)."""

from pathlib import Path

from connector_lib.settings import with_table

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def main() -> None:
    document = DOCS.read_text(encoding="utf-8")
    updated = with_table(document)
    if updated != document:
        DOCS.write_text(updated, encoding="utf-8")
        print(f"updated {DOCS}")
    else:
        print(f"{DOCS} is up to date")


if __name__ == "__main__":
    main()

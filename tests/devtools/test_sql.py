"""``make sql`` (devtools.sql): the local tables opened for SQL without Spark code, as a user runs it
after ``make run``: a process of its own on the catalog and Delta tables another process left."""

import subprocess
import sys
import textwrap

import pytest

from devtools.sql import main, split, statements
from tests.conftest import REPO

WRITE_TABLES = textwrap.dedent(
    """
    import sys
    from devtools.local_pipeline import LocalPipeline
    pipeline = LocalPipeline(sys.argv[1], {})
    spark = pipeline.spark
    spark.sql("CREATE DATABASE IF NOT EXISTS osipi")
    spark.sql("CREATE TABLE osipi.pi_watermarks (tag string, rows_read long) USING delta")
    spark.sql("INSERT INTO osipi.pi_watermarks VALUES ('ROT.U001.PT00001.PV', 720), ('ROT.U002.TT00002.PV', NULL)")
    pipeline.stop()
    """
)


def test_statements_split_at_semicolons_outside_quotes():
    assert statements("SELECT 1; SELECT ';' AS s;\n  ;SHOW TABLES") == ["SELECT 1", "SELECT ';' AS s", "SHOW TABLES"]
    assert statements("  ") == []


def test_the_prompt_runs_a_statement_once_its_semicolon_is_typed():
    assert split("SELECT ';' AS s\n") == ([], "SELECT ';' AS s\n")  # a semicolon in quotes ends nothing
    assert split("SELECT *\n" + "FROM t; SHOW") == (["SELECT *\nFROM t"], " SHOW")


def test_a_work_directory_without_tables_says_to_run_first(tmp_path, capsys):
    assert main(["--work-dir", str(tmp_path), "-e", "SHOW TABLES"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"no tables in {tmp_path}: run `make run` first (or give --work-dir)"


@pytest.mark.slow
def test_the_tables_another_run_left_are_queried_by_their_names(tmp_path):
    subprocess.run([sys.executable, "-c", WRITE_TABLES, str(tmp_path)], cwd=REPO, check=True, capture_output=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.sql",
            "--work-dir",
            str(tmp_path),
            "-e",
            "SHOW TABLES; SELECT tag, rows_read FROM pi_watermarks ORDER BY tag; SELECT nope FROM pi_watermarks",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert "| osipi     | pi_watermarks | false       |" in out, out
    assert "| ROT.U001.PT00001.PV | 720       |" in out and "| ROT.U002.TT00002.PV | NULL      |" in out, out
    assert "2 rows" in out
    # a wrong statement is one line, and the exit status says a statement failed
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "nope" in errors[0], out
    assert done.returncode == 1
    assert "Exception" not in done.stderr and (tmp_path / "sql-spark.log").exists()

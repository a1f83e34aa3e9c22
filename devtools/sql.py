"""``make sql``: the tables a local run wrote, opened for SQL, with no Spark code to write.

    make sql                                     # an interactive prompt; end each statement with ;
    make sql QUERY="SELECT * FROM pi_watermarks"  # one or more statements, then exit

Opens the Delta tables and the catalog ``make run`` left in ``.work/run`` (``--work-dir`` for another
one) on a local Spark session, with the pipeline's schema as the current one, so ``SHOW TABLES`` lists
them and ``SELECT ... FROM pi_hourly_gold`` needs no qualifier. The catalog is a Derby database that one
process can open at a time: run it after ``make run`` has finished. Spark's own output goes to
``sql-spark.log`` in the work directory.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from connector_lib.spark.pipeline import first_line

from .local_pipeline import REPO, LocalPipeline

DEFAULT_WORK_DIR = REPO / ".work" / "run"
PROMPT, MORE = "osipi> ", "    -> "


def split(text: str) -> tuple[list[str], str]:
    """The statements ``text`` ends with a semicolon (outside quotes), and what follows the last one (as
    typed: a prompt adds the next line to it)."""
    found, current, quote = [], [], None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == ";":
            found.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    return [s for s in found if s], "".join(current)


def statements(text: str) -> list[str]:
    """The statements of ``text``, split at semicolons outside quotes (the last one needs none)."""
    complete, rest = split(text)
    return complete + [rest.strip()] if rest.strip() else complete


def show(spark, statement: str, rows: int, out=sys.stdout) -> None:
    """Run one statement and print what it returns (nothing for a command that returns no rows)."""
    frame = spark.sql(statement)
    names = frame.columns
    if not names:
        return
    taken = frame.take(rows + 1)
    cells = [[_cell(v) for v in row] for row in taken[:rows]]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line, file=out)
    print("| " + " | ".join(n.ljust(w) for n, w in zip(names, widths)) + " |", file=out)
    print(line, file=out)
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |", file=out)
    print(line, file=out)
    more = " (more not shown; --rows to see more)" if len(taken) > rows else ""
    print(f"{len(cells)} row{'s' if len(cells) != 1 else ''}{more}", file=out, flush=True)


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"  # as SQL prints them
    return str(value)


def _interactive(spark, rows: int) -> None:
    print("SQL on the local tables; end a statement with ;  (quit with Ctrl-D)", flush=True)
    pending = ""
    while True:
        try:
            line = input(MORE if pending else PROMPT)
        except EOFError:
            print()
            return
        complete, rest = split(pending + line + "\n")
        for statement in complete:
            _run_one(spark, statement, rows)
        pending = (
            rest if rest.strip() else ""
        )  # a statement is run once its semicolon is typed, not at a semicolon in quotes


def _run_one(spark, statement: str, rows: int) -> bool:
    try:
        show(spark, statement, rows)
        return True
    except Exception as error:  # a wrong statement is the user's to fix: one line, then go on
        print(f"error: {first_line(error)}", flush=True)
        return False


def _opening_failed(work: Path, database: str, error: Exception) -> str:
    text = str(error)
    if "Another instance of Derby" in text or "Failed to start database" in text:
        return f"the catalog in {work} is open in another process (a run still going?): try again when it ends"
    if "SCHEMA_NOT_FOUND" in text:
        return f"no schema {database} in {work}: give the pipeline's schema with --database"
    return f"cannot open the tables in {work}: {first_line(error)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-e", "--execute", help="statements to run (separated by ;), then exit")
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="what make run wrote (default %(default)s)")
    parser.add_argument("--database", default="osipi", help="the pipeline's schema (default %(default)s)")
    parser.add_argument("--rows", type=int, default=50, help="rows printed per result (default %(default)s)")
    args = parser.parse_args(argv)
    work = Path(args.work_dir).resolve()
    if not (work / "metastore_db").is_dir():
        print(f"no tables in {work}: run `make run` first (or give --work-dir)", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    pipeline = LocalPipeline(work, {}, database=args.database, spark_output=work / "sql-spark.log")
    try:
        spark = pipeline.spark
        try:
            spark.catalog.setCurrentDatabase(args.database)
        except Exception as error:
            print(_opening_failed(work, args.database, error), file=sys.stderr)
            return 2
        if args.execute is None:
            _interactive(spark, args.rows)
            return 0
        ok = [_run_one(spark, s, args.rows) for s in statements(args.execute)]
        return 0 if all(ok) else 1
    finally:
        pipeline.stop()


if __name__ == "__main__":
    sys.exit(main())

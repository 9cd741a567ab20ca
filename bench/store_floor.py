"""What the database alone costs per workflow: `python -m bench.store_floor`.

The throughput workload writes each workflow four times (its start, then one pass per step,
each committed before the next step runs) and reads it once. This runs those statements by
themselves, in a loop on one connection, against the table the store created (its columns,
its indexes, and a row copied from one the store wrote), with none of LiteFlow's code in
between: the floor under `bench.profile_throughput --apart`, which times the same work done
by the engine. The updates set the columns a pass changes (status, wake-up, data, pointers).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from liteflow.core import configure_workflow_host
from liteflow.core.records import new_id

from .liteflow_flows import MyData, ThreeStep
from .systems import fresh_postgres_database

__all__ = ["main"]

#: Each pass's update: its status, and whether it leaves the instance due (a wake-up time)
#: as the first two do, or complete without one as the last.
_PASSES = ((0, True), (0, True), (2, False))


def _chunks(ids: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _updates_label(batch: int) -> str:
    return "3 updates" if batch == 1 else f"3 updates ({batch} workflows per transaction)"


def _timed(work: Callable[[], None], count: int) -> tuple[float, float]:
    """Wall and CPU microseconds per workflow of `work` over `count` workflows."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6


def _report(system: str, phases: dict[str, tuple[float, float]]) -> None:
    wall = sum(spent for spent, _ in phases.values())
    cpu = sum(spent for _, spent in phases.values())
    parts = ", ".join(f"{name} {spent:.0f} us" for name, (spent, _) in phases.items())
    print(
        f"{system}: {parts}; {wall:.0f} us per workflow (CPU {cpu:.0f} us in this process), "
        f"at most {1e6 / wall:,.0f} workflows/s through one connection"
    )


def _stored_row(provider: Any) -> None:
    """Let the store create its tables and write one instance the way it does."""
    host = configure_workflow_host(persistence_service=provider)
    host.register_workflow(ThreeStep())
    provider.start()
    host.start_workflow("ThreeStep", 1, MyData(1, 2))


def _sqlite(count: int, batch: int) -> None:
    from liteflow.core import SqlitePersistenceProvider

    with tempfile.TemporaryDirectory() as workdir:
        path = str(Path(workdir) / "floor.db")
        provider = SqlitePersistenceProvider(path)
        _stored_row(provider)
        provider.close()
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA synchronous = NORMAL")  # the store's setting (WAL stays in the file)
        cursor = connection.execute("SELECT * FROM workflows LIMIT 1")
        columns = [column[0] for column in cursor.description]
        row = list(cursor.fetchone())
        position = columns.index("id")
        ids = [new_id() for _ in range(count)]
        insert = f"INSERT INTO workflows ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        update = (
            "UPDATE workflows SET status = ?, next_execution = ?, data = ?, execution_pointers = ? "
            "WHERE id = ?"
        )
        data, pointers = row[columns.index("data")], row[columns.index("execution_pointers")]
        micros = row[columns.index("create_time")]

        def starts() -> None:
            for workflow_id in ids:
                row[position] = workflow_id
                connection.execute(insert, row)

        def reads() -> None:
            for workflow_id in ids:
                connection.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchall()

        def passes() -> None:
            for chunk in _chunks(ids, batch):
                for status, due in _PASSES:
                    if batch > 1:
                        connection.execute("BEGIN IMMEDIATE")
                    for workflow_id in chunk:
                        values = (status, micros if due else None, data, pointers, workflow_id)
                        connection.execute(update, values)
                    if batch > 1:
                        connection.execute("COMMIT")

        _report(
            "sqlite",
            {
                "insert": _timed(starts, count),
                "read": _timed(reads, count),
                _updates_label(batch): _timed(passes, count),
            },
        )
        connection.close()


def _check(result: Any) -> None:
    from psycopg import pq

    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise RuntimeError(result.error_message.decode(errors="replace").strip())


def _postgres(count: int, batch: int) -> None:
    import psycopg

    from liteflow_postgres import PostgresPersistenceProvider

    dsn, drop = fresh_postgres_database("liteflow_floor")
    try:
        provider = PostgresPersistenceProvider(dsn)
        _stored_row(provider)
        provider.close()
        with psycopg.connect(dsn, autocommit=True) as connection:
            pgconn = connection.pgconn
            written = connection.execute(  # the columns an INSERT sets (not the generated ones)
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'liteflow' "
                "AND table_name = 'workflows' AND is_identity = 'NO' AND is_generated = 'NEVER'"
            ).fetchall()
            columns = [name for (name,) in written]
            result = pgconn.exec_(f"SELECT {', '.join(columns)} FROM liteflow.workflows LIMIT 1".encode())
            _check(result)
            row: list[bytes | None] = [result.get_value(0, n) for n in range(result.nfields)]
            position = columns.index("id")
            placeholders = ", ".join(f"${n + 1}" for n in range(len(columns)))
            statements = {
                b"floor_insert": (
                    f"INSERT INTO liteflow.workflows ({', '.join(columns)}) VALUES ({placeholders})"
                ),
                b"floor_read": "SELECT * FROM liteflow.workflows WHERE id = $1",
                b"floor_update": "UPDATE liteflow.workflows SET status = $1, next_execution = $2, "
                "data = $3, execution_pointers = $4 WHERE id = $5",
            }
            for name, sql in statements.items():
                _check(pgconn.prepare(name, sql.encode()))
            ids = [new_id().encode() for _ in range(count)]
            data, pointers = row[columns.index("data")], row[columns.index("execution_pointers")]
            wake = row[columns.index("create_time")]

            def run(name: bytes, values: Sequence[bytes | None]) -> None:
                _check(pgconn.exec_prepared(name, values))  # type: ignore[arg-type]

            def starts() -> None:
                for workflow_id in ids:
                    row[position] = workflow_id
                    run(b"floor_insert", row)

            def reads() -> None:
                for workflow_id in ids:
                    run(b"floor_read", [workflow_id])

            def passes() -> None:
                for chunk in _chunks(ids, batch):
                    for status, due in _PASSES:
                        if batch > 1:
                            _check(pgconn.exec_(b"BEGIN"))
                        for workflow_id in chunk:
                            values = [
                                str(status).encode(),
                                wake if due else None,
                                data,
                                pointers,
                                workflow_id,
                            ]
                            run(b"floor_update", values)
                        if batch > 1:
                            _check(pgconn.exec_(b"COMMIT"))

            _report(
                "postgres",
                {
                    "insert": _timed(starts, count),
                    "read": _timed(reads, count),
                    _updates_label(batch): _timed(passes, count),
                },
            )
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--systems", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--count", type=int, default=5_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="commit each pass of this many workflows in one transaction (default 1: each alone, "
        "as LiteFlow does), to see what batching passes would save",
    )
    args = parser.parse_args()
    if args.batch < 1:
        parser.error(f"--batch must be at least 1, got {args.batch}")
    runs = {"sqlite": _sqlite, "postgres": _postgres}
    for system in filter(None, args.systems.split(",")):
        if system not in runs:
            parser.error(f"unknown system {system!r}: choose from {', '.join(runs)}")
        runs[system](args.count, args.batch)


if __name__ == "__main__":
    main()

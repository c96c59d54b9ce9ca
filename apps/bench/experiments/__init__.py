"""One-off measurements kept beside the benchmarks: each backs a choice the code made.

Not `gamemetrics bench` commands: each module is run on its own from a source
checkout, `python -m apps.bench.experiments.<name> --help`, and prints what it
measured. docs/benchmarks.md holds their results and says which choice each backs.

- `broker_gaps`: whether the local broker answers a fetch with a later batch
  (why the processor reads offset gaps again, apps/processor/gaps.py).
- `consumer_loop`: sentry-arroyo's StreamProcessor against a batched consume loop
  (why the processor's loop is hand-written).
- `erasure_cost`: how long erasing a player with 10,000 events over 90 days takes (the
  index `events_player`, and how long the game's batches wait for an erasure).
- `funnel_ab`: the funnel query of two revisions, interleaved on the analytics
  benchmark's data.
- `hostile_query`: a cheap query's p99 alone and beside the worst GraphQL document the
  analytics API accepts (how the document limits and the validation worker were sized).
- `local_broker`: the local broker's delivery latency and CPU (the producers' linger,
  the consumers' fetch wait, the local topic's partitions).
- `profile_reads`: a player's profile read with and without an index led by (game_id,
  player_id) on `events` (why the users service's migration adds one).
- `retention_phases`: where a retention pass's time goes, phase by phase (what the
  retention benchmark's archive throughput is made of).
- `resume_latency`: how long a resumed consumer waits for its next record (why the
  processor does not pause its partitions between batches).
- `writer_ab`: the processor's writer of a revision against the working tree's,
  interleaved batch by batch (how each change to the store path was kept or not).
- `writer_statements`: the processor writer's time, statement by statement.
"""

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apps.local import process
from apps.local.servers import EmbeddedPostgres
from apps.store.migrate import migrate


def argument_parser(file: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of the experiment in `file`: the usage line shows its `python -m` command,
    the description is the first paragraph of `doc` (the module's docstring)."""
    return argparse.ArgumentParser(
        prog=f"python -m {__name__}.{Path(file).stem}", description=(doc or "").split("\n\n")[0]
    )


@contextmanager
def scratch_postgres(prefix: str, *, migrated: bool = True) -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL of the experiment's own in a new temporary folder (its log is
    `postgres.log` there), with the migrations applied unless told not to; stopped at exit."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    pg = EmbeddedPostgres("postgres", folder / "postgres.log", data_dir=folder / "pg",
                          port=process.free_port())  # fmt: skip
    pg.start()
    try:
        if migrated:
            migrate(pg.url)
        yield pg
    finally:
        pg.stop(30)

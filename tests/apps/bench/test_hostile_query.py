"""apps/bench/experiments/hostile_query.py runs on the session's servers and prints its figures."""

import re
import subprocess
import sys

from tests.support.servers import Endpoints


def test_the_hostile_query_benchmark_prints_baseline_and_added_p99(endpoints: Endpoints) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "apps.bench.experiments.hostile_query", "--duration", "1",
            "--postgres-url", endpoints.postgres_dsn, "--redis-url", endpoints.redis_url,
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert out.startswith("workload: victim loops '{ games { id } }'")
    assert re.search(r"worst accepted: .+ \(\d+ bytes, [\d.]+ ms alone\)", out)
    for phase in ("victim alone (worst accepted)", "beside worst accepted x1",
                  "victim alone (refused chain)", "beside refused chain x1"):  # fmt: skip
        row = re.search(rf"^{re.escape(phase)} +(\d+) +([\d.]+) +([\d.]+) +([\d.]+)", out, re.M)
        assert row, out
        assert int(row.group(1)) > 0  # victim requests measured
        assert float(row.group(2)) <= float(row.group(3))  # p50 <= p99
    assert len(re.findall(r"^added p99 \(beside .+\): [+-][\d.]+ ms", out, re.M)) == 2

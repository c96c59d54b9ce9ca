"""Hostile HTTP against the running processor service (`gamemetrics serve processor`).

The processor's HTTP endpoints are its probes, /metrics and /drain; every
service gets the same suite (docs/ARCHITECTURE.md's checklist): whatever the
method, path, headers or body, the answer is never a 5xx, an error is the
edge's JSON body, and the service is still alive and storing afterwards.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.services import PROCESSOR
from tests.support.processor import ProcessorProcess, processor_settings
from tests.support.servers import Endpoints

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DECLARED = [
    PROCESSOR.liveness_path,
    PROCESSOR.readiness_path,
    PROCESSOR.metrics_path,
    str(PROCESSOR.drain_path),
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"]


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("processor-fuzz") / "processor.log"
    running = ProcessorProcess(
        processor_settings(endpoints.postgres_dsn, endpoints.kafka_bootstrap), log
    )
    running.start()
    try:
        yield running.url
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(processor: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=processor, timeout=30) as c:
        yield c


paths = st.one_of(
    st.sampled_from(DECLARED),
    st.sampled_from(DECLARED).map(lambda p: p + "/"),
    # Any text, percent-encoded as a client must send it: the server sees it decoded.
    st.text(st.characters(codec="utf-8"), max_size=40).map(lambda s: "/" + quote(s, safe="/")),
)
headers = st.dictionaries(
    st.sampled_from(["content-type", "accept", "content-encoding", "x-forwarded-for", "range"]),
    # Header values a client can send: visible ASCII, no leading or trailing space.
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30),
    max_size=3,
)


def _documented(r: httpx.Response, method: str) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400 and method != "HEAD":
        body = r.json()
        assert isinstance(body, dict), r.text
        assert isinstance(body.get("error"), str), r.text
        assert "Traceback" not in r.text


@FUZZ
@given(
    method=st.sampled_from(METHODS),
    path=paths,
    query=st.text(max_size=30),
    sent_headers=headers,
    body=st.binary(max_size=2048),
)
def test_no_request_gets_a_5xx_or_an_undocumented_answer(
    client: httpx.Client,
    method: str,
    path: str,
    query: str,
    sent_headers: dict[str, str],
    body: bytes,
) -> None:
    r = client.request(
        method, path, params={"q": query} if query else None, headers=sent_headers, content=body
    )
    _documented(r, method)


def test_after_the_fuzzing_the_declared_endpoints_answer_as_documented(
    client: httpx.Client,
) -> None:
    assert client.get(PROCESSOR.liveness_path).json() == {"status": "alive"}
    assert client.get(PROCESSOR.readiness_path).status_code == 200
    assert "gm_processor_rows_total" in client.get(PROCESSOR.metrics_path).text
    drain = json.loads(client.get(str(PROCESSOR.drain_path)).text)
    assert set(drain) >= {"caught_up", "lag"}
    r = client.post(PROCESSOR.liveness_path)
    assert r.status_code == 405
    assert r.json()["error"]

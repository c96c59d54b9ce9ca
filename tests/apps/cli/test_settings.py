"""`gamemetrics settings`: what an operator may set, from the contracts the services read."""

import json

import pytest

from apps.cli.main import main
from apps.core import services
from apps.core.settings import for_service


def test_json_lists_every_variable_of_every_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == {s.name for s in services.ALL}
    for service in services.ALL:
        names = [v["name"] for v in listed[service.name]]
        assert names == [v.key for v in for_service(service).variables()]
    dsn = next(v for v in listed["ingest"] if v["name"] == "GAMEMETRICS_POSTGRES_DSN")
    assert (dsn["required"], dsn["secret"], dsn["supplied_by_platform"]) == (True, True, True)
    port = next(v for v in listed["analytics"] if v["name"] == "GAMEMETRICS_ANALYTICS_PORT")
    assert port["default"] == str(services.ANALYTICS.port)


def test_text_for_one_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "processor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("processor:\n")
    assert "GAMEMETRICS_PROCESSOR_WRITERS" in out
    assert "GAMEMETRICS_REDIS_URL" not in out  # the processor does not read Redis

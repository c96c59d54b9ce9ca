"""`gamemetrics infra plan`: the offline resource tree of a stack, as text or JSON."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from apps.cli.main import main
from stacks.image_source import find_project_root
from stacks.offline.preview import plan_stack

ROOT = find_project_root(Path(__file__).parent)


def test_plan_prints_the_tree_of_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "plan", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pulumi:pulumi:Stack  gamemetrics-dev\n")
    assert "├─ gamemetrics:infra:Database  database" in out
    assert "eks:index:Cluster  cluster-eks  name=gamemetrics-dev version=1.34" in out
    assert "multiAz=false publiclyAccessible=false storageEncrypted=true" in out
    assert "output kubeconfig = [secret]" in out
    assert "secretString=[secret]" in out
    password = plan_stack("dev").one("aws:rds/instance:Instance").plain["password"]
    assert password not in out


def test_plan_json_is_a_list_of_resources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "plan", "--stack", "prod", "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)
    assert isinstance(resources, list)
    assert all({"type", "name", "parent", "inputs"} <= set(r) for r in resources)
    by_name = {(r["type"], r["name"]): r for r in resources}
    primary = by_name[("aws:rds/instance:Instance", "database-primary")]
    assert primary["inputs"]["multiAz"] is True
    assert primary["inputs"]["password"] == "[secret]"
    assert primary["parent"].endswith("gamemetrics:infra:Database::database")
    assert ("aws:rds/instance:Instance", "database-replica-0") in by_name


def test_plan_reads_another_configuration_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "Pulumi.qa.yaml"
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("readReplicas: 0", "readReplicas: 2")
    config.write_text(text)
    assert main(["infra", "plan", "--stack", "qa", "--config", str(config), "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)
    assert resources[0]["name"] == "gamemetrics-qa"
    assert sum(r["type"] == "aws:rds/instance:Instance" for r in resources) == 3


def test_plan_names_the_invalid_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "Pulumi.dev.yaml"
    shutil.copy(ROOT / "Pulumi.dev.yaml", config)
    config.write_text(
        config.read_text().replace("backupRetentionDays: 1", "backupRetentionDays: 90")
    )
    assert main(["infra", "plan", "--stack", "dev", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    key = "Pulumi.dev.yaml: gamemetrics:database.backupRetentionDays"
    assert f"{key}: expected an integer from 1 to 35, got 90" in err


def test_plan_of_an_unknown_stack_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "plan", "--stack", "qa"]) == 2
    assert "no stack 'qa'" in capsys.readouterr().err


def test_without_the_infra_extra_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pulumi", None)  # `import pulumi` now raises ImportError
    assert main(["infra", "plan", "--stack", "dev"]) == 2
    assert "pip install -c constraints.txt -e '.[infra]'" in capsys.readouterr().err

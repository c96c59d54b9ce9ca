"""The delivery workflows (.github/): valid for GitHub, clean under zizmor's offline audit,
hardened (actions pinned by commit, minimal permissions, no credentials left behind, no
expressions spliced into shell), and running only commands and settings this project has."""

import json
import re
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from apps.cli.main import build_parser
from stacks import load as stack_config
from stacks.image_source import image_tag

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = {p.stem: p for p in sorted((GITHUB / "workflows").glob("*.yml"))}
ACTIONS = {p.parent.name: p for p in sorted((GITHUB / "actions").glob("*/action.yml"))}
FILES = [*WORKFLOWS.values(), *ACTIONS.values()]
STACKS = ["dev", "staging", "prod"]
SETUP_STACK = "./.github/actions/setup-stack"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
USES = re.compile(
    r"^\s*-?\s*uses:\s*(?P<action>[^@\s]+)(?:@(?P<ref>\S+))?(?:\s+#\s*(?P<comment>.*))?$"
)

Document = dict[str, Any]


def load(path: Path) -> Document:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def jobs(name: str) -> dict[str, Document]:
    found = load(WORKFLOWS[name])["jobs"]
    assert isinstance(found, dict)
    return found


def steps_of(path: Path) -> Iterator[tuple[str, Document]]:
    """(job id, step) for every step of a workflow, ("action", step) for a composite action."""
    document = load(path)
    if "runs" in document:
        for step in document["runs"]["steps"]:
            yield "action", step
        return
    for job_id, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def all_steps() -> Iterator[tuple[Path, str, Document]]:
    for path in FILES:
        for job_id, step in steps_of(path):
            yield path, job_id, step


def action(step: Mapping[str, Any]) -> str:
    """The action a step uses, without its ref (`owner/repo[/path]` or a local path)."""
    return str(step.get("uses", "")).split("@", 1)[0]


def shell_lines(script: str) -> Iterator[str]:
    """A run script's logical lines: continuations joined, comments dropped."""
    for line in script.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


def step_named(job: Document, prefix: str) -> Document:
    matches: list[Document] = [s for s in job["steps"] if str(s.get("name", "")).startswith(prefix)]
    assert len(matches) == 1, f"expected one step named {prefix!r}, found {len(matches)}"
    return matches[0]


def test_every_delivery_workflow_is_there() -> None:
    assert set(WORKFLOWS) == {"ci", "preview", "deploy", "security"}
    assert set(ACTIONS) == {"setup-stack"}
    assert sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")) == sorted(STACKS)


# --- GitHub's schema and zizmor --------------------------------------------------------------


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_workflows_actions_and_dependabot_validate_against_their_schemas() -> None:
    for schema, paths in (
        ("vendor.github-workflows", WORKFLOWS.values()),
        ("vendor.github-actions", ACTIONS.values()),
        ("vendor.dependabot", [GITHUB / "dependabot.yml"]),
    ):
        result = check_jsonschema(schema, *paths)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOWS["ci"].read_text().replace("runs-on:", "runs_on:", 1))
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "Schema validation errors" in result.stdout


def zizmor(path: Path) -> list[Document]:
    binary = Path(sysconfig.get_path("scripts")) / "zizmor"
    result = subprocess.run(
        [str(binary), "--offline", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # The exit status encodes the worst finding; 1 and 2 are zizmor's own failures.
    assert result.returncode not in (1, 2), result.stderr
    findings = json.loads(result.stdout)
    assert isinstance(findings, list)
    return findings


def test_zizmor_finds_nothing_of_high_or_medium_severity() -> None:
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
        + ", ".join(
            loc["symbolic"]["key"]["Local"]["verbatim_path"]
            + f":{loc['concrete']['location']['start_point']['row'] + 1}"
            for loc in f["locations"]
        )
        for f in zizmor(GITHUB)
        if f["determinations"]["severity"] in ("High", "Medium") and not f["ignored"]
    ]
    assert serious == []


def test_the_zizmor_audit_reports_an_unsafe_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "unsafe.yml").write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    high = {f["ident"] for f in zizmor(tmp_path) if f["determinations"]["severity"] == "High"}
    assert {"dangerous-triggers", "template-injection", "unpinned-uses"} <= high


# --- hardening ---------------------------------------------------------------------------------


def test_every_action_is_pinned_by_commit_with_its_version_in_a_comment() -> None:
    pins: dict[str, set[str]] = {}
    for path in FILES:
        uses_lines = [line for line in path.read_text().splitlines() if "uses:" in line]
        for line in uses_lines:
            match = USES.match(line)
            assert match, f"{path.name}: cannot read {line.strip()!r}"
            name, ref, comment = match["action"], match["ref"] or "", match["comment"] or ""
            if name.startswith("./"):
                assert (ROOT / name).exists(), f"{path.name}: {name} does not exist"
                continue
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {name}@{ref} is no commit"
            assert re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{path.name}: {line.strip()!r}"
            pins.setdefault(name, set()).add(f"{ref} # {comment}")
        parsed = [s for _, s in steps_of(path) if "uses" in s]
        called = [j for j in load(path).get("jobs", {}).values() if "uses" in j]
        assert len(uses_lines) == len(parsed) + len(called), path.name
    assert {name: len(refs) for name, refs in pins.items() if len(refs) > 1} == {}
    assert AWS_CREDENTIALS in pins


def test_checkouts_leave_no_credentials_behind() -> None:
    checkouts = [s for _, _, s in all_steps() if action(s) == "actions/checkout"]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


def test_no_expression_is_spliced_into_a_shell_script() -> None:
    for path, job_id, step in all_steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name} {job_id}: {step.get('name')}"


def test_no_trigger_runs_untrusted_code_with_privileges() -> None:
    for name, path in WORKFLOWS.items():
        triggers = load(path)["on"]
        assert not {"pull_request_target", "workflow_run"} & set(triggers), name


def test_no_long_lived_cloud_keys() -> None:
    for path in FILES:
        text = path.read_text()
        assert "aws-access-key-id" not in text, path.name
        assert "aws-secret-access-key" not in text, path.name
        assert not re.search(r"secrets\.AWS_", text), path.name
    for _, _, step in all_steps():
        if action(step) == AWS_CREDENTIALS:
            assert set(step["with"]) == {"role-to-assume", "aws-region"}


def needed_permissions(job: Document) -> dict[str, str]:
    """What a job's steps need of the GITHUB_TOKEN, derived from what they use."""
    if "uses" in job:  # a called workflow: its jobs' permissions, which the caller must grant
        needed: dict[str, str] = {}
        for called in load(ROOT / job["uses"]).get("jobs", {}).values():
            for scope, level in called.get("permissions", {}).items():
                if needed.get(scope) != "write":
                    needed[scope] = level
        return needed
    needed = {}
    for step in job["steps"]:
        used = action(step)
        if used == "actions/checkout":
            needed.setdefault("contents", "read")
        if used in (AWS_CREDENTIALS, SETUP_STACK) or "cosign sign" in step.get("run", ""):
            needed["id-token"] = "write"
        if used == "github/codeql-action/upload-sarif":
            needed["security-events"] = "write"
        if used == "pulumi/actions" and step.get("with", {}).get("comment-on-pr") is True:
            needed["pull-requests"] = "write"
    return needed


def test_permissions_are_none_by_default_and_exactly_what_each_job_needs() -> None:
    for name, path in WORKFLOWS.items():
        document = load(path)
        assert document["permissions"] == {}, name
        for job_id, job in document["jobs"].items():
            assert job.get("permissions") == needed_permissions(job), f"{name}.{job_id}"


# --- the commands the workflows run exist ------------------------------------------------------


def run_scripts() -> Iterator[tuple[str, str]]:
    for path, job_id, step in all_steps():
        if "run" in step:
            yield f"{path.parent.name}/{path.name} {job_id}", step["run"]


def gamemetrics_commands() -> Iterator[tuple[str, list[str]]]:
    """Each `gamemetrics ...` a workflow runs, as argv (shell variables stand for a stack)."""
    for where, script in run_scripts():
        for line in shell_lines(script):
            found = re.search(r"(?:^|[\s/])gamemetrics\s+([^|;&>]*)", line)
            if found:
                argv = shlex.split(found[1])
                yield where, ["dev" if arg.startswith("$") else arg for arg in argv]


def test_the_gamemetrics_commands_the_workflows_run_exist() -> None:
    commands = list(gamemetrics_commands())
    assert ["policy", "check", "--stack", "dev"] in [argv for _, argv in commands]
    assert ["policy", "check", "--stack", "dev", "--format", "sarif"] in [a for _, a in commands]
    parser = build_parser()
    for where, argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where} runs `gamemetrics {shlex.join(argv)}`, which the CLI lacks")


def test_the_project_scripts_the_workflows_run_exist() -> None:
    scripts = {
        match
        for _, script in run_scripts()
        for line in shell_lines(script)
        for match in re.findall(r"(?:^|\s)(\./scripts/\S+)", line)
    }
    assert scripts == {"./scripts/test"}
    for script in scripts:
        assert (ROOT / script).is_file(), script
        assert (ROOT / script).stat().st_mode & 0o111, script


def test_the_policy_pack_and_its_stack_configuration_exist() -> None:
    ups = [
        line
        for _, script in run_scripts()
        for line in shell_lines(script)
        if line.startswith("pulumi up")
    ]
    assert len(ups) == len(STACKS)
    for line in ups:
        assert "--policy-pack policies " in line
        assert '--policy-pack-config "policies/config/$STACK.json"' in line
    previews = [
        s["with"]
        for _, _, s in all_steps()
        if action(s) == "pulumi/actions" and "command" in s["with"]
    ]
    assert [(p["policyPacks"], p["policyPackConfigs"]) for p in previews] == [
        ("policies", "policies/config/${{ matrix.stack }}.json")
    ]
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()


def test_the_pinned_image_key_is_the_one_the_program_reads() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/gamemetrics-dev/app@sha256:" + "a" * 64
    for stack in STACKS:
        up = step_named(jobs("deploy")[stack], "pulumi up")
        key = re.search(r"pulumi config set --path '([^']+)' \"\$IMAGE\"", up["run"])
        assert key, up["run"]
        namespaced, _, field = key[1].partition(".")
        values = stack_config.read_stack_file(ROOT / f"Pulumi.{stack}.yaml")
        section = dict(cast(Mapping[str, object], values.get(namespaced) or {}))
        section[field] = image
        values[namespaced] = section
        assert stack_config.parse(values).registry.pinned_image == image


def test_the_stack_facts_come_from_the_projects_configuration() -> None:
    setup = load(ACTIONS["setup-stack"])
    facts = next(s for s in setup["runs"]["steps"] if s.get("id") == "facts")
    program = re.search(r"<<'PYTHON'\n(.*?)\nPYTHON", facts["run"], re.DOTALL)
    assert program, facts["run"]
    for stack in STACKS:
        result = subprocess.run(
            [sys.executable, "-", stack],
            input=program[1],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            timeout=60,
        )
        printed = dict(line.split("=", 1) for line in result.stdout.splitlines())
        settings = stack_config.from_file(ROOT / f"Pulumi.{stack}.yaml")
        assert printed == {
            "region": settings.region,
            "repository": f"gamemetrics-{stack}/app",
            "platform": settings.registry.platform,
            "image-tag": image_tag(ROOT),
        }
        assert set(printed) == set(setup["outputs"])


def test_tool_versions_agree_with_the_projects_pins() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    setup = load(ACTIONS["setup-stack"])
    (pulumi_cli,) = [s for s in setup["runs"]["steps"] if action(s) == "pulumi/actions"]
    assert pulumi_cli["with"]["pulumi-version"] == pins["pulumi"]
    image_python = re.search(r"PYTHON_IMAGE=python:(\d+\.\d+)", (ROOT / "Dockerfile").read_text())
    assert image_python
    pythons = {
        s["with"]["python-version"]
        for _, _, s in all_steps()
        if action(s) == "actions/setup-python"
    }
    assert pythons == {image_python[1]}


# --- what each workflow does -----------------------------------------------------------------


def test_ci_runs_the_projects_test_command_and_checks_the_policies_of_every_stack() -> None:
    document = load(WORKFLOWS["ci"])
    assert set(document["on"]) == {"push", "pull_request"}
    ci = document["jobs"]
    assert [s["run"] for s in ci["test"]["steps"] if "run" in s] == ["./scripts/test"]
    assert ci["policy"]["strategy"]["matrix"]["stack"] == STACKS


def test_preview_posts_the_diff_of_every_stack_to_the_pull_request() -> None:
    document = load(WORKFLOWS["preview"])
    assert set(document["on"]) == {"pull_request"}
    (job,) = document["jobs"].values()
    assert [entry["stack"] for entry in job["strategy"]["matrix"]["include"]] == STACKS
    preview = step_named(job, "pulumi preview")
    assert preview["with"] == {
        "command": "preview",
        "stack-name": "${{ matrix.stack }}",
        "policyPacks": "policies",
        "policyPackConfigs": "policies/config/${{ matrix.stack }}.json",
        "diff": True,
        "comment-on-pr": True,
        "edit-pr-comment": True,
        "github-token": "${{ github.token }}",
    }
    assert preview["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}


def test_deploy_builds_once_then_promotes_that_digest_through_the_stacks() -> None:
    document = load(WORKFLOWS["deploy"])
    assert document["on"] == {"push": {"branches": ["main"]}}
    deploy = document["jobs"]
    assert deploy["build"]["outputs"]["image"] == "${{ steps.image.outputs.image }}"
    assert deploy["image"]["uses"] == "./.github/workflows/security.yml"
    assert deploy["image"]["with"]["image"] == "${{ needs.build.outputs.image }}"
    previous = "image"
    for stack in STACKS:
        job = deploy[stack]
        assert job["needs"] == ["build", previous]
        assert job["environment"] == stack
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        setup = step_named(job, "Set up the stack")
        assert setup["with"]["stack"] == stack
        names = [s.get("name", "") for s in job["steps"]]
        assert names.index("Verify the image's signature") < names.index(
            "pulumi up --policy-pack policies"
        )
        up = step_named(job, "pulumi up")
        assert up["env"]["STACK"] == stack
        assert up["env"]["IMAGE"] == "${{ needs.build.outputs.image }}"
        assert 'pulumi up --stack "$STACK" --policy-pack policies' in up["run"]
        previous = stack
    # Only the build job builds: every stack runs the pinned digest.
    builds = [
        job_id
        for job_id, job in deploy.items()
        for s in job.get("steps", [])
        if "docker build" in s.get("run", "")
    ]
    assert builds == ["build"]


def test_security_audits_dependencies_and_code_and_scans_and_signs_the_image() -> None:
    document = load(WORKFLOWS["security"])
    assert set(document["on"]) == {"pull_request", "schedule", "workflow_call"}
    assert set(document["on"]["workflow_call"]["inputs"]) == {"image", "aws-region"}
    security = document["jobs"]
    scripts = {
        job_id: " ".join(s.get("run", "") for s in job["steps"]) for job_id, job in security.items()
    }
    assert "pip-audit --requirement constraints.txt" in scripts["pip-audit"]
    assert "bandit --recursive apps infra stacks policies" in scripts["bandit"]
    image = [action(s) for s in security["image"]["steps"]]
    assert image.index("anchore/scan-action") < image.index("sigstore/cosign-installer")
    assert "cosign sign --yes" in scripts["image"]

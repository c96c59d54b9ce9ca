"""The one-way rules between the parts, checked on every module's imports (lazy ones too).

- the domain core imports no framework or driver, and nothing else of `apps`;
- the apps never import pulumi (it is the `infra` extra, absent from the image);
- no service imports another service, and the shared libraries import no service;
- only the `bench` command imports the benchmarks (they stay out of the image);
- infra imports nothing of `apps` but `apps.core`, and nothing of `stacks` (the program
  that wires the components, its configuration and its offline drivers);
- the policy pack imports neither the apps nor the infrastructure.
"""

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from apps.core import services

ROOT: Final = Path(__file__).resolve().parents[1]
CODE: Final = ("apps", "infra", "stacks", "policies")
SERVICES: Final = frozenset(s.app.split(":")[0].split(".")[1] for s in services.ALL)
"""The packages of the declared services (`apps.ingest`, ...)."""
SHARED: Final = frozenset({"archive", "core", "edge", "kafka", "s3", "store"})
"""What the services share: the domain, the HTTP edge, the archive, the Kafka, S3 and
PostgreSQL clients."""
TOOLS: Final = frozenset({"cli", "local", "simulate", "bench"})
"""Commands around the services: they may use anything in `apps`."""
CORE_MAY_USE: Final = frozenset({"msgspec", "cryptography"})
"""Third-party libraries the core may import: a serialisation library and the signatures of
privacy receipts (apps/core/receipts.py), no framework and no driver."""


def imports_of(path: Path, module: str) -> Iterator[str]:
    """Absolute names of every module `path` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            yield name
            # `from apps.core import services` imports the module apps.core.services.
            yield from (f"{name}.{alias.name}" for alias in node.names)


def all_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            module = ".".join(parts)
            found[module] = set(imports_of(path, module))
    return found


def _part(module: str) -> str:
    """`apps.ingest.api` -> `ingest`; `infra.network` -> `infra`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def violations(imports: Mapping[str, set[str]]) -> list[str]:
    """Every import that breaks a rule, as `importer -> imported: rule`."""
    found: list[str] = []
    for module, names in sorted(imports.items()):
        top, part = module.split(".")[0], _part(module)
        for name in sorted(names):
            target_top, target = name.split(".")[0], _part(name)
            rule = None
            if top == "apps" and target_top.startswith("pulumi"):
                rule = "the apps never import pulumi"
            elif part == "core" and top == "apps":
                if target_top == "apps" and target != "core":
                    rule = "the core imports nothing else of apps"
                elif target_top != "apps" and not _stdlib(name) and target_top not in CORE_MAY_USE:
                    rule = "the core imports no framework or driver"
            elif top == "apps" and part in SERVICES | SHARED and target_top == "apps":
                if target in SERVICES and part in SHARED:
                    rule = "the shared libraries import no service"
                elif target in SERVICES and target != part:
                    rule = "no service imports another service"
                elif target in TOOLS:
                    rule = "services and shared libraries import no tool"
            elif (
                top == "apps" and target_top == "apps" and target == "bench"
                and part != "bench" and module != "apps.cli.bench"
            ):  # fmt: skip
                rule = "only `gamemetrics bench` imports the benchmarks"
            if top == "infra" and target_top == "apps" and target != "core":
                rule = "infra imports only apps.core"
            if top == "infra" and target_top == "stacks":
                rule = "components import nothing of the program that wires them"
            if top == "apps" and target_top in {"infra", "stacks"} and part != "cli":
                rule = "only the CLI runs the program (offline)"
            if top == "policies" and target_top in {"apps", "infra", "stacks"}:
                rule = "the policy pack imports neither apps nor infra"
            if rule is not None:
                found.append(f"{module} -> {name}: {rule}")
    return found


def test_every_apps_package_has_a_role() -> None:
    packages = {p.name for p in (ROOT / "apps").iterdir() if (p / "__init__.py").is_file()}
    assert packages == SERVICES | SHARED | TOOLS


def test_the_one_way_rules_hold() -> None:
    imports = all_imports()
    assert len(imports) > 150  # the walk found the code
    assert violations(imports) == []


def test_each_rule_catches_its_breach() -> None:
    """The checker itself: one breach per rule, and what is allowed stays allowed."""
    breaches = {
        "apps.ingest.api": {"pulumi_aws"},
        "apps.core.events": {"psycopg", "apps.store.games"},
        "apps.processor.store": {"apps.ingest.responses"},
        "apps.edge.app": {"apps.analytics.schema", "apps.cli.main"},
        "apps.local.platform": {"apps.bench.platform"},
        "infra.kubernetes.workload": {"apps.kafka.config"},
        "infra.database": {"stacks.config"},
        "apps.local.platform.x": {"stacks.offline.preview"},
        "policies.stack": {"infra.config"},
    }
    assert {(v.split(" -> ")[0], v.split(": ")[1]) for v in violations(breaches)} == {
        ("apps.core.events", "the core imports nothing else of apps"),
        ("apps.core.events", "the core imports no framework or driver"),
        ("apps.edge.app", "the shared libraries import no service"),
        ("apps.edge.app", "services and shared libraries import no tool"),
        ("apps.ingest.api", "the apps never import pulumi"),
        ("apps.local.platform", "only `gamemetrics bench` imports the benchmarks"),
        ("apps.processor.store", "no service imports another service"),
        ("infra.kubernetes.workload", "infra imports only apps.core"),
        ("infra.database", "components import nothing of the program that wires them"),
        ("apps.local.platform.x", "only the CLI runs the program (offline)"),
        ("policies.stack", "the policy pack imports neither apps nor infra"),
    }
    allowed = {
        "apps.core.events": {"msgspec", "uuid", "apps.core.errors"},
        "apps.ingest.api": {"apps.edge.body", "apps.kafka.producer", "starlette.requests"},
        "apps.cli.bench": {"apps.bench.pipeline"},
        "infra.kubernetes.workload": {"apps.core.settings", "pulumi"},
        "stacks.__main__": {"infra.network", "pulumi_aws"},
    }
    assert violations(allowed) == []


def test_the_apps_read_the_environment_only_at_their_edge() -> None:
    """Settings come from a contract's `from_env`, called by `gamemetrics serve`: no service
    or shared library reads os.environ (a variable no contract declares would go unseen)."""
    readers: list[str] = []
    for part in sorted(SERVICES | SHARED):
        for path in sorted((ROOT / "apps" / part).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            readers.extend(
                f"{path.relative_to(ROOT)}:{node.lineno}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute | ast.Name)
                and (node.attr if isinstance(node, ast.Attribute) else node.id)
                in {"environ", "getenv"}
            )
    assert readers == []


def test_variable_names_are_typed_only_in_the_contracts() -> None:
    """No code outside apps/core/settings spells a GAMEMETRICS_ variable: it asks a contract."""
    spelled = []
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.is_relative_to(ROOT / "apps" / "core" / "settings"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                text = None
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                elif isinstance(node, ast.JoinedStr) and node.values:
                    first = node.values[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        text = first.value
                if text is not None and text.startswith("GAMEMETRICS_") and " " not in text:
                    spelled.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)} {text}")
    assert spelled == []

"""The Dockerfiles: multi-stage, slim, non-root, health-checked, and each image carries exactly its service's
requirements: enough for every import of the code it ships (checked against the installed distributions'
metadata), and no TensorFlow in the gateway or cf_service images."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata as md
import re
import shlex
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO, SERVICE_IMAGES, Dockerfile, Stage

SLIM = "python:3.11-slim"
UID = "10001"

# Image -> (top-level requirements file, local packages installed, extra --no-deps installs)
IMAGE_CONTENTS = {
    "gateway.Dockerfile": ("api.txt", {"common", "gateway"}),
    "cf_service.Dockerfile": ("cf.txt", {"common", "cf_service"}),
    "audio_service.Dockerfile": ("audio.txt", {"common", "audio_service"}),
    "init.Dockerfile": ("run.txt", {"common", "tools", "gateway", "cf_service", "audio_service"}),
}
LOCAL_PACKAGES = {
    "common": "musicrec_common",
    "tools": "musicrec_tools",
    "gateway": "gateway",
    "cf_service": "cf_service",
    "audio_service": "audio_service",
}
# Distributions an image must not contain (the ML stacks of the other services).
FORBIDDEN = {
    "gateway.Dockerfile": {
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "tf-keras",
        "torch",
        "scikit-surprise",
        "implicit",
        "librosa",
        "faiss-cpu",
        "music21",
    },
    "cf_service.Dockerfile": {
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "tf-keras",
        "torch",
        "librosa",
        "faiss-cpu",
        "music21",
    },
    "audio_service.Dockerfile": {"scikit-surprise", "implicit", "torch"},
}
# Always in a venv built by the Dockerfiles (pip install --upgrade pip setuptools wheel).
VENV_TOOLING = {"pip", "setuptools", "wheel"}


def pip_installs(stage: Stage) -> list[list[str]]:
    """The argument lists of every `pip install` in a stage's RUN instructions."""
    out = []
    for run in stage.args_of("RUN"):
        for segment in re.split(r"&&|;", run):
            words = shlex.split(segment)
            if len(words) >= 2 and words[0].endswith("pip") and words[1] == "install":
                out.append(words[2:])
    return out


def requirement_names(path: Path) -> set[str]:
    """Distribution names a requirements file asks for, following `-r` includes (not `-c` constraints)."""
    names: set[str] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            names |= requirement_names(path.parent / line.split(None, 1)[1])
        elif line.startswith(("-c ", "--constraint ")):
            continue
        else:
            assert not line.startswith("-"), f"{path.name}: unexpected option {line!r}"
            names.add(canonicalize_name(Requirement(line).name))
    return names


def installed_by(dockerfile: Dockerfile) -> tuple[set[str], set[str], set[str]]:
    """(distributions asked for, requirement files used, local service folders) of the builder stage."""
    names: set[str] = set()
    files: set[str] = set()
    local: set[str] = set()
    for args in pip_installs(dockerfile.stage("builder")):
        it = iter(args)
        for word in it:
            if word in ("-r", "--requirement"):
                req = next(it)
                files.add(req)
                names |= requirement_names(REPO / req)
            elif word in ("-c", "--constraint"):
                next(it)
            elif word.startswith("-"):
                continue
            elif word.startswith("./services/"):
                local.add(word.removeprefix("./services/").rstrip("/"))
            else:
                names.add(canonicalize_name(Requirement(word).name))
    return names, files, local


def closure(names: set[str], *, all_extras: bool = False) -> set[str]:
    """Every distribution pip installs for ``names``: their installed metadata's requirements, transitively
    (``all_extras``: also what any extra of them would add)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue  # not installed here (e.g. a platform-only dependency): nothing to follow
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or all_extras or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def imported_modules(root: Path) -> dict[str, bool]:
    """Top-level name of every absolute import in a source tree -> whether any import of it runs at module
    level (True) or all of them sit inside functions (False: an optional feature's lazy import)."""
    found: dict[str, bool] = {}

    def visit(node: ast.AST, in_function: bool) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module.split(".")[0]]
        for name in names:
            found[name] = found.get(name, False) or not in_function
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside = True  # typing-only imports never run
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    for path in root.rglob("*.py"):
        visit(ast.parse(path.read_text(), str(path)), False)
    return found


def optional_requirements(used_files: set[str]) -> set[str]:
    """Distributions declared (with any of their extras) by requirement files an image does not use, e.g.
    requirements/spark.txt."""
    out: set[str] = set()
    for path in (REPO / "requirements").glob("*.txt"):
        if path.name != "constraints.txt" and f"requirements/{path.name}" not in used_files:
            out |= requirement_names(path)
    return closure(out, all_extras=True)


def local_pyproject_dependencies(folder: str) -> set[str]:
    import tomllib

    project = tomllib.loads((REPO / "services" / folder / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(d).name) for d in project.get("dependencies", [])}


@pytest.mark.parametrize("name", sorted(IMAGE_CONTENTS))
def test_multi_stage_slim_non_root_with_health_check(name: str, dockerfiles: dict[str, Dockerfile]) -> None:
    df = dockerfiles[name]
    assert len(df.stages) >= 2, "multi-stage: a builder and a runtime"
    assert [s.name for s in df.stages] == ["builder", "runtime"]
    assert all(stage.base == SLIM for stage in df.stages), [s.base for s in df.stages]
    final = df.final
    # The runtime gets the built venv and installs nothing with pip itself; no compilers there.
    assert "--from=builder /opt/venv /opt/venv" in final.args_of("COPY")
    assert not pip_installs(final)
    assert "build-essential" not in " ".join(final.args_of("RUN"))
    # Non-root: the last USER of the final stage, the uid the Kubernetes manifests run as.
    users = final.args_of("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert f"--uid {UID}" in " ".join(final.args_of("RUN")) and f"--gid {UID}" in " ".join(final.args_of("RUN"))
    checks = final.args_of("HEALTHCHECK")
    assert len(checks) == 1
    if name == "init.Dockerfile":
        assert checks[0] == "NONE"  # a one-shot job
    else:
        assert "CMD" in checks[0] and "/health" in checks[0]


@pytest.mark.parametrize("name", ["gateway.Dockerfile", "cf_service.Dockerfile", "audio_service.Dockerfile"])
def test_service_images_serve_their_package_on_its_port(name: str, dockerfiles: dict[str, Dockerfile]) -> None:
    import importlib

    package = name.removesuffix(".Dockerfile")
    final = dockerfiles[name].final
    assert final.args_of("CMD") == [f'["python", "-m", "{package}", "serve"]']
    settings = importlib.import_module(f"{package}.app.settings").Settings
    port_field = settings.model_fields["port"]
    port = port_field.default
    assert final.args_of("EXPOSE") == [str(port)]
    env = " ".join(final.args_of("ENV"))
    assert f"{port_field.alias}={port}" in env and "APP_MODE=production" in env and "HOST=0.0.0.0" in env
    # The health check probes that port (through the same variable the service reads).
    assert f"os.environ.get('{port_field.alias}', '{port}')" in final.args_of("HEALTHCHECK")[0]


@pytest.mark.parametrize("name", sorted(IMAGE_CONTENTS))
def test_each_image_installs_only_its_services_requirements(name: str, dockerfiles: dict[str, Dockerfile]) -> None:
    top, local = IMAGE_CONTENTS[name]
    df = dockerfiles[name]
    names, files, installed_local = installed_by(df)
    assert files == {f"requirements/{top}"}
    assert installed_local == local
    # Requirement files are copied into the builder before pip reads them (and nothing else from requirements/).
    copied = " ".join(a for a in df.stage("builder").args_of("COPY") if "requirements/" in a).split()
    copied_files = {c for c in copied[:-1]}
    expected_files = {f"requirements/{f}" for f in _included_files(REPO / "requirements" / top)}
    assert copied_files == expected_files | {"requirements/constraints.txt"}
    contents = closure(names | VENV_TOOLING)
    leaked = contents & FORBIDDEN.get(name, set())
    assert not leaked, f"{name} would install {sorted(leaked)}"


def _included_files(path: Path) -> set[str]:
    files = {path.name}
    for line in path.read_text().splitlines():
        if line.startswith(("-r ", "--requirement ")):
            files |= _included_files(path.parent / line.split(None, 1)[1].strip())
    return files


def test_gateway_image_has_no_tensorflow_even_transitively(dockerfiles: dict[str, Dockerfile]) -> None:
    names, _, _ = installed_by(dockerfiles["gateway.Dockerfile"])
    contents = closure(names)
    assert {"fastapi", "uvicorn", "sqlalchemy", "redis"} <= contents  # the closure is real ...
    assert not {n for n in contents if "tensorflow" in n or n in ("keras", "tf-keras")}  # ... and has no TF
    # The run image (init) does carry it: the check above is not vacuous.
    init_names, _, _ = installed_by(dockerfiles["init.Dockerfile"])
    assert "tensorflow-cpu" in closure(init_names)


@pytest.mark.parametrize("name", sorted(IMAGE_CONTENTS))
def test_each_image_has_every_distribution_its_code_imports(name: str, dockerfiles: dict[str, Dockerfile]) -> None:
    names, files, local = installed_by(dockerfiles[name])
    contents = closure(names | VENV_TOOLING)
    for folder in local:  # pip install --no-deps: the packages' own dependencies must come from requirements
        missing = local_pyproject_dependencies(folder) - contents - {"musicrec-common", "musicrec-tools"}
        assert not missing, f"{folder}'s pyproject needs {sorted(missing)}, not in {name}"
    sources = [REPO / "services" / folder / LOCAL_PACKAGES[folder] for folder in local]
    if name == "init.Dockerfile":
        sources.append(REPO / "deploy" / "docker")  # musicrec_init.py
    modules: dict[str, bool] = {}
    for src in sources:
        for module, top_level in imported_modules(src).items():
            modules[module] = modules.get(module, False) or top_level
    for module in [*sys.stdlib_module_names, "__future__", *(LOCAL_PACKAGES[f] for f in local)]:
        modules.pop(module, None)
    distributions = md.packages_distributions()
    unresolved = {m for m in modules if m not in distributions}
    assert not unresolved, (
        f"{name}: imports of no installed distribution (or of a service not in the image): {sorted(unresolved)}"
    )
    optional = optional_requirements(files)
    lacking: dict[str, list[str]] = {}
    for module, top_level in modules.items():
        dists = {canonicalize_name(d) for d in distributions[module]}
        if dists & contents:
            continue
        # Allowed only for a lazy import (inside functions) of a distribution another requirements file
        # declares: an optional feature the image leaves out (cf_service's spark-train needs spark.txt).
        if top_level or not dists & optional:
            lacking[module] = sorted(dists)
    assert not lacking, (
        f"{name} lacks the distributions of {lacking}: add them to {sorted(files)} or, for an optional "
        "feature imported inside functions only, declare them in another requirements file (e.g. spark.txt)"
    )


def test_init_image_ships_the_script_and_the_data(dockerfiles: dict[str, Dockerfile]) -> None:
    final = dockerfiles["init.Dockerfile"].final
    copies = final.args_of("COPY")
    assert "deploy/docker/musicrec_init.py /app/musicrec_init.py" in copies
    assert "data/ /app/data/" in copies and "DATA_DIR=/app/data" in " ".join(final.args_of("ENV"))
    assert final.args_of("CMD") == ['["python", "/app/musicrec_init.py", "all"]']


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    path = path.rstrip("/")
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") or path == p for p in patterns)


def test_build_context_keeps_generated_files_and_secrets_out(dockerfiles: dict[str, Dockerfile]) -> None:
    patterns = dockerignore_patterns()
    for must in (".git", ".venv", "var", ".env", "tests"):
        assert ignored(must, patterns), f".dockerignore lets {must} into the build context"
    # ... while everything a Dockerfile copies exists and is not ignored.
    for name, df in dockerfiles.items():
        for stage in df.stages:
            for args in stage.args_of("COPY"):
                if args.startswith("--from="):
                    continue
                for source in args.split()[:-1]:
                    assert (REPO / source).exists(), f"{name}: COPY {source} does not exist"
                    assert not ignored(source, patterns), f"{name}: COPY {source} is excluded by .dockerignore"


def test_compose_services_match_the_dockerfiles(dockerfiles: dict[str, Dockerfile]) -> None:
    assert set(dockerfiles) == {dockerfile for dockerfile, _ in SERVICE_IMAGES.values()}
    for service, (dockerfile, package) in SERVICE_IMAGES.items():
        if package is not None:
            assert dockerfile == f"{service}.Dockerfile"

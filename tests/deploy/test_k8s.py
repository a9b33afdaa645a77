"""deploy/k8s: the kustomize base and the production overlay, resolved in Python (resources, patches, images,
replicas, namespace) and checked: required fields, selectors, ports, probes, resources, images, env
references, the autoscaler, the CronJob's command. No cluster and no kubectl needed."""

from __future__ import annotations

import copy
import re
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .conftest import REPO, SERVICE_IMAGES, image_repository

K8S = REPO / "deploy" / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
SECRET_NAME = "musicrec-secrets"

# Kubernetes workload -> compose service (whose Dockerfile builds its image) and settings module.
APP_WORKLOADS = {"gateway": "gateway", "cf-service": "cf_service", "audio-service": "audio_service"}
JOBS = {"musicrec-init": "init", "musicrec-retrain": "retrain"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

Doc = dict[str, Any]


# ---------------------------------------------------------------- a small kustomize, for what we use


def load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for our patches: maps merge, lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and base
        and patch
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        patched = {i["name"]: i for i in patch}
        known = {i["name"] for i in base}
        merged = [merge(i, patched[i["name"]]) if i["name"] in patched else i for i in base]
        return merged + [i for i in patch if i["name"] not in known]
    return patch


def find(docs: list[Doc], kind: str | set[str], name: str) -> Doc:
    kinds = {kind} if isinstance(kind, str) else kind
    hits = [d for d in docs if d["kind"] in kinds and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kinds} {name}: {len(hits)} matches"
    return hits[0]


def kustomize(folder: Path) -> list[Doc]:
    """Resolve a kustomization folder; unknown fields fail rather than being silently ignored."""
    k = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert set(k) <= KUSTOMIZATION_FIELDS, f"unsupported kustomization fields: {set(k) - KUSTOMIZATION_FIELDS}"
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    docs: list[Doc] = []
    for resource in k.get("resources", []):
        path = (folder / resource).resolve()
        docs += kustomize(path) if path.is_dir() else load_docs(path)
    for entry in k.get("patches", []):
        assert set(entry) <= {"path", "patch"}, entry
        patches = load_docs(folder / entry["path"]) if "path" in entry else list(yaml.safe_load_all(entry["patch"]))
        for patch in patches:
            target = find(docs, patch["kind"], patch["metadata"]["name"])
            docs[docs.index(target)] = merge(target, patch)
    for entry in k.get("replicas", []):
        find(docs, {"Deployment", "StatefulSet"}, entry["name"])["spec"]["replicas"] = entry["count"]
    for entry in k.get("images", []):
        hits = 0
        for container in all_containers(docs):
            if image_repository(container["image"]) == entry["name"]:
                tag = entry.get("newTag") or container["image"].split("/")[-1].partition(":")[2]
                container["image"] = entry.get("newName", entry["name"]) + (f":{tag}" if tag else "")
                hits += 1
        assert hits, f"images: {entry['name']} matches no container"
    if "namespace" in k:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
    return copy.deepcopy(docs)


def pod_spec(doc: Doc) -> Doc:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: Doc) -> dict[str, str]:
    template = doc["spec"]["jobTemplate"]["spec"]["template"] if doc["kind"] == "CronJob" else doc["spec"]["template"]
    return template["metadata"]["labels"]


def all_containers(docs: list[Doc]) -> Iterator[Doc]:
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            spec = pod_spec(doc)
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def workloads(docs: list[Doc], kinds: set[str] = WORKLOAD_KINDS) -> list[Doc]:
    return [d for d in docs if d["kind"] in kinds]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=["base", "production"])
def resolved(request: pytest.FixtureRequest) -> list[Doc]:
    return kustomize(BASE if request.param == "base" else PRODUCTION)


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return kustomize(BASE)


@pytest.fixture(scope="module")
def production() -> list[Doc]:
    return kustomize(PRODUCTION)


def configmap_keys(docs: list[Doc], name: str) -> set[str]:
    return set(find(docs, "ConfigMap", name)["data"])


def example_secret_keys() -> set[str]:
    secret = load_docs(K8S / "secret.example.yaml")[0]
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == SECRET_NAME
    return set(secret["stringData"])


def container_env(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: envFrom first, then env (with $(VAR) expansion)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= find(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"])
        else:
            ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get("configMapKeyRef")
            env[item["name"]] = f"secret.{ref['name']}.{ref['key']}"
    return env


# ---------------------------------------------------------------- the checks


def test_every_document_has_the_required_fields(resolved: list[Doc]) -> None:
    seen = set()
    for doc in resolved:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        name = doc["metadata"]["name"]
        assert DNS_1123.fullmatch(name) and len(name) <= 63, name
        assert (doc["kind"], name) not in seen, f"duplicate {doc['kind']} {name}"
        seen.add((doc["kind"], name))
        assert doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "musicrec", name
    kinds = {kind for kind, _ in seen}
    assert {
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "PersistentVolumeClaim",
        "HorizontalPodAutoscaler",
        "CronJob",
        "Job",
    } <= kinds
    assert "Secret" not in kinds, "no secret values in the manifests: the Secret is created out of band"
    api_versions = {
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
        "Service": "v1",
        "ConfigMap": "v1",
        "PersistentVolumeClaim": "v1",
        "Ingress": "networking.k8s.io/v1",
    }
    for doc in resolved:
        assert doc["apiVersion"] == api_versions[doc["kind"]], (doc["kind"], doc["apiVersion"])


def test_selectors_match_pod_labels(resolved: list[Doc]) -> None:
    for doc in workloads(resolved, {"Deployment", "StatefulSet"}):
        selector = doc["spec"]["selector"]["matchLabels"]
        assert selector and selector.items() <= pod_labels(doc).items(), doc["metadata"]["name"]
    for svc in [d for d in resolved if d["kind"] == "Service"]:
        selector = svc["spec"]["selector"]
        targets = [
            w for w in workloads(resolved, {"Deployment", "StatefulSet"}) if selector.items() <= pod_labels(w).items()
        ]
        assert len(targets) == 1, f"Service {svc['metadata']['name']} selects {len(targets)} workloads"
        # Every targetPort (a name or a number) is a port the selected pods' containers declare.
        declared = [p for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])]
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in (p.get("name"), p["containerPort"]) for p in declared), (svc["metadata"]["name"], port)
    statefulset = find(resolved, "StatefulSet", "postgres")
    assert find(resolved, "Service", statefulset["spec"]["serviceName"])["spec"].get("clusterIP") == "None"


def test_probes_on_every_long_running_container(resolved: list[Doc]) -> None:
    for doc in workloads(resolved, {"Deployment", "StatefulSet"}):
        for container in pod_spec(doc)["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{doc['metadata']['name']}/{container['name']} has no {probe}"
    import importlib

    for name, service in APP_WORKLOADS.items():
        container = pod_spec(find(resolved, "Deployment", name))["containers"][0]
        port = importlib.import_module(f"{service}.app.settings").Settings.model_fields["port"].default
        declared = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/health"
            assert declared.get(get["port"], get["port"]) == port, (name, probe)
            # /health answers within the gateway's downstream timeouts (2 s): a probe timeout above them.
            assert container[probe].get("timeoutSeconds", 1) >= 3, (name, probe)


def test_resources_on_every_container(resolved: list[Doc]) -> None:
    units = {"m": 1e-3, "": 1.0, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}

    def amount(value: str | int) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(m|Ki|Mi|Gi|)", str(value)).groups()  # type: ignore[union-attr]
        return float(number) * units[unit]

    for container in all_containers(resolved):
        res = container.get("resources", {})
        for key in ("cpu", "memory"):
            assert key in res.get("requests", {}) and key in res.get("limits", {}), (container["name"], key)
            assert amount(res["requests"][key]) <= amount(res["limits"][key]), (container["name"], key)


def test_images_are_the_compose_images(base: list[Doc], production: list[Doc], compose_images: dict[str, str]) -> None:
    expected = {**APP_WORKLOADS, **JOBS}
    for name, service in expected.items():
        doc = find(base, WORKLOAD_KINDS, name)
        (container,) = pod_spec(doc)["containers"]
        # The same repository compose builds from the service's Dockerfile (or pulls, for redis/postgres).
        assert image_repository(container["image"]) == compose_images[service], name
        assert service in SERVICE_IMAGES
    for name in ("redis", "postgres"):
        (container,) = pod_spec(find(base, WORKLOAD_KINDS, name))["containers"]
        assert container["image"] == _compose_services()[name]["image"]  # the version docker compose runs
    # The overlay moves every image we build to its registry at a fixed tag, and touches nothing else.
    for name, service in expected.items():
        (container,) = pod_spec(find(production, WORKLOAD_KINDS, name))["containers"]
        assert container["image"] == f"registry.example.com/{compose_images[service]}:0.1.0", name
    for name in ("redis", "postgres"):
        assert (
            pod_spec(find(production, WORKLOAD_KINDS, name))["containers"][0]["image"]
            == pod_spec(find(base, WORKLOAD_KINDS, name))["containers"][0]["image"]
        )


def _compose_services() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data["services"]  # type: ignore[no-any-return]


def test_env_references_resolve(resolved: list[Doc]) -> None:
    secret_keys = example_secret_keys()
    for doc in workloads(resolved):
        for container in pod_spec(doc)["containers"]:
            defined: set[str] = set()
            for source in container.get("envFrom", []):
                assert set(source) == {"configMapRef"}, source
                defined |= configmap_keys(resolved, source["configMapRef"]["name"])
            for item in container.get("env", []):
                if "value" in item:
                    # $(VAR) only expands variables defined before it (envFrom, then earlier env entries).
                    for ref in re.findall(r"\$\((\w+)\)", item["value"]):
                        assert ref in defined, f"{doc['metadata']['name']}: {item['name']} uses undefined $({ref})"
                else:
                    source = item["valueFrom"]
                    if "secretKeyRef" in source:
                        ref = source["secretKeyRef"]
                        assert ref["name"] == SECRET_NAME and ref["key"] in secret_keys, ref
                    else:
                        ref = source["configMapKeyRef"]
                        assert ref["key"] in configmap_keys(resolved, ref["name"]), ref
                defined.add(item["name"])


def test_configmap_keys_are_settings_the_containers_read(resolved: list[Doc]) -> None:
    from musicrec_tools.configdoc import rows

    settings = {env for env, *_ in rows()}
    used_in_urls = {"POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER"}  # $(...) in DATABASE_URL; postgres's own
    init_only = {"CF_RELOAD_URL", "AUDIO_RELOAD_URL", "OPENBLAS_NUM_THREADS"}  # musicrec_init.py, BLAS
    uvicorn = {"FORWARDED_ALLOW_IPS"}
    unknown = configmap_keys(resolved, "musicrec-config") - settings - used_in_urls - init_only - uvicorn
    assert not unknown, f"ConfigMap keys nothing reads (typos?): {unknown}"


def test_production_secrets_are_provided(resolved: list[Doc]) -> None:
    """Each container gets, from the Secret (not optional), every secret its settings refuse to start without."""
    import importlib

    config = find(resolved, "ConfigMap", "musicrec-config")["data"]
    assert config["APP_MODE"] == "production"
    needs = {}
    for name, service in APP_WORKLOADS.items():
        settings = importlib.import_module(f"{service}.app.settings").Settings
        needs[name] = set(settings.model_construct().secret_fields())
    gateway_needs = needs["gateway"]
    needs |= {
        "musicrec-init": gateway_needs | needs["cf-service"] | needs["audio-service"],
        "musicrec-retrain": gateway_needs | needs["cf-service"],
    }
    assert needs["gateway"] == {"ADMIN_PASSWORD", "CREDENTIALS_SECRET"} and needs["cf-service"] == {"CF_ADMIN_TOKEN"}
    assert needs["audio-service"] == {"AUDIO_ADMIN_TOKEN"}
    for name, required in needs.items():
        (container,) = pod_spec(find(resolved, WORKLOAD_KINDS, name))["containers"]
        provided = {
            i["name"]
            for i in container.get("env", [])
            if "secretKeyRef" in i.get("valueFrom", {}) and not i["valueFrom"]["secretKeyRef"].get("optional")
        }
        assert required <= provided, f"{name} lacks {required - provided}"
    # DEMO_PASSWORD is optional: without it production creates no demo accounts.
    (init,) = pod_spec(find(resolved, "Job", "musicrec-init"))["containers"]
    demo = next(i for i in init["env"] if i["name"] == "DEMO_PASSWORD")
    assert demo["valueFrom"]["secretKeyRef"]["optional"] is True


def test_database_url_and_service_urls_point_at_real_services(resolved: list[Doc]) -> None:
    services = {d["metadata"]["name"]: d for d in resolved if d["kind"] == "Service"}
    for name in ("gateway", "musicrec-init", "musicrec-retrain"):
        (container,) = pod_spec(find(resolved, WORKLOAD_KINDS, name))["containers"]
        env = container_env(container, resolved)
        url = urllib.parse.urlsplit(env["DATABASE_URL"])
        assert url.scheme == "postgresql+psycopg" and url.password == "secret.musicrec-secrets.POSTGRES_PASSWORD"
        assert url.hostname in services and url.port in [p["port"] for p in services[url.hostname]["spec"]["ports"]]
    config = find(resolved, "ConfigMap", "musicrec-config")["data"]
    for key, workload, headless in (
        ("CF_SERVICE_URL", "cf-service", False),
        ("AUDIO_SERVICE_URL", "audio-service", False),
        ("REDIS_URL", "redis", False),
        ("CF_RELOAD_URL", "cf-service", True),
        ("AUDIO_RELOAD_URL", "audio-service", True),
    ):
        url = urllib.parse.urlsplit(config[key])
        svc = services[url.hostname]  # type: ignore[index]
        assert url.port in [p["port"] for p in svc["spec"]["ports"]], key
        assert svc["spec"]["selector"].items() <= pod_labels(find(resolved, "Deployment", workload)).items(), key
        # Reloads must reach every replica: a headless Service resolves to all pod addresses.
        assert (svc["spec"].get("clusterIP") == "None") == headless, key
    for key, field in (("GATEWAY_PORT", "gateway"), ("CF_PORT", "cf_service"), ("AUDIO_PORT", "audio_service")):
        import importlib

        default = importlib.import_module(f"{field}.app.settings").Settings.model_fields["port"].default
        assert int(config[key]) == default


def test_pods_run_unprivileged_without_service_links(resolved: list[Doc]) -> None:
    for doc in workloads(resolved):
        spec = pod_spec(doc)
        name = doc["metadata"]["name"]
        # Service links would inject GATEWAY_PORT=tcp://... for the Service `gateway`: the gateway reads
        # GATEWAY_PORT as its port number and would not start.
        assert spec.get("enableServiceLinks") is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        if name in APP_WORKLOADS or name in JOBS:
            assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["fsGroup"] == 10001, name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name


def test_volumes_and_claims(resolved: list[Doc]) -> None:
    claims = {d["metadata"]["name"]: d for d in resolved if d["kind"] == "PersistentVolumeClaim"}
    users: dict[str, set[str]] = {}
    for doc in workloads(resolved):
        spec = pod_spec(doc)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        templates = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for container in spec["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in templates, (doc["metadata"]["name"], mount)
        for volume in volumes.values():
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert claim in claims, claim
            users.setdefault(claim, set()).add(doc["metadata"]["name"])
    # A claim mounted by several workloads (or by a scaled-out one) must be ReadWriteMany.
    for claim, names in users.items():
        scaled = any(
            n == "gateway" or find(resolved, WORKLOAD_KINDS, n)["spec"].get("replicas", 1) > 1
            for n in names
            if find(resolved, WORKLOAD_KINDS, n)["kind"] == "Deployment"
        )
        if len(names - set(JOBS)) > 1 or scaled:
            assert claims[claim]["spec"]["accessModes"] == ["ReadWriteMany"], claim
    # Where each service finds its files: the paths compose uses.
    mounts = {
        name: {
            (m["mountPath"], m.get("readOnly", False))
            for m in pod_spec(find(resolved, "Deployment", name))["containers"][0].get("volumeMounts", [])
        }
        for name in APP_WORKLOADS
    }
    assert mounts == {
        "gateway": {("/var/lib/musicrec/audio", True)},
        "cf-service": {("/var/lib/musicrec/cf_models", True)},
        "audio-service": {("/var/lib/musicrec/audio", False)},
    }


def test_gateway_autoscaler(resolved: list[Doc]) -> None:
    (hpa,) = [d for d in resolved if d["kind"] == "HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "gateway")
    gateway = find(resolved, "Deployment", "gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns the gateway's replica count"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert "cpu" in pod_spec(gateway)["containers"][0]["resources"]["requests"]  # utilisation needs a request


def job_phase(doc: Doc, init_script: ModuleType) -> str:
    (container,) = pod_spec(doc)["containers"]
    command = container.get("command", []) + container.get("args", [])
    assert command[:2] == ["python", "/app/musicrec_init.py"], command
    return str(init_script.build_parser().parse_args(command[2:]).phase)


def test_cronjob_retrains_and_publishes(
    resolved: list[Doc], init_script: ModuleType, dockerfiles: dict[str, Any], tmp_path: Path
) -> None:
    cron = find(resolved, "CronJob", "musicrec-retrain")
    fields = cron["spec"]["schedule"].split()
    assert len(fields) == 5 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["restartPolicy"] in ("Never", "OnFailure")
    assert job_phase(cron, init_script) == "retrain"
    # That phase trains CF (and then reloads and publishes: musicrec_init.main), with the script in the image.
    steps = [s.name for s in init_script.plan("retrain", tmp_path, tmp_path)]
    assert "train-cf" in steps
    assert "deploy/docker/musicrec_init.py /app/musicrec_init.py" in dockerfiles["init.Dockerfile"].final.args_of(
        "COPY"
    )
    init = find(resolved, "Job", "musicrec-init")
    assert job_phase(init, init_script) == "all" and pod_spec(init)["restartPolicy"] in ("Never", "OnFailure")
    assert init["spec"].get("ttlSecondsAfterFinished"), "a finished Job must go away so the next apply re-runs it"


def test_overlay_changes_what_it_says(base: list[Doc], production: list[Doc]) -> None:
    assert {d["metadata"].get("namespace") for d in production} == {"musicrec"}
    assert all("namespace" not in d["metadata"] for d in base)
    assert {(d["kind"], d["metadata"]["name"]) for d in production} - {
        (d["kind"], d["metadata"]["name"]) for d in base
    } == {("Ingress", "musicrec")}
    assert find(production, "Deployment", "cf-service")["spec"]["replicas"] == 2
    hpa: Callable[[list[Doc]], Doc] = lambda docs: find(docs, "HorizontalPodAutoscaler", "gateway")["spec"]  # noqa: E731
    assert (hpa(production)["minReplicas"], hpa(production)["maxReplicas"]) == (3, 12)
    assert hpa(production)["scaleTargetRef"] == hpa(base)["scaleTargetRef"]  # the patch merged, not replaced
    prod_cf = pod_spec(find(production, "Deployment", "cf-service"))["containers"][0]
    assert prod_cf["resources"]["limits"]["memory"] == "4Gi"
    assert (
        prod_cf["readinessProbe"] == pod_spec(find(base, "Deployment", "cf-service"))["containers"][0]["readinessProbe"]
    )
    ingress = find(production, "Ingress", "musicrec")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway" and backend["port"]["name"] in {
        p["name"] for p in find(production, "Service", "gateway")["spec"]["ports"]
    }
    for claim in ("musicrec-audio", "musicrec-models"):
        spec = find(production, "PersistentVolumeClaim", claim)["spec"]
        assert spec["storageClassName"] and spec["accessModes"] == ["ReadWriteMany"]


def test_the_resolver_applies_strategic_merge_like_kustomize() -> None:
    base = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "env": [{"name": "K", "value": "1"}]},
                {"name": "b", "image": "y"},
            ]
        }
    }
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "L", "value": "2"}]}]}}
    merged = merge(base, patch)
    by_name = {c["name"]: c for c in merged["spec"]["containers"]}
    assert by_name["a"]["image"] == "x" and by_name["b"]["image"] == "y"
    assert by_name["a"]["env"] == [{"name": "K", "value": "1"}, {"name": "L", "value": "2"}]
    assert merge({"ports": [1, 2]}, {"ports": [3]}) == {"ports": [3]}

"""The Helm chart, the dev-deps chart and skaffold.yaml: lint, schema validation, and drift.

Same checks as ``make chart-check`` (helm lint --strict, helm template validated against the
Kubernetes 1.33 schemas with kubernetes-validate --strict, skaffold.yaml against the
skaffold/v4beta14 JSON schema), plus tests that the chart cannot drift from the code: the
services, their ports and every container command must match ``kryptonite.config`` and the
commands registered in ``kryptonite.cli``.

helm comes from .tools/bin (``make tools``); if missing, the test installs it the same way.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from kubernetes_validate import utils as kv

# isort: split
from kryptonite.config import METRICS_PORTS, SERVICE_PORTS, Settings

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "kryptonite"
DEV_DEPS = ROOT / "deploy" / "local" / "dev-deps"
SKAFFOLD_SCHEMA = ROOT.parent / "shared" / "schemas" / "skaffold-v4beta14.json"
KUBE_VERSION = "1.33.0"
#: values files checked (None = the chart's defaults), as in the Makefile's chart-check
VALUES: dict[str, Path | None] = {
    "default": None,
    "eks": CHART / "values-eks.yaml",
    "local": ROOT / "deploy" / "local" / "values-local.yaml",
}
#: CRDs that kubernetes-validate has no schema for
CRD_KINDS = {"ServiceMonitor"}
#: every optional object switched on, so the drift tests see all of them
ALL_ON = [
    "jobs.bootstrap.enabled=true",
    "ingress.enabled=true",
    "networkPolicy.enabled=true",
    "serviceMonitor.enabled=true",
]
WORKLOADS = {"Deployment", "Job", "CronJob"}
IMAGE_TARGETS = ("gateway", "serving", "jobs")
RELEASE = "kryptonite"


def load_get_helm() -> Any:
    spec = importlib.util.spec_from_file_location("get_helm", ROOT / "deploy/tools/get_helm.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def helm() -> Path:
    get_helm = load_get_helm()
    try:
        return get_helm.install(ROOT / ".tools" / "bin")
    except get_helm.UnsupportedPlatformError as exc:  # the only reason to skip
        pytest.skip(str(exc))


def run_helm(helm: Path, *args: str | Path) -> str:
    proc = subprocess.run(
        [str(helm), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"helm {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def template(helm: Path, chart: Path, values: Path | None, *sets: str) -> list[dict]:
    args: list[str | Path] = ["template", RELEASE, chart, "--kube-version", KUBE_VERSION]
    if values is not None:
        args += ["-f", values]
    for item in sets:
        args += ["--set", item]
    return [doc for doc in yaml.safe_load_all(run_helm(helm, *args)) if doc]


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[str, list[dict]]:
    return {name: template(helm, CHART, values) for name, values in VALUES.items()}


@pytest.fixture(scope="module")
def all_on(helm: Path) -> list[dict]:
    return template(helm, CHART, None, *ALL_ON)


def validate_k8s(docs: list[dict]) -> list[str]:
    """kubernetes-validate --strict for each object; CRD kinds may lack a schema."""
    problems = []
    for doc in docs:
        try:
            kv.validate(doc, KUBE_VERSION, strict=True)
        except kv.SchemaNotFoundError:
            if doc["kind"] not in CRD_KINDS:
                problems.append(f"{doc['kind']}: no Kubernetes {KUBE_VERSION} schema")
        except kv.ValidationError as exc:
            path = ".".join(map(str, exc.path))
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    return problems


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: dict) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def containers(docs: list[dict], init: bool = True) -> Iterator[tuple[dict, dict]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            spec = pod_spec(doc)
            yield from ((doc, c) for c in spec.get("initContainers", []) if init)
            yield from ((doc, c) for c in spec["containers"])


# --- lint and schemas -----------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_helm_lint_strict(helm: Path, values: str) -> None:
    args: list[str | Path] = ["lint", "--strict", CHART]
    if VALUES[values] is not None:
        args += ["-f", VALUES[values]]
    assert "0 chart(s) failed" in run_helm(helm, *args)


@pytest.mark.parametrize("values", VALUES)
def test_manifests_are_valid_kubernetes_1_33(rendered: dict[str, list[dict]], values: str) -> None:
    assert rendered[values], "helm template rendered nothing"
    assert validate_k8s(rendered[values]) == []


def test_all_optional_objects_are_valid(all_on: list[dict]) -> None:
    kinds = {d["kind"] for d in all_on}
    assert {"Ingress", "NetworkPolicy", "ServiceMonitor", "Job", "CronJob"} <= kinds
    assert validate_k8s(all_on) == []


def test_dev_deps_chart(helm: Path) -> None:
    assert "0 chart(s) failed" in run_helm(helm, "lint", "--strict", DEV_DEPS)
    docs = template(helm, DEV_DEPS, None)
    assert validate_k8s(docs) == []
    secret = by_kind(docs, "Secret")
    local = yaml.safe_load(VALUES["local"].read_text())  # type: ignore[union-attr]
    assert local["existingSecret"]["name"] in secret
    assert local["artifactsVolume"]["claimName"] in by_kind(docs, "PersistentVolumeClaim")


def test_skaffold_yaml_matches_schema() -> None:
    schema = json.loads(SKAFFOLD_SCHEMA.read_text())
    root = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": "#/definitions/SkaffoldConfig",
        "definitions": schema["definitions"],
    }
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(root).iter_errors(config)
    ]
    assert errors == []
    assert config["apiVersion"] == "skaffold/v4beta14"
    profiles = {p["name"]: p for p in config["profiles"]}
    assert set(profiles) == {"local", "eks"}
    for build in (config["build"], profiles["eks"]["build"]):
        targets = {a["image"]: a["docker"]["target"] for a in build["artifacts"]}
        assert targets == {f"kryptonite-{t}": t for t in IMAGE_TARGETS}
        for artifact in build["artifacts"]:
            assert artifact["context"] == "."
            assert artifact["docker"]["dockerfile"] == "deploy/Dockerfile"
        assert "gitCommit" in build["tagPolicy"]
    releases = [config["deploy"]["helm"]["releases"][0]] + [
        r for p in config["profiles"] for r in p["deploy"]["helm"]["releases"]
    ]
    images = {
        f"images.{t}.{field}": f"{{{{.IMAGE_{key}_kryptonite_{t}}}}}"
        for t in IMAGE_TARGETS
        for field, key in (("repository", "REPO"), ("tag", "TAG"))
    }
    for release in releases:
        assert (ROOT / release["chartPath"]).is_dir()
        for values in release.get("valuesFiles", []):
            assert (ROOT / values).is_file()
        if release["chartPath"] == "charts/kryptonite":
            templates = release["setValueTemplates"]
            found = {k: v for k, v in templates.items() if k.startswith("images.")}
            if release.get("namespace") == "kryptonite":  # eks: pushed, so pulled by digest
                images_eks = images | {
                    f"images.{t}.digest": f"{{{{.IMAGE_DIGEST_kryptonite_{t}}}}}"
                    for t in IMAGE_TARGETS
                }
                assert found == images_eks
            else:
                assert found == images


def test_eks_profile_renders_without_placeholders(helm: Path) -> None:
    """The skaffold eks profile, its templates filled from the environment as skaffold
    does: valid manifests, no placeholder left, the first deploy bootstraps a model."""
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    (eks,) = [p for p in config["profiles"] if p["name"] == "eks"]
    (release,) = eks["deploy"]["helm"]["releases"]
    ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    env = {"AWS_ACCOUNT_ID": "123456789012"}
    for t in IMAGE_TARGETS:
        env |= {f"IMAGE_REPO_kryptonite_{t}": f"{ecr}/kryptonite-{t}"}
        env |= {f"IMAGE_TAG_kryptonite_{t}": "abc1234"}
        env |= {f"IMAGE_DIGEST_kryptonite_{t}": "sha256:" + "ab" * 32}
    sets = [f"{k}={v}" for k, v in release.get("setValues", {}).items()]
    for key, value in release["setValueTemplates"].items():
        filled = re.sub(r"\{\{\.(\w+)\}\}", lambda m: env[m.group(1)], value)
        sets.append(f"{key}={filled}")
    args: list[str | Path] = ["template", RELEASE, CHART, "--kube-version", KUBE_VERSION]
    args += ["--namespace", release["namespace"]]
    for values in release["valuesFiles"]:
        args += ["-f", ROOT / values]
    for item in sets:
        args += ["--set", item]
    text = run_helm(helm, *args)
    assert not re.search(r"ACCOUNT_ID|REGION\b|<no value>", re.sub(r"#.*", "", text))
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert validate_k8s(docs) == []
    assert {d["metadata"]["namespace"] for d in docs} == {"kryptonite"}
    jobs = {component(d) for d in by_kind(docs, "Job").values()}
    assert {"migrate", "bootstrap"} <= jobs
    assert eks["deploy"]["statusCheckDeadlineSeconds"] >= 900, "bootstrap + first model"
    assert release["wait"] is False, "helm --wait would time out before the first model"


# --- drift between the chart and the code ---------------------------------------------


def test_service_templates_are_thin() -> None:
    for name in SERVICE_PORTS:
        text = (CHART / "templates" / f"{name}.yaml").read_text().strip()
        assert text == f'{{{{- include "kryptonite.component" (dict "root" . "name" "{name}") }}}}'


def test_services_and_ports_match_config(rendered: dict[str, list[dict]]) -> None:
    docs = rendered["default"]
    deployments = {component(d): d for d in by_kind(docs, "Deployment").values()}
    services = {component(d): d for d in by_kind(docs, "Service").values()}
    assert set(deployments) == set(SERVICE_PORTS)
    assert set(services) == set(SERVICE_PORTS)
    for name, port in SERVICE_PORTS.items():
        (container,) = pod_spec(deployments[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        svc_ports = {p["name"]: p["port"] for p in services[name]["spec"]["ports"]}
        main = "http" if name == "gateway" else "grpc"
        expected = {main: port}
        if name in METRICS_PORTS:
            expected["metrics"] = METRICS_PORTS[name]
        assert ports == expected, name
        assert svc_ports == expected, name
        if name == "gateway":
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        else:
            assert container["readinessProbe"]["grpc"]["port"] == port


def test_service_monitors_scrape_metrics(all_on: list[dict]) -> None:
    monitors = {component(d): d for d in by_kind(all_on, "ServiceMonitor").values()}
    assert set(monitors) == set(SERVICE_PORTS)
    for name, monitor in monitors.items():
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] == ("metrics" if name in METRICS_PORTS else "http")


def test_settings_are_real_and_peers_wired_by_service_name(all_on: list[dict]) -> None:
    fields = {f"KRYPTONITE_{name.upper()}" for name in Settings.model_fields}
    (config_map,) = by_kind(all_on, "ConfigMap").values()
    env = config_map["data"]
    for _, container in containers(all_on):
        names = {e["name"] for e in container.get("env", [])}
        unknown = {n for n in names if n.startswith("KRYPTONITE_")} - fields
        assert not unknown, f"{container['name']}: not Settings fields: {unknown}"
    assert set(env) <= fields, f"ConfigMap keys that are not Settings fields: {set(env) - fields}"
    assert env["KRYPTONITE_HOST"] == "0.0.0.0"
    services = {component(d): name for name, d in by_kind(all_on, "Service").items()}
    by_component = {component(d): d for d in by_kind(all_on, "Service").values()}
    for name, port in SERVICE_PORTS.items():
        assert env[f"KRYPTONITE_{name.upper()}_PORT"] == str(port)
        if name != "gateway":
            # headless Service + dns:/// target: the gateway's round_robin sees every pod
            fqdn = f"{services[name]}.default.svc.cluster.local"
            assert env[f"KRYPTONITE_{name.upper()}_ADDR"] == f"dns:///{fqdn}:{port}"
            assert by_component[name]["spec"]["clusterIP"] == "None", name
    assert float(env["KRYPTONITE_RPC_MAX_CONNECTION_AGE_S"]) > 0


def resolve_cli(root: Any, argv: list[str]) -> str | None:
    """Parse ``argv`` (after ``kryptonite``) with the real CLI; a problem, or None.

    Works on the command tree of ``typer.main.get_command`` (typer ships its own click).
    """
    command, path, args = root, ["kryptonite"], list(argv)
    while hasattr(command, "get_command"):  # a group: descend by sub-command name
        if not args or args[0].startswith("-"):
            return f"`{' '.join(path)}` needs a sub-command"
        sub = command.get_command(typer.Context(command, info_name=path[-1]), args[0])
        if sub is None:
            return f"kryptonite.cli has no command `{' '.join([*path, args[0]])}`"
        command, path, args = sub, [*path, args.pop(0)], args
    try:
        # Kubernetes expands $(JOB_COMPLETION_INDEX) to an integer before the process starts.
        values = [a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in args]
        command.make_context(" ".join(path), values)
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return f"`{' '.join(path)} {' '.join(args)}`: {message}"
    return None


def test_container_commands_exist_in_cli(all_on: list[dict]) -> None:
    from kryptonite.cli import app

    root = typer.main.get_command(app)
    commands = {tuple(c["command"]) for _, c in containers(all_on)}
    expected = {
        *(("kryptonite", "serve", name) for name in SERVICE_PORTS),
        ("kryptonite", "migrate"),
        ("kryptonite", "ingest"),
        ("kryptonite", "train"),
        ("kryptonite", "precompute"),
        ("kryptonite", "daily-update"),
    }
    # every process of the contract is in the chart ...
    heads = {c[:3] if c[1] == "serve" else c[:2] for c in commands}
    assert heads == expected
    # ... and every command the chart runs parses with the real CLI
    assert all(cmd[0] == "kryptonite" for cmd in commands)
    problems = sorted({p for cmd in commands if (p := resolve_cli(root, list(cmd[1:])))})
    assert not problems, "the chart runs commands kryptonite.cli lacks:\n" + "\n".join(problems)


# --- hardening and jobs ---------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_every_pod_is_hardened(rendered: dict[str, list[dict]], values: str) -> None:
    docs = rendered[values]
    for doc, container in containers(docs):
        spec = pod_spec(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] == 10001, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, where
        assert sc["allowPrivilegeEscalation"] is False, where
        assert sc["capabilities"]["drop"] == ["ALL"], where
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/var/lib/kryptonite"} <= mounts, where
        assert "requests" in container["resources"], where
        secret_env = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.get("env", [])
            if "valueFrom" in e
        }
        assert {"KRYPTONITE_DATABASE_URL", "KRYPTONITE_TOKEN_SECRET"} <= set(secret_env), where
    assert not by_kind(docs, "Secret"), "the chart must reference an existing Secret only"


def test_jobs(all_on: list[dict]) -> None:
    jobs = {component(d): d for d in by_kind(all_on, "Job").values()}
    cron = {component(d): d for d in by_kind(all_on, "CronJob").values()}
    assert set(jobs) == {"migrate", "bootstrap", "precompute"}
    assert set(cron) == {"train", "daily-update"}
    hook = jobs["migrate"]["metadata"]["annotations"]["helm.sh/hook"]
    assert set(hook.split(",")) == {"pre-install", "pre-upgrade"}
    # at pre-install the ConfigMap does not exist yet: the hook carries its settings inline
    (migrate,) = pod_spec(jobs["migrate"])["containers"]
    assert "envFrom" not in migrate
    assert {"KRYPTONITE_HOST", "KRYPTONITE_HOME"} <= {e["name"] for e in migrate["env"]}
    precompute = jobs["precompute"]["spec"]
    assert precompute["completionMode"] == "Indexed"
    (container,) = precompute["template"]["spec"]["containers"]
    shards = container["command"][container["command"].index("--shards") + 1]
    assert int(shards) == precompute["completions"]
    assert container["command"][container["command"].index("--shard") + 1] == (
        "$(JOB_COMPLETION_INDEX)"
    )


def test_network_policy_only_gateway_calls_grpc(all_on: list[dict]) -> None:
    policies = {component(d): d["spec"] for d in by_kind(all_on, "NetworkPolicy").values()}
    jobs = policies.pop("jobs")  # the jobs serve nothing: no ingress at all
    assert jobs["policyTypes"] == ["Ingress"] and not jobs.get("ingress")
    job_pods = {component(d) for d in all_on if d["kind"] in {"Job", "CronJob"}}
    assert set(jobs["podSelector"]["matchExpressions"][0]["values"]) == job_pods
    assert set(policies) == set(SERVICE_PORTS)
    for name in METRICS_PORTS:
        grpc_rule = next(r for r in policies[name]["ingress"] if r["ports"] == [{"port": "grpc"}])
        (peer,) = grpc_rule["from"]
        labels = peer["podSelector"]["matchLabels"]
        assert labels["app.kubernetes.io/component"] == "gateway"
    ingress = next(iter(by_kind(all_on, "Ingress").values()))
    backends = {
        p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    services = {component(d): name for name, d in by_kind(all_on, "Service").items()}
    assert backends == {services["gateway"]}


READ_ROLE = "arn:aws:iam::123456789012:role/kryptonite-artifacts-read"
WRITE_ROLE = "arn:aws:iam::123456789012:role/kryptonite-artifacts-write"


def test_one_service_account_per_workload_least_privilege(helm: Path) -> None:
    """Each workload runs as its own account; only the jobs that publish models get the
    S3 write role, the services (the internet-facing gateway included) the read role."""
    docs = template(
        helm,
        CHART,
        VALUES["eks"],
        *ALL_ON,
        f"serviceAccount.roleArns.read={READ_ROLE}",
        f"serviceAccount.roleArns.write={WRITE_ROLE}",
        "config.artifactUri=s3://kryptonite-artifacts-123456789012/models",
    )
    accounts = by_kind(docs, "ServiceAccount")
    used: dict[str, str] = {}
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            used[component(doc)] = pod_spec(doc)["serviceAccountName"]
    assert len(set(used.values())) == len(used), f"accounts shared between workloads: {used}"
    assert set(used.values()) <= set(accounts)
    roles = {
        name: accounts[account]["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn")
        for name, account in used.items()
    }
    writers = {name for name, role in roles.items() if role == WRITE_ROLE}
    assert writers == {"train", "bootstrap"}
    assert {n for n, r in roles.items() if r == READ_ROLE} == set(SERVICE_PORTS) | {
        "precompute",
        "daily-update",
    }
    assert roles["migrate"] is None
    for account in accounts.values():
        assert account["automountServiceAccountToken"] is False
    (config_map,) = by_kind(docs, "ConfigMap").values()
    assert config_map["data"]["KRYPTONITE_ARTIFACT_URI"].startswith("s3://")
    assert {d["kind"] for d in docs} >= {"HorizontalPodAutoscaler", "PodDisruptionBudget"}


def test_iam_policies_split_read_and_write() -> None:
    read = json.loads((ROOT / "deploy/eks/s3-read-policy.json").read_text())
    write = json.loads((ROOT / "deploy/eks/s3-write-policy.json").read_text())
    read_actions = {a for st in read["Statement"] for a in st["Action"]}
    write_actions = {a for st in write["Statement"] for a in st["Action"]}
    assert not {"s3:PutObject", "s3:DeleteObject"} & read_actions
    assert {"s3:GetObject", "s3:ListBucket"} <= read_actions
    assert {"s3:PutObject", "s3:DeleteObject"} <= write_actions


# --- the EKS path: drains, rollouts, deadlines, staging --------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_every_object_names_its_namespace(helm: Path, values: str) -> None:
    args: list[str | Path] = ["template", RELEASE, CHART, "--namespace", "ns-x"]
    if VALUES[values] is not None:
        args += ["-f", VALUES[values]]
    for item in ALL_ON:
        args += ["--set", item]
    docs = [d for d in yaml.safe_load_all(run_helm(helm, *args)) if d]
    assert {d["metadata"].get("namespace") for d in docs} == {"ns-x"}


def test_rollouts_and_drains_lose_no_requests(all_on: list[dict]) -> None:
    (config_map,) = by_kind(all_on, "ConfigMap").values()
    grace = float(config_map["data"]["KRYPTONITE_RPC_SHUTDOWN_GRACE_S"])
    for doc in by_kind(all_on, "Deployment").values():
        spec = pod_spec(doc)
        (container,) = spec["containers"]
        sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert sleep >= 5, component(doc)
        assert spec["terminationGracePeriodSeconds"] >= sleep + grace, component(doc)
    for pdb in by_kind(all_on, "PodDisruptionBudget").values():
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_alb_deregistration_delay_matches_the_gateway_drain(rendered: dict) -> None:
    docs = rendered["eks"]
    (ingress,) = by_kind(docs, "Ingress").values()
    attrs = ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-group-attributes"]
    delay = int(re.fullmatch(r"deregistration_delay\.timeout_seconds=(\d+)", attrs).group(1))  # type: ignore[union-attr]
    (config_map,) = by_kind(docs, "ConfigMap").values()
    gateway = next(d for d in by_kind(docs, "Deployment").values() if component(d) == "gateway")
    (container,) = pod_spec(gateway)["containers"]
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert delay == sleep + int(float(config_map["data"]["KRYPTONITE_RPC_SHUTDOWN_GRACE_S"]))


def test_too_short_grace_period_is_refused(helm: Path) -> None:
    args = [
        "template",
        RELEASE,
        CHART,
        "--set",
        "components.gateway.terminationGracePeriodSeconds=5",
    ]
    proc = subprocess.run([str(helm), *map(str, args)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "terminationGracePeriodSeconds" in proc.stderr


def test_every_job_has_a_deadline_and_stages_artifacts_on_an_empty_dir(all_on: list[dict]) -> None:
    for doc in [*by_kind(all_on, "Job").values(), *by_kind(all_on, "CronJob").values()]:
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        assert spec["activeDeadlineSeconds"] > 0, component(doc)
    for doc, container in containers(all_on):
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        assert volumes["staging"]["emptyDir"]["sizeLimit"], component(doc)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TMPDIR"] == mounts["staging"], component(doc)


def test_versioned_job_names_follow_content_not_revision(helm: Path) -> None:
    """Named after a hash of what they run: stable under Argo CD (constant revision) and
    Helm alike, new when the image changes (a Job's pod template is immutable)."""

    def names(*sets: str) -> set[str]:
        docs = template(helm, CHART, None, "jobs.bootstrap.enabled=true", *sets)
        return {n for n, d in by_kind(docs, "Job").items() if component(d) != "migrate"}

    first = names()
    assert first == names() and len(first) == 2
    assert not any(re.search(r"-r\d+$", n) for n in first)
    assert names("image.tag=v2").isdisjoint(first)

"""Chart and settings regressions of the second adversarial run (issue 14): trusted
proxies are networks (never ``*``), the NetworkPolicy is on by default, health and metrics
are not routed by the ingress, and every port is a setting."""

from __future__ import annotations

import ipaddress

import pytest
import yaml
from pydantic import ValidationError

from kryptonite.config import Settings

from .test_chart import CHART, ROOT, by_kind, helm, template  # noqa: F401  (fixture)


@pytest.mark.parametrize("value", ["*", "10.0.0.0/8,*", "proxy.example"])
def test_trusted_proxies_must_be_networks(value: str) -> None:
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        Settings(forwarded_allow_ips=value)


def test_trusted_proxies_accept_ips_and_cidrs() -> None:
    settings = Settings(forwarded_allow_ips=" 10.42.0.0/16, 127.0.0.1 ,::1")
    assert settings.forwarded_allow_ips == "10.42.0.0/16,127.0.0.1,::1"


def test_eks_trusts_only_the_vpc() -> None:
    values = yaml.safe_load((CHART / "values-eks.yaml").read_text())
    trusted = values["config"]["extra"]["FORWARDED_ALLOW_IPS"]
    cluster = yaml.safe_load((ROOT / "deploy" / "eks" / "cluster.yaml").read_text())
    vpc = ipaddress.ip_network(cluster["vpc"]["cidr"])
    networks = [ipaddress.ip_network(p.strip()) for p in trusted.split(",")]
    assert networks and all(n.subnet_of(vpc) for n in networks), trusted
    Settings(forwarded_allow_ips=trusted)


def test_network_policy_is_on_by_default(helm) -> None:  # noqa: F811
    docs = template(helm, CHART, None)
    policies = by_kind(docs, "NetworkPolicy")
    components = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in policies.values()}
    assert {"candidates", "ranking", "content"} <= components
    for doc in policies.values():
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "gateway":
            continue
        if component == "jobs":  # the jobs serve nothing: no ingress rule at all
            assert "ingress" not in doc["spec"] and doc["spec"]["policyTypes"] == ["Ingress"]
            continue
        grpc_rule = next(r for r in doc["spec"]["ingress"] if r["ports"] == [{"port": "grpc"}])
        (peer,) = grpc_rule["from"]
        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"


def test_services_share_the_signing_key(helm) -> None:  # noqa: F811
    """Every service pod gets KRYPTONITE_TOKEN_SECRET: the service-token key derives from it."""
    docs = template(helm, CHART, None)
    for name, doc in by_kind(docs, "Deployment").items():
        env = {
            e["name"]
            for c in doc["spec"]["template"]["spec"]["containers"]
            for e in c.get("env", [])
        }
        assert "KRYPTONITE_TOKEN_SECRET" in env, name

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

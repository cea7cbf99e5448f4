"""One pydantic-settings class for every knob; env prefix ``KRYPTONITE_``.

No other module reads ``os.environ``: code receives a ``Settings`` instance.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Where each process listens by default. The Helm chart and its tests read these.
SERVICE_PORTS: dict[str, int] = {
    "gateway": 8000,
    "candidates": 50051,
    "ranking": 50052,
    "content": 50053,
}
#: Default Prometheus /metrics port of each gRPC service (settings
#: ``<name>_metrics_port``; the gateway serves /metrics itself).
METRICS_PORTS: dict[str, int] = {"candidates": 9101, "ranking": 9102, "content": 9103}


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to ``KRYPTONITE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="KRYPTONITE_", extra="ignore")

    home: Path = Field(
        default=Path("var"),
        description="Working directory for the embedded store, caches and artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        # pragma: allowlist nextline secret
        description="SQLAlchemy URL, e.g. mysql+pymysql://user:pw@host/kryptonite. "
        "Unset: SQLite file <home>/kryptonite.sqlite.",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:6379/0. Unset: in-process cache."
    )
    data_dir: Path = Field(
        default=Path("../shared/data"),
        description="Directory holding local MovieLens copies (ml-latest-small/ ...).",
    )
    download_dir: Path | None = Field(
        default=None, description="Cache for downloaded archives. Unset: <home>/downloads."
    )
    grouplens_base_url: str = Field(
        default="https://files.grouplens.org/datasets/movielens",
        description="Where MovieLens archives are downloaded from.",
    )
    artifact_uri: str | None = Field(
        default=None,
        description="Model artifact store: a local directory or s3://bucket/prefix. "
        "Unset: <home>/artifacts.",
    )
    artifact_keep_versions: int = Field(
        default=3,
        ge=1,
        description="Versions of each model kept in the artifact store after training "
        "(older ones are deleted; the current one always stays).",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (unset: AWS default)."
    )
    token_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key for bearer tokens. Unset: a random key per process (dev only).",
    )
    log_level: str = Field(default="INFO", description="Python log level.")
    log_json: bool = Field(default=False, description="Emit JSON log lines.")
    host: str = Field(default="127.0.0.1", description="Interface servers bind to.")
    gateway_port: int = SERVICE_PORTS["gateway"]
    candidates_port: int = SERVICE_PORTS["candidates"]
    ranking_port: int = SERVICE_PORTS["ranking"]
    content_port: int = SERVICE_PORTS["content"]
    candidates_metrics_port: int | None = Field(
        default=METRICS_PORTS["candidates"],
        description="Prometheus /metrics port of candidates (0: any free port).",
    )
    ranking_metrics_port: int | None = Field(
        default=METRICS_PORTS["ranking"],
        description="Prometheus /metrics port of ranking (0: any free port).",
    )
    content_metrics_port: int | None = Field(
        default=METRICS_PORTS["content"],
        description="Prometheus /metrics port of content (0: any free port).",
    )
    candidates_addr: str = Field(
        default=f"127.0.0.1:{SERVICE_PORTS['candidates']}", description="host:port."
    )
    ranking_addr: str = Field(
        default=f"127.0.0.1:{SERVICE_PORTS['ranking']}", description="host:port."
    )
    content_addr: str = Field(
        default=f"127.0.0.1:{SERVICE_PORTS['content']}", description="host:port."
    )
    rpc_timeout_s: float = Field(default=0.5, description="Deadline of each gRPC call.")
    rpc_max_message_bytes: int = Field(
        default=4 * 1024 * 1024,
        description="Largest gRPC message a server or client accepts; bigger is rejected.",
    )
    rpc_shutdown_grace_s: float = Field(
        default=10.0, description="Seconds in-flight gRPC calls get to finish on SIGTERM."
    )
    rpc_max_connection_age_s: float = Field(
        default=30.0,
        gt=0,
        description="A gRPC server closes each client connection after this long (+-10%), "
        "so clients re-resolve the headless Service and spread over new pods.",
    )
    cache_ttl_s: int = Field(default=3600, description="TTL of cached recommendation lists.")
    model_poll_s: float = Field(
        default=30.0,
        description="Seconds between checks of the artifact store for newer model versions "
        "(services hot-reload them).",
    )
    service_threads: int = Field(
        default=1,
        ge=1,
        description="Intra-op threads (torch, BLAS, OpenMP) of a gRPC service process; "
        "calls run in parallel threads, so 1 avoids oversubscription.",
    )
    ranking_diversity: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Default MMR diversity weight of ranking (the blend; 0.05 costs ~1% of "
        "held-out NDCG@10, 0.2 cost ~7%).",
    )
    seed: int = Field(default=42, description="Seed for splits, sampling and training.")
    cache_timeout_s: float = Field(
        default=0.2, description="Socket timeout of Redis calls (then computed live)."
    )
    cache_prefix: str = Field(
        default="kryptonite", description="Prefix of every Redis key (shared instances)."
    )
    db_timeout_s: float = Field(
        default=3.0, description="Deadline of the gateway's database work per request."
    )
    db_release_s: float = Field(
        default=0.5,
        gt=0,
        description="Deadline of handing a gateway database connection back to the pool "
        "(its reset); past it the connection is dropped, the request is not failed.",
    )
    token_ttl_s: int = Field(default=3600, description="Lifetime of gateway bearer tokens.")
    revocation_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between pulls of sign-outs and password changes made on other "
        "gateway replicas (through Redis).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1,
        description="Largest request body the gateway reads; a bigger one is answered 413 "
        "as it streams in, before anything is parsed.",
    )
    login_window_s: int = Field(
        default=300, ge=1, description="Window in which failed sign-ins are counted."
    )
    login_max_failures: int = Field(
        default=10,
        ge=0,
        description="Failed sign-ins of one username from one client IP per window before "
        "that pair gets 429 (0: no limit).",
    )
    login_max_failures_per_ip: int = Field(
        default=100,
        ge=0,
        description="Failed sign-ins from one client IP (IPv6: its /64) per window, any "
        "username, before that IP gets 429 (0: no limit).",
    )
    login_max_failures_per_user: int = Field(
        default=100,
        ge=0,
        description="Failed sign-ins of one username per window, any IP, before the username "
        "gets 429 (caps distributed guessing; 0: no limit).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies trusted to set X-Forwarded-For/-Proto (comma-separated IPs or "
        "CIDRs; * is refused): the client IP the sign-in limiter counts is the right-most "
        "X-Forwarded-For hop outside them. Set it to the ingress's network (the VPC).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated or a "
        "JSON list). Empty: no CORS headers (same-origin only).",
    )
    gateway_candidates: int = Field(
        default=300, description="Candidates the gateway asks for before ranking."
    )
    gateway_history: int = Field(
        default=200, description="Recent interactions the gateway sends downstream."
    )
    gateway_max_limit: int = Field(
        default=100, description="Largest `limit` a recommendations request may ask for."
    )
    gateway_refresh_s: float = Field(
        default=30.0,
        description="Seconds between checks of the current model versions (cache keys).",
    )
    gateway_popular_refresh_s: float = Field(
        default=600.0, description="Seconds between refreshes of the in-process popularity."
    )
    precompute_limit: int = Field(default=50, description="Items per precomputed list.")
    precompute_batch: int = Field(default=512, description="Users per precompute batch.")
    train_profile: str = Field(
        default="production",
        pattern="^(production|small)$",
        description="Model sizes `kryptonite train` fits: production, or small (tests, demos).",
    )
    train_chunk_rows: int = Field(
        default=200_000, ge=1000, description="Rows per chunk when training reads the database."
    )
    ncf_batch_size: int | None = Field(
        default=None,
        ge=1,
        description="NCF training batch size (per rank under torchrun). Unset: the profile's.",
    )
    promotion_metric: str = Field(
        default="ndcg@10", description="Validation metric the promotion gate compares."
    )
    promotion_tolerance: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="A new model is rejected when its metric is below the current version's "
        "by more than this fraction (0.1: 10 % worse).",
    )
    promotion_holdout_users: int = Field(
        default=2000,
        ge=10,
        description="Users whose latest rating is held out to validate new models.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        """IPs/CIDRs only: with ``*`` uvicorn takes the left-most X-Forwarded-For entry,
        which the client writes (unlimited sign-in guesses, or locking anyone out)."""
        parts = [p.strip() for p in value.split(",") if p.strip()]
        for part in parts:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    f"forwarded_allow_ips: {part!r} is not an IP or CIDR (list the proxies' "
                    "networks, e.g. the VPC's 10.42.0.0/16; '*' trusts every client)"
                ) from None
        return ",".join(parts)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """``a,b`` or ``["a", "b"]`` from the environment; a list as is."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'kryptonite.sqlite').resolve()}"

    @property
    def resolved_download_dir(self) -> Path:
        return self.download_dir or self.home / "downloads"

    @property
    def resolved_artifact_uri(self) -> str:
        return self.artifact_uri or str((self.home / "artifacts").resolve())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process (entry points only)."""
    return Settings()

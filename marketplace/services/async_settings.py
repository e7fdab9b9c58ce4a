"""How the asynchronous driver reaches the platform and paces its retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class AsyncSettings:
    """The platform's URLs, OAuth client secrets, the deadline and the retry pacing."""

    api_url: str
    id_url: str
    default_client_secret: str = ""
    client_secrets: Mapping[str, str] = field(default_factory=dict)
    deadline: timedelta = timedelta(hours=12)
    lease: timedelta = timedelta(minutes=5)
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0

    def client_secret(self, slug: str) -> str:
        """The add-on's OAuth client secret (empty when none is configured)."""
        return self.client_secrets.get(slug) or self.default_client_secret

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``."""
        exponent = max(attempts - 1, 0)
        return min(self.retry_base_seconds * float(2**exponent), self.retry_max_seconds)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AsyncSettings:
        """Build from the app config."""
        return cls(
            api_url=config["PLATFORM_API_URL"],
            id_url=config["PLATFORM_ID_URL"],
            default_client_secret=config["OAUTH_CLIENT_SECRET"],
            client_secrets=dict(config["OAUTH_CLIENT_SECRETS"]),
            deadline=timedelta(seconds=float(config["ASYNC_DEADLINE_SECONDS"])),
            lease=timedelta(seconds=float(config["JOB_LEASE_SECONDS"])),
            retry_base_seconds=float(config["RETRY_BASE_SECONDS"]),
            retry_max_seconds=float(config["RETRY_MAX_SECONDS"]),
        )

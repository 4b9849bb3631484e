"""The workbench's own settings, from the environment (prefix ``RISKSTREAM_WORKBENCH_``).

Kafka, the topics and the production mode come from :class:`streams.settings.Settings`
(``RISKSTREAM_``) like every other process; these are what only the web application needs.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# So that `make demo` and a developer's first run need no setup; production refuses it.
DEV_SECRET_KEY = "riskstream-dev-only-workbench-secret"
DEV_SYSTEM_TOKEN = "riskstream-dev-only-system-token-change-me"  # docker-compose.yml's default
MIN_SECRET_CHARS = 32


class WorkbenchSettings(BaseSettings):
    """Configuration of ``riskstream workbench``; see the README's workbench section."""

    model_config = SettingsConfigDict(env_prefix="RISKSTREAM_WORKBENCH_", extra="ignore")

    addr: str = Field("127.0.0.1", description="address the web application listens on")
    port: int = Field(8080, ge=0, le=65535, description="port of the web application (0: any)")
    database_url: SecretStr = Field(
        SecretStr("sqlite:///.riskstream/workbench.sqlite3"),
        description="SQLAlchemy URL of the case store, e.g. "
        "postgresql+psycopg://user:password@host/db (secret: it may hold a password)",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY), description="signs session cookies and CSRF tokens"
    )
    trusted_proxies: int = Field(
        0, ge=0, le=5, description="reverse proxies in front that end TLS and set "
        "X-Forwarded-For/-Proto; production refuses 0 (plain HTTP)",
    )
    session_hours: float = Field(12.0, gt=0, description="how long a login lasts")
    system_token: SecretStr | None = Field(
        None, description="bearer token of automated answerers (the simulated authority): "
        "they may record outcomes of cases no officer claimed; unset: nobody may",
    )
    threads: int = Field(8, ge=1, description="request threads of the web server")

    def check_production(self, mode: str) -> None:
        """Refuse what is only acceptable on a developer's machine (``RISKSTREAM_MODE``)."""
        if mode != "production":
            return
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET_KEY or len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                "RISKSTREAM_WORKBENCH_SECRET_KEY is the development secret or shorter than "
                f"{MIN_SECRET_CHARS} characters; set a long random secret in production"
            )
        token = self.system_token
        if token is not None and (len(token.get_secret_value()) < MIN_SECRET_CHARS
                                  or token.get_secret_value() == DEV_SYSTEM_TOKEN):
            raise ValueError(
                "RISKSTREAM_WORKBENCH_SYSTEM_TOKEN is the development token or shorter than "
                f"{MIN_SECRET_CHARS} characters; set a long random token, or none, in production"
            )
        if self.trusted_proxies == 0:
            raise ValueError(
                "production mode refuses plain HTTP: run the workbench behind a reverse proxy "
                "that ends TLS and set RISKSTREAM_WORKBENCH_TRUSTED_PROXIES (usually 1)"
            )


def settings_table() -> str:
    """The README's table of workbench settings (a test checks it matches).

    >>> settings_table().splitlines()[2].startswith("| `RISKSTREAM_WORKBENCH_ADDR` |")
    True
    """
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in WorkbenchSettings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            shown = "(secret)" if "secret" in name else f"`{default.get_secret_value()}`"
        else:
            shown = "(unset)" if default is None else f"`{default}`"
        lines.append(f"| `RISKSTREAM_WORKBENCH_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines)

"""Start a faust worker process with riskstream's agents (``riskstream worker``)."""

from __future__ import annotations

import sys

from streams import metrics
from streams.settings import get_settings


def run_worker() -> None:
    """Run the scorer agents until stopped (SIGTERM/SIGINT stop it cleanly)."""
    settings = get_settings()
    settings.check_production()
    # importing registers the agents on the app
    import streams.agents  # noqa: F401
    from streams.app import app, use_broker_linger

    use_broker_linger(app, settings)
    metrics.describe_build()
    metrics.preinitialise()
    metrics.serve(settings.metrics_port, settings.metrics_addr)
    # faust's CLI parses argv: hand it exactly what we mean, nothing from the environment
    sys.argv = ["riskstream", "worker", "--loglevel", settings.log_level, "--without-web"]
    app.main()

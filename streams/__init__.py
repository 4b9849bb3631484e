"""The Kafka side of riskstream: the faust app, its agents, topics, broker and tools.

``streams`` imports ``scorers`` and ``schemas``; never the other way round, so replays and
tests run the real scoring logic without a broker.

* ``app``: the one faust app and every topic, declared once.
* ``agents/``: one small agent per module; they move bytes and call plain logic.
* ``scoring``: the scoring step as plain logic (decode, pseudonymise, score, select).
* ``topology`` / ``admin``: topic names, partitions and explicit creation.
* ``broker``: the embedded Kafka-compatible broker for development and tests.
* ``hubsim``: the synthetic hubs and inspection authority, over Kafka.
* ``settings`` / ``kafka_config``: typed settings and the client configs built from them.
* ``metrics``: the Prometheus metric catalogue.
* ``testing``: a harness to test flows against the embedded broker.
"""

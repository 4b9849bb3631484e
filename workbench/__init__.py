"""The officer workbench: the case queue in a browser, outcomes entered where the
inspection happens.

Verdicts that select an event (physical inspection or document check) become cases in a
database (SQLite embedded, PostgreSQL in production; Alembic migrations). Officers log in,
see their hubs' queue per lane ordered by score with the verdict's reasons and non-personal
references, claim a case and record what they found; the outcome goes to
``riskstream.outcomes`` once, through an outbox, and the learner learns it.

One module per job: ``settings`` (environment), ``tables`` and ``database`` (the store and
its migrations), ``officers`` (logins and hubs), ``cases`` (reading), ``actions`` (claim,
release, record), ``ingest`` and ``bridge`` (Kafka in), ``outcomes`` and ``outbox`` (Kafka
out), ``web``, ``forms`` and ``api`` (HTTP), ``server`` and ``cli`` (the process). It uses
``schemas`` and ``streams`` (settings, Kafka configuration, metrics); they never use it,
except the CLI and the demo, which start it.
"""

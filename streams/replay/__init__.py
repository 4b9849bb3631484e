"""Replay and backtest: run a history of declarations through the production logic.

``riskstream replay INPUT.csv --mapping MAPPING.yaml`` maps any customs CSV onto events of a
stream (:mod:`~streams.replay.mapping`), learns the rows before ``--learn-until`` with their
labels as past inspection records, then replays the rest in time order through the live
worker's :class:`~streams.scoring.ScoringService` and the learner's
:class:`~learning.learner.Learner` (:mod:`~streams.replay.engine`), or through a real worker
and learner on the embedded broker (:mod:`~streams.replay.via_kafka`). Only the rows the
selection policy picks reveal their label, at the end of their day. The report
(:mod:`~streams.replay.report`) gives Precision@n%, Recall@n%, Revenue@n% and ROC AUC as
customs research reports them, overall and per month; :mod:`~streams.replay.plot` draws them;
:func:`streams.replay.backtest.replay` runs the whole of it, as the command does.
"""

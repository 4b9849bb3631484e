"""The learner's logic: join outcomes to scored records, learn once, watch quality, snapshot.

One learner process is the single writer of all learned state (River models cannot be
trained in parallel or merged). The streams layer feeds it decoded records from
``riskstream.scored`` and ``riskstream.outcomes`` with their offsets, publishes the events
it returns, and ships its sealed snapshots; everything here is pure and deterministic, with
no Kafka, no clock and no global random state:

* :class:`Learner` (``learner``): the core, with :class:`LearnerConfig`;
* :class:`OutcomeJoiner` (``join``): outcome and scored record meet by event id, in either
  order, each pair once, duplicates counted;
* :class:`PendingStore` (``pending``): records waiting for their counterpart, about 230 bytes
  each, bounded by time to live, count and bytes; :class:`RecordPacker` (``packing``) packs
  them exactly; :class:`RecentIds` (``idset``) remembers joined ids;
* :class:`LabelMap` (``labels``) and :func:`ipw` (``weights``): what an outcome teaches, and
  how much;
* :class:`QualityMonitor` (``monitor``): rolling precision, hit rates, ROC AUC, label delay,
  and ADWIN drift detection with a :class:`DriftReaction`;
* :class:`ChampionChallenger` (``challenger``): a shadow model judged on random picks and
  promoted by a :class:`PromotionRule`;
* :func:`seal` / :func:`unseal`, :func:`chunk` / :class:`Reassembler` (``snapshot``):
  HMAC-signed snapshots, verified before loading, cut to the broker's message size;
* :func:`assessment_of` / :func:`rescore` (``rescoring``): the model's view of a scored
  record;
* :func:`learner_feed` (``testing``): a deterministic feed of both topics for tests.

>>> from scorers.model import RiskModel
>>> learner = Learner(RiskModel(seed=1), LearnerConfig(learner_id="lrn-a"))
>>> feed = learner_feed(200, seed=3)
>>> offsets = {"scored": 0, "outcomes": 0}
>>> for topic, record in feed:
...     handle = learner.on_scored if topic == "scored" else learner.on_outcome
...     _ = handle(record, offsets[topic])
...     offsets[topic] += 1
>>> learner.version, learner.pending, learner.offsets
('lrn-a-o40-s600', 560, {'scored': 600, 'outcomes': 40})
"""

from __future__ import annotations

from learning.challenger import ChampionChallenger, Promotion, PromotionRule, with_learning_rate
from learning.idset import RecentIds, id_hash
from learning.join import OutcomeJoiner
from learning.labels import DEFAULT_LABELS, LabelMap
from learning.learner import Learner, LearnerConfig, LearnerEvent, LearnerState
from learning.monitor import DriftEvent, DriftReaction, QualityMonitor
from learning.packing import RecordPacker
from learning.pending import PendingStore
from learning.rescoring import assessment_of, rescore
from learning.snapshot import Reassembler, SnapshotError, chunk, seal, unseal
from learning.testing import learner_feed
from learning.weights import ipw, weighted_rate

__all__ = [
    "DEFAULT_LABELS",
    "ChampionChallenger",
    "DriftEvent",
    "DriftReaction",
    "LabelMap",
    "Learner",
    "LearnerConfig",
    "LearnerEvent",
    "LearnerState",
    "OutcomeJoiner",
    "PendingStore",
    "Promotion",
    "PromotionRule",
    "QualityMonitor",
    "Reassembler",
    "RecentIds",
    "RecordPacker",
    "SnapshotError",
    "assessment_of",
    "chunk",
    "id_hash",
    "ipw",
    "learner_feed",
    "rescore",
    "seal",
    "unseal",
    "weighted_rate",
    "with_learning_rate",
]

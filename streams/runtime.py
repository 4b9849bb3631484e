"""Build the domain objects a worker needs from the settings (one place for wiring)."""

from __future__ import annotations

from schemas import AvroCodec, Pseudonymiser
from scorers.model import RiskModel
from scorers.rules import RuleBook
from scorers.selection import SelectionPolicy
from streams.registry import registry_for
from streams.scoring import ScoringService
from streams.settings import Settings
from streams.topology import Topology


def build_policy(settings: Settings) -> SelectionPolicy:
    return SelectionPolicy(
        rates=settings.inspection_rates,
        random_share=settings.random_share,
        document_check_rate=settings.document_check_rate,
        window=settings.selection_window,
        seed=settings.seed,
    )


def build_model(settings: Settings) -> RiskModel:
    return RiskModel(seed=settings.seed, rulebook=RuleBook.from_yaml(settings.rules_file))


def build_scoring_service(settings: Settings, model: RiskModel | None = None) -> ScoringService:
    return ScoringService(
        topology=Topology.from_settings(settings),
        codec=AvroCodec(registry_for(settings)),
        pseudonymiser=Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
        model=model or build_model(settings),
        policy=build_policy(settings),
    )

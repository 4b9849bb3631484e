"""Build the domain objects a worker needs from the settings (one place for wiring)."""

from __future__ import annotations

from pathlib import Path

from learning.snapshot import seal, unseal
from schemas import AvroCodec, Pseudonymiser
from schemas.sealing import PayloadSeal
from scorers.circumvention import CircumventionBook
from scorers.green_lane import GreenLane
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
        ranking=settings.ranking,
        areas=settings.lane_areas,
        green_audit_share=settings.green_lane_audit_share,
    )


def build_green_lane(settings: Settings) -> GreenLane | None:
    """Who qualifies for the green lane, if it is on (the learner opens it per stream)."""
    if not settings.green_lane_enabled:
        return None
    return GreenLane(
        min_clean_inspections=settings.green_lane_min_clean_inspections,
        check_seconds=settings.green_lane_check_seconds,
    )


def build_model(settings: Settings) -> RiskModel:
    """The configured warm-start model if there is one, otherwise a fresh one."""
    rulebook = RuleBook.from_yaml(settings.rules_file)
    circumvention = CircumventionBook.from_yaml(settings.circumvention_file)
    if settings.model_file:
        model = read_model_file(settings, settings.model_file)
        model.set_rulebook(rulebook)  # the analysts' current rules, not the ones at training
        model.set_circumvention(circumvention)  # ...and their current circumvention book
        return model
    return RiskModel(seed=settings.seed, rulebook=rulebook, options=settings.ensemble,
                     circumvention=circumvention)


def write_model_file(settings: Settings, model: RiskModel, path: str | Path) -> int:
    """Write ``model`` as a signed snapshot file; return its size in bytes."""
    blob = seal(
        model,
        settings.snapshot_key.get_secret_value().encode(),
        {"model_version": model.version, "source": "warm-start"},
    )
    Path(path).write_bytes(blob)
    return len(blob)


def read_model_file(settings: Settings, path: str | Path) -> RiskModel:
    """Read a signed snapshot file; the signature is checked before anything is unpickled."""
    _, model = unseal(Path(path).read_bytes(), settings.snapshot_key.get_secret_value().encode())
    if not isinstance(model, RiskModel):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a RiskModel")
    return model


def build_pseudonymiser(settings: Settings) -> Pseudonymiser:
    """The current key, the previous ones during a rotation grace period, and the personal
    entries of the attributes map."""
    return Pseudonymiser(
        settings.pseudonym_key.get_secret_value().encode(),
        tuple(k.get_secret_value().encode() for k in settings.pseudonym_previous_keys),
        personal_attributes=settings.personal_attributes,
    )


def build_payload_seal(settings: Settings) -> PayloadSeal:
    return PayloadSeal(settings.deadletter_key.get_secret_value().encode())


def build_scoring_service(settings: Settings, model: RiskModel | None = None) -> ScoringService:
    return ScoringService(
        topology=Topology.from_settings(settings),
        codec=AvroCodec(registry_for(settings), max_bytes=settings.max_event_bytes),
        pseudonymiser=build_pseudonymiser(settings),
        model=model or build_model(settings),
        policy=build_policy(settings),
        payload_seal=build_payload_seal(settings),
        payload_protection=settings.deadletter_payload,
        green_lane=build_green_lane(settings),
        budget_period=None if settings.budget_period == "none" else settings.budget_period,
    )

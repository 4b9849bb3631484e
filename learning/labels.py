"""What an inspection result teaches: a finding, not a finding, or nothing.

The supervised model predicts the probability that an inspection finds something illicit.
:class:`LabelMap` says which ``InspectionOutcome.result`` counts as such a finding. By
default seizures and revenue adjustments do, no finding does not, and so does a documentary
irregularity (paperwork, not smuggling); a result mapped to ``None`` is not learnt at all.
The results are read from the Avro schema, so a new result symbol must be mapped before
the learner starts, never silently guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from schemas import catalog

__all__ = ["DEFAULT_LABELS", "RESULTS", "LabelMap"]


def _results() -> tuple[str, ...]:
    for field in catalog.raw_schema("InspectionOutcome")["fields"]:
        if field["name"] == "result":
            return tuple(field["type"]["symbols"])
    raise RuntimeError("schema InspectionOutcome has no field result")  # pragma: no cover


RESULTS: tuple[str, ...] = _results()
"""Every ``InspectionOutcome.result`` symbol, in schema order."""

DEFAULT_LABELS: Mapping[str, bool | None] = MappingProxyType({
    "no_finding": False,
    "seizure": True,
    "revenue_adjustment": True,
    "documentary_irregularity": False,
})


class LabelMap:
    """Map inspection results to training labels.

    Parameters
    ----------
    labels
        Label by result: ``True`` (illicit finding), ``False`` (nothing illicit) or ``None``
        (not learnt). Every result of the schema must be mapped, and nothing else.
        Default: :data:`DEFAULT_LABELS`.

    Examples
    --------
    >>> labels = LabelMap()
    >>> labels("seizure"), labels("documentary_irregularity")
    (True, False)
    >>> strict = LabelMap({**DEFAULT_LABELS, "documentary_irregularity": None})
    >>> strict("documentary_irregularity") is None
    True
    >>> labels("smuggling")
    Traceback (most recent call last):
    ...
    ValueError: unknown inspection result 'smuggling': expected one of no_finding, seizure, revenue_adjustment, documentary_irregularity
    >>> LabelMap({"seizure": True})
    Traceback (most recent call last):
    ...
    ValueError: invalid label map: results not mapped: no_finding, revenue_adjustment, documentary_irregularity
    """  # noqa: E501

    def __init__(self, labels: Mapping[str, bool | None] | None = None) -> None:
        self.labels = dict(labels) if labels is not None else None
        mapping = dict(DEFAULT_LABELS if labels is None else labels)
        problems: list[str] = []
        unknown = [result for result in mapping if result not in RESULTS]
        if unknown:
            problems.append(
                f"unknown results: {', '.join(map(repr, unknown))} (the schema has "
                f"{', '.join(RESULTS)})"
            )
        missing = [result for result in RESULTS if result not in mapping]
        if missing:
            problems.append(f"results not mapped: {', '.join(missing)}")
        wrong = [
            f"{result} -> {label!r}"
            for result, label in mapping.items()
            if label is not None and not isinstance(label, bool)
        ]
        if wrong:
            problems.append(f"labels must be True, False or None: {', '.join(wrong)}")
        if problems:
            raise ValueError("invalid label map: " + "; ".join(problems))
        self._mapping: dict[str, bool | None] = mapping

    def __call__(self, result: str) -> bool | None:
        """The label of ``result``: True, False, or None when it is not learnt."""
        try:
            return self._mapping[result]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown inspection result {result!r}: expected one of {', '.join(RESULTS)}"
            ) from None

    @property
    def findings(self) -> tuple[str, ...]:
        """The results that count as an illicit finding."""
        return tuple(result for result, label in self._mapping.items() if label is True)

    def __repr__(self) -> str:
        return f"LabelMap({self._mapping!r})"

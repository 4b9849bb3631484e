"""Tariff misclassification: does the goods description fit the declared HS chapter?

An online multinomial naive Bayes model learns, from every declaration, which words go with
which HS chapter. It scores ``1 - P(declared chapter | description)``: high when the words
read like another chapter, as when handbags (chapter 42) are declared as printed matter
(chapter 49) for a lower duty. Naive Bayes is over-confident, so the word evidence is
divided by ``temperature`` before the posterior is taken.

Words are stored as CRC-32 hashes, not as text: the state holds no clear wording (a
description may name a person, however rarely), and the vocabulary stays compact.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from scorers.base import Features, Reason
from scorers.features.goods import tokens


class TariffScorer:
    """Probability that the declared HS chapter is wrong, given the goods description.

    Parameters
    ----------
    alpha
        Additive smoothing of the word counts.
    temperature
        Divides the summed word log-likelihoods, tempering naive Bayes' over-confidence.
    min_documents
        Declarations the model must have seen before it scores at all.
    min_chapter_documents
        Declarations of the declared chapter needed to judge it; rarer chapters score 0.
    explain_threshold
        Score from which ``explain_one`` names the chapter the words point to.
    max_vocabulary
        Distinct words kept; new words are ignored once it is full.

    Examples
    --------
    >>> tariff = TariffScorer(min_documents=50)
    >>> for _ in range(30):
    ...     tariff.learn_one({"description": "leather handbag", "hs_chapter": "42"})
    ...     tariff.learn_one({"description": "printed books", "hs_chapter": "49"})
    >>> round(tariff.score_one({"description": "ladies leather handbag", "hs_chapter": "49"}), 3)
    0.984
    >>> round(tariff.score_one({"description": "books", "hs_chapter": "49"}), 3)
    0.114
    >>> [r.text for r in tariff.explain_one({"description": "handbag", "hs_chapter": "49"})]
    ['description reads like HS chapter 42, declared chapter 49']
    >>> tariff.likely_chapter({"description": "leather handbag"})
    '42'

    """

    def __init__(
        self,
        alpha: float = 0.5,
        temperature: float = 2.0,
        min_documents: int = 200,
        min_chapter_documents: int = 5,
        explain_threshold: float = 0.8,
        max_vocabulary: int = 50_000,
    ) -> None:
        self.alpha = alpha
        self.temperature = temperature
        self.min_documents = min_documents
        self.min_chapter_documents = min_chapter_documents
        self.explain_threshold = explain_threshold
        self.max_vocabulary = max_vocabulary
        self.word_counts: dict[int, dict[str, int]] = {}  # word hash -> chapter -> count
        self.chapter_words: dict[str, int] = {}
        self.chapter_documents: dict[str, int] = {}
        self.documents = 0

    @staticmethod
    def _words(x: Features) -> list[int]:
        description = x.get("description")
        if not isinstance(description, str):
            return []
        return [zlib.crc32(word.encode()) for word in tokens(description)]

    @staticmethod
    def _chapter(x: Features) -> str | None:
        chapter = x.get("hs_chapter")
        return chapter if isinstance(chapter, str) and chapter else None

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Learn the declared chapter's wording; outcomes are not needed."""
        chapter = self._chapter(x)
        words = self._words(x)
        if chapter is None or not words:
            return
        self.documents += 1
        self.chapter_documents[chapter] = self.chapter_documents.get(chapter, 0) + 1
        for word in words:
            counts = self.word_counts.get(word)
            if counts is None:
                if len(self.word_counts) >= self.max_vocabulary:
                    continue
                counts = self.word_counts[word] = {}
            counts[chapter] = counts.get(chapter, 0) + 1
            self.chapter_words[chapter] = self.chapter_words.get(chapter, 0) + 1

    def predict_proba_one(self, x: Features) -> dict[str, float]:
        """Posterior over HS chapters given the description; empty without known words."""
        known = [self.word_counts[w] for w in self._words(x) if w in self.word_counts]
        if not known or not self.chapter_documents:
            return {}
        alpha = self.alpha
        log_alpha = math.log(alpha)
        vocabulary = alpha * len(self.word_counts)
        chapters = len(self.chapter_documents)
        prior_norm = math.log(self.documents + chapters)
        inv_t = 1.0 / self.temperature
        # sparse evaluation: every known word counts log(alpha) for every chapter, plus a
        # correction for the chapters it was actually seen with
        evidence = {
            c: len(known) * (log_alpha - math.log(self.chapter_words.get(c, 0) + vocabulary))
            for c in self.chapter_documents
        }
        for counts in known:
            for c, count in counts.items():
                evidence[c] += math.log(count + alpha) - log_alpha
        logits = {
            c: math.log(n + 1.0) - prior_norm + inv_t * evidence[c]
            for c, n in self.chapter_documents.items()
        }
        top = max(logits.values())
        exp = {c: math.exp(v - top) for c, v in logits.items()}
        total = sum(exp.values())
        return {c: v / total for c, v in exp.items()}

    def score_one(self, x: Features) -> float:
        chapter = self._chapter(x)
        if (
            chapter is None
            or self.documents < self.min_documents
            or self.chapter_documents.get(chapter, 0) < self.min_chapter_documents
        ):
            return 0.0
        proba = self.predict_proba_one(x)
        if not proba:
            return 0.0
        return min(1.0, max(0.0, 1.0 - proba.get(chapter, 0.0)))

    def likely_chapter(self, x: Features, min_proba: float = 0.8) -> str | None:
        """The chapter the description reads like, if the model is at least that sure."""
        if self.documents < self.min_documents:
            return None
        proba = self.predict_proba_one(x)
        if not proba:
            return None
        chapter = max(proba, key=lambda c: proba[c])
        return chapter if proba[chapter] >= min_proba else None

    def explain_one(self, x: Features) -> list[Reason]:
        score = self.score_one(x)
        if score < self.explain_threshold:
            return []
        proba = self.predict_proba_one(x)
        likely = max(proba, key=lambda c: proba[c])
        declared = self._chapter(x)
        if likely == declared:
            return []
        text = f"description reads like HS chapter {likely}, declared chapter {declared}"
        return [Reason("tariff.misclassification", text, score)]

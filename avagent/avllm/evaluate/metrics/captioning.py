"""Captioning metrics in pure Python: corpus BLEU-1..4, ROUGE-L and CIDEr-D as pycocoevalcap computes them.

Ports of tylin/coco-caption (pycocoevalcap) without Java:

- BLEU (``bleu/bleu_scorer.py``, ``option="closest"``): n-gram counts clipped by the maximum count in any
  reference; per corpus, BLEU-n = (prod_{k<=n} (correct_k + 1e-15) / (guess_k + 1e-9)) ** (1/n), times the
  brevity penalty exp(1 - r / c) when c < r, r summing each sample's reference length closest to its
  hypothesis length (ties: the shorter).
- ROUGE-L (``rouge/rouge.py``): per sample, the LCS with each reference gives P = lcs / |hyp| and
  R = lcs / |ref|; with the maxima over references, score = (1 + β²) P R / (R + β² P), β = 1.2; corpus score =
  mean.
- CIDEr-D (``cider/cider_scorer.py``, the metric pycocoevalcap calls "CIDEr"): TF-IDF vectors of 1..4-grams,
  idf = log(#samples) - log(max(1, document frequency over the samples' reference sets)); per n, the clipped
  cosine ``sum(min(h, r) * r) / (|h| |r|)`` (undivided when a norm is 0, as in later coco-caption versions)
  times a Gaussian length penalty exp(-δ² / (2 σ²)), σ = 6, δ the difference of the two "lengths" the reference
  computes (it counts bigrams there, a quirk kept for identical numbers); the score is 10 x the mean over n
  and over references; corpus CIDEr-D = mean over samples.

Tokenisation replaces the Stanford PTBTokenizer: lowercase, split off punctuation, clitics split as PTB does
("don't" -> "do n't"), and the punctuation tokens pycocoevalcap drops are removed. Scores on already tokenised
text are identical to pycocoevalcap's; on raw text they can differ where PTB's rules are subtler.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

MAX_N = 4  # BLEU-4 and CIDEr use 1..4-grams
ROUGE_BETA = 1.2  # pycocoevalcap Rouge beta
CIDER_SIGMA = 6.0  # pycocoevalcap CiderScorer sigma
_TINY, _SMALL = 1e-15, 1e-9  # pycocoevalcap BleuScorer smoothing constants

# pycocoevalcap's PUNCTUATIONS, with the brackets PTB would have escaped as -LRB- / -RRB- / -LCB- / -RCB-
_DROPPED = frozenset(["''", "'", "``", "`", "(", ")", "{", "}", "[", "]", ".", "?", "!", ",", ":", "-", "--"])
_DROPPED |= {"...", ";"}
_CLITIC = re.compile(r"(?i)\b(\w+)(n't|'s|'re|'ve|'ll|'d|'m)\b")
_TOKEN = re.compile(r"n't|'s|'re|'ve|'ll|'d|'m|\w+(?:[-.']\w+)*|\.\.\.|--|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """PTB-like tokens of a caption, lowercased, with pycocoevalcap's punctuation removed."""
    text = _CLITIC.sub(r"\1 \2", str(text).lower())
    return [t for t in _TOKEN.findall(text) if t not in _DROPPED]


def _ngrams(words: Sequence[str], n: int = MAX_N) -> Counter:
    return Counter(tuple(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def bleu(
    hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]
) -> tuple[list[float], list[list[float]]]:
    """Corpus and per-sample BLEU-1..4 (pycocoevalcap ``BleuScorer.compute_score``, closest ref length).

    Parameters
    ----------
    hyps : sequence of token lists, one per sample
    refs : sequence of lists of token lists, the references of each sample (at least one)
    """
    correct_total, guess_total = [0] * MAX_N, [0] * MAX_N
    test_total = ref_total = 0
    per_sample: list[list[float]] = []
    for hyp, sample_refs in zip(hyps, refs, strict=True):
        counts = _ngrams(hyp)
        max_ref: Counter = Counter()
        for ref in sample_refs:
            max_ref |= _ngrams(ref)
        ref_len = min((abs(len(r) - len(hyp)), len(r)) for r in sample_refs)[1]
        guess = [max(0, len(hyp) - k + 1) for k in range(1, MAX_N + 1)]
        correct = [0] * MAX_N
        for gram, count in counts.items():
            correct[len(gram) - 1] += min(max_ref.get(gram, 0), count)
        per_sample.append(_bleu_from_counts(correct, guess, len(hyp), ref_len))
        test_total += len(hyp)
        ref_total += ref_len
        correct_total = [a + b for a, b in zip(correct_total, correct, strict=True)]
        guess_total = [a + b for a, b in zip(guess_total, guess, strict=True)]
    return _bleu_from_counts(correct_total, guess_total, test_total, ref_total), per_sample


def _bleu_from_counts(correct: list[int], guess: list[int], test_len: int, ref_len: int) -> list[float]:
    scores, product = [], 1.0
    for k in range(MAX_N):
        product *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (test_len + _TINY) / (ref_len + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """ROUGE-L of one sample (pycocoevalcap ``Rouge.calc_score``); 0.0 for an empty hypothesis."""
    if not hyp:
        return 0.0
    precision = max(_lcs(r, hyp) / len(hyp) for r in refs)
    recall = max((_lcs(r, hyp) / len(r)) if r else 0.0 for r in refs)
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + ROUGE_BETA**2) * precision * recall / (recall + ROUGE_BETA**2 * precision)


def _cider_vec(counts: Counter, doc_freq: dict, log_n: float) -> tuple[list[dict], list[float], int]:
    vec: list[dict] = [defaultdict(float) for _ in range(MAX_N)]
    norm = [0.0] * MAX_N
    length = 0
    for gram, tf in counts.items():
        n = len(gram) - 1
        vec[n][gram] = float(tf) * (log_n - math.log(max(1.0, doc_freq.get(gram, 0.0))))
        norm[n] += vec[n][gram] ** 2
        if n == 1:
            length += tf  # the reference counts bigrams here; kept so the numbers match
    return vec, [math.sqrt(x) for x in norm], length


def _cider_sim(hyp: tuple, ref: tuple) -> float:
    (vh, nh, lh), (vr, nr, lr) = hyp, ref
    delta = float(lh - lr)
    total = 0.0
    for n in range(MAX_N):
        value = sum(min(vh[n][g], vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g in vh[n])
        if nh[n] != 0 and nr[n] != 0:
            value /= nh[n] * nr[n]
        total += value * math.e ** (-(delta**2) / (2 * CIDER_SIGMA**2))
    return total


def cider_d(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]) -> tuple[float, list[float]]:
    """Corpus CIDEr-D and per-sample scores (pycocoevalcap ``CiderScorer.compute_score``)."""
    ref_counts = [[_ngrams(r) for r in sample] for sample in refs]
    doc_freq: dict = defaultdict(float)
    for sample in ref_counts:
        for gram in {g for counts in sample for g in counts}:
            doc_freq[gram] += 1
    log_n = math.log(float(len(ref_counts))) if ref_counts else 0.0
    scores = []
    for hyp, sample in zip(hyps, ref_counts, strict=True):
        h = _cider_vec(_ngrams(hyp), doc_freq, log_n)
        total = sum(_cider_sim(h, _cider_vec(r, doc_freq, log_n)) for r in sample)
        scores.append(total / MAX_N / len(sample) * 10.0)
    return (sum(scores) / len(scores) if scores else 0.0), scores

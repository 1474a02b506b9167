"""Captioning metrics against pycocoevalcap (tylin/coco-caption).

`_ref_*` transcribe ``bleu/bleu_scorer.py`` (corpus BLEU, ``option="closest"``), ``rouge/rouge.py`` and
``cider/cider_scorer.py`` (with the zero-norm guard of the later versions and the pip package) in Python 3 on
pre-tokenised text (pycocoevalcap's input after its PTBTokenizer).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from avagent.avllm.evaluate.metrics.captioning import bleu, cider_d, rouge_l, tokenize

CAPTIONS = [
    ("a man plays the guitar on a stage", ["a man is playing a guitar", "a musician performs on stage"]),
    ("a dog barks at a cat", ["a dog is barking loudly", "the dog barks at the cat in the yard"]),
    ("people cheer", ["a crowd of people cheering at a game", "people clap and cheer"]),
    ("a car engine roars while a man talks", ["a man talks as a car engine runs", "engine noise and speech"]),
]


def _precook(s, n=4):
    words = s.split()
    counts = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return len(words), counts


def _ref_bleu(pairs, n=4):
    small, tiny = 1e-9, 1e-15
    testlen_total = reflen_total = 0
    guess_total, correct_total = [0] * n, [0] * n
    for test, refs in pairs:
        reflen, maxcounts = [], {}
        for ref in refs:
            rl, counts = _precook(ref, n)
            reflen.append(rl)
            for ngram, count in counts.items():
                maxcounts[ngram] = max(maxcounts.get(ngram, 0), count)
        testlen, counts = _precook(test, n)
        guess = [max(0, testlen - k + 1) for k in range(1, n + 1)]
        correct = [0] * n
        for ngram, count in counts.items():
            correct[len(ngram) - 1] += min(maxcounts.get(ngram, 0), count)
        testlen_total += testlen
        reflen_total += min((abs(length - testlen), length) for length in reflen)[1]
        guess_total = [a + b for a, b in zip(guess_total, guess, strict=True)]
        correct_total = [a + b for a, b in zip(correct_total, correct, strict=True)]
    bleus = []
    for nn in range(1, n + 1):
        value = 1.0
        for k in range(nn):
            value *= float(correct_total[k] + tiny) / (guess_total[k] + small)
        bleus.append(value ** (1.0 / nn))
        ratio = (testlen_total + tiny) / (reflen_total + small)
        if ratio < 1:
            bleus[nn - 1] *= math.exp(1 - 1 / ratio)
    return bleus


def _ref_lcs(string, sub):
    if len(string) < len(sub):
        sub, string = string, sub
    lengths = [[0 for _ in range(len(sub) + 1)] for _ in range(len(string) + 1)]
    for j in range(1, len(sub) + 1):
        for i in range(1, len(string) + 1):
            if string[i - 1] == sub[j - 1]:
                lengths[i][j] = lengths[i - 1][j - 1] + 1
            else:
                lengths[i][j] = max(lengths[i - 1][j], lengths[i][j - 1])
    return lengths[len(string)][len(sub)]


def _ref_rouge(candidate, refs, beta=1.2):
    token_c = candidate.split(" ")
    prec, rec = [], []
    for reference in refs:
        token_r = reference.split(" ")
        lcs = _ref_lcs(token_r, token_c)
        prec.append(lcs / float(len(token_c)))
        rec.append(lcs / float(len(token_r)))
    p, r = max(prec), max(rec)
    return ((1 + beta**2) * p * r) / float(r + beta**2 * p) if p != 0 and r != 0 else 0.0


def _ref_cider(pairs, n=4, sigma=6.0):
    crefs = [[_precook(r, n)[1] for r in refs] for _, refs in pairs]
    ctest = [_precook(t, n)[1] for t, _ in pairs]
    document_frequency = defaultdict(float)
    for refs in crefs:
        for ngram in {ngram for ref in refs for (ngram, count) in ref.items()}:
            document_frequency[ngram] += 1
    ref_len = np.log(float(len(crefs)))

    def counts2vec(cnts):
        vec = [defaultdict(float) for _ in range(n)]
        length = 0
        norm = [0.0 for _ in range(n)]
        for ngram, term_freq in cnts.items():
            df = np.log(max(1.0, document_frequency[ngram]))
            k = len(ngram) - 1
            vec[k][ngram] = float(term_freq) * (ref_len - df)
            norm[k] += pow(vec[k][ngram], 2)
            if k == 1:
                length += term_freq
        return vec, [np.sqrt(x) for x in norm], length

    def sim(vec_hyp, vec_ref, norm_hyp, norm_ref, length_hyp, length_ref):
        delta = float(length_hyp - length_ref)
        val = np.array([0.0 for _ in range(n)])
        for k in range(n):
            for ngram in vec_hyp[k]:
                val[k] += min(vec_hyp[k][ngram], vec_ref[k][ngram]) * vec_ref[k][ngram]
            if (norm_hyp[k] != 0) and (norm_ref[k] != 0):  # zero-norm guard of later coco-caption / pip
                val[k] /= norm_hyp[k] * norm_ref[k]
            val[k] *= np.e ** (-(delta**2) / (2 * sigma**2))
        return val

    scores = []
    for test, refs in zip(ctest, crefs, strict=True):
        vec, norm, length = counts2vec(test)
        score = np.array([0.0 for _ in range(n)])
        for ref in refs:
            vec_ref, norm_ref, length_ref = counts2vec(ref)
            score += sim(vec, vec_ref, norm, norm_ref, length, length_ref)
        scores.append(np.mean(score) / len(refs) * 10.0)
    return float(np.mean(scores)), scores


def _tokens():
    hyps = [c.split() for c, _ in CAPTIONS]
    refs = [[r.split() for r in refs] for _, refs in CAPTIONS]
    return hyps, refs


def test_bleu_matches_pycocoevalcap() -> None:
    hyps, refs = _tokens()
    corpus, per_sample = bleu(hyps, refs)
    assert corpus == pytest.approx(_ref_bleu(CAPTIONS), rel=1e-12)
    assert len(per_sample) == len(CAPTIONS)


def test_rouge_matches_pycocoevalcap() -> None:
    hyps, refs = _tokens()
    for (cand, ref_strings), h, r in zip(CAPTIONS, hyps, refs, strict=True):
        assert rouge_l(h, r) == pytest.approx(_ref_rouge(cand, ref_strings))


def test_cider_matches_pycocoevalcap() -> None:
    hyps, refs = _tokens()
    corpus, per_sample = cider_d(hyps, refs)
    ref_corpus, ref_scores = _ref_cider(CAPTIONS)
    assert corpus == pytest.approx(ref_corpus)
    assert per_sample == pytest.approx(ref_scores)


def test_identical_caption_scores_by_hand() -> None:
    words = ["a", "dog", "barks"]
    corpus, _ = bleu([words], [[words]])
    # no 4-gram in 3 words: BLEU-4 = (1 * 1 * 1 * tiny / small) ** (1 / 4)
    assert corpus == pytest.approx([1.0, 1.0, 1.0, (1e-15 / 1e-9) ** 0.25], rel=1e-6)
    assert rouge_l(words, [words]) == pytest.approx(1.0)


def test_empty_hypothesis_scores_zero() -> None:
    refs = [["a", "dog", "barks"]]
    assert rouge_l([], refs) == 0.0
    corpus, _ = bleu([[]], [refs])
    assert corpus[0] < 1e-6
    _, scores = cider_d([[], ["a", "dog", "barks"]], [refs, refs])
    assert scores[0] == 0.0


def test_tokenize_like_ptb() -> None:
    assert tokenize("A man (smiling) doesn't play the guitar... It's loud; well-known!") == [
        "a", "man", "smiling", "does", "n't", "play", "the", "guitar", "it", "'s", "loud", "well-known",
    ]  # fmt: skip

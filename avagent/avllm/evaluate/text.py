"""Text clean-up and normalisation shared by the answer parsers, the label matchers and the judge fallback.

`clean_output` removes chat-template debris from a decoded generation; `normalise` maps an answer to the
comparison form used everywhere (lowercase, no punctuation, no articles, number words as digits);
`LabelMatcher` maps free text to one label of a closed set, refusing ambiguous answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Generation stops at the first of these (Llama-2 `</s>`, Qwen `<|im_end|>`, GPT-2 / Llama-3 end tokens).
STOP_MARKERS = ("</s>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>")
# Remaining special tokens such as `<|im_start|>` or `<|box_start|>` are removed, their content kept.
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]{1,40}\|>|<s>")
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|ASSISTANT)\s*:?\s*\n?")

NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
}
_ARTICLES = {"a", "an", "the"}
_NON_WORD = re.compile(r"[^0-9a-z.]+")
_LONE_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_CLAUSE_END = re.compile(r"[,;:!?\n]|(?<![0-9])\.|\.(?![0-9])")


def clean_output(text: str) -> str:
    """Cut a decoded generation at its end-of-turn marker and drop special tokens.

    Parameters
    ----------
    text : str
        Decoded model output, possibly with chat-template tokens.

    Returns
    -------
    str
        The answer text, stripped.
    """
    text = str(text or "")
    for marker in STOP_MARKERS:
        text = text.split(marker, 1)[0]
    text = _SPECIAL_TOKEN.sub(" ", text)
    return _ROLE_PREFIX.sub("", text).strip()


def normalise(text: str) -> str:
    """Comparison form of an answer: lowercase, `_` / punctuation to spaces, no articles, numbers as digits.

    A decimal point between digits is kept (``"2.5"``); every other character that is not a letter or digit
    becomes a separator, so ``"Violin_fiddle"``, ``"violin, fiddle"`` and ``"Violin (fiddle)."`` all normalise
    to ``"violin fiddle"``.
    """
    text = _LONE_DOT.sub(" ", str(text).lower().replace("_", " "))
    words = _NON_WORD.sub(" ", text).split()
    return " ".join(NUMBER_WORDS.get(w, w) for w in words if w not in _ARTICLES)


def _contains_phrase(haystack: str, phrase: str) -> list[int]:
    """Start offsets (in words) of whole-word occurrences of `phrase` in `haystack` (both normalised)."""
    hay, needle = haystack.split(), phrase.split()
    if not needle:
        return []
    n = len(needle)
    return [i for i in range(len(hay) - n + 1) if hay[i : i + n] == needle]


@dataclass(frozen=True)
class LabelMatch:
    """Outcome of matching free text against a closed label set."""

    label: str | None  # canonical label, or None when nothing / several labels matched
    how: str  # "exact", "prefix", "unique", "none" or "ambiguous"
    candidates: tuple[str, ...] = ()  # labels found when ambiguous


@dataclass
class LabelMatcher:
    """Map free text to one canonical label through normalised aliases.

    Rules, in order: the whole text equals an alias (``exact``); its first clause (up to a comma or full stop)
    equals an alias (``prefix``); exactly one canonical label has an alias occurring as whole words
    (``unique``). Several labels found means ``ambiguous`` and no label: the answer is then unparsable, never
    guessed.
    """

    aliases: Mapping[str, str] = field(default_factory=dict)  # normalised alias -> canonical label

    @classmethod
    def from_labels(cls, labels: Iterable[str], extra: Mapping[str, Iterable[str]] | None = None) -> LabelMatcher:
        """Aliases: each label's full normalised form, its comma-separated parts, and `extra[label]`."""
        aliases: dict[str, str] = {}
        for label in labels:
            forms = [label, *re.split(r"[,/]", label), re.sub(r"\(.*?\)", "", label)]
            forms += list((extra or {}).get(label, ()))
            for form in forms:
                key = normalise(form)
                if key:
                    aliases.setdefault(key, label)
        return cls(aliases)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.aliases.values()))

    def match(self, text: str) -> LabelMatch:
        norm = normalise(text)
        if not norm:
            return LabelMatch(None, "none")
        if norm in self.aliases:
            return LabelMatch(self.aliases[norm], "exact")
        clause = normalise(_CLAUSE_END.split(str(text), maxsplit=1)[0])
        if clause in self.aliases:  # "Yes, the guitar is playing." -> "yes"
            return LabelMatch(self.aliases[clause], "prefix")
        by_length = sorted(self.aliases, key=lambda a: len(a.split()), reverse=True)
        return self._unique(norm, by_length)

    def _unique(self, norm: str, by_length: list[str]) -> LabelMatch:
        taken: set[int] = set()
        found: list[str] = []
        for alias in by_length:  # longest aliases claim their words first ("acoustic guitar" before "guitar")
            n = len(alias.split())
            for start in _contains_phrase(norm, alias):
                span = set(range(start, start + n))
                if not span & taken:
                    taken |= span
                    found.append(self.aliases[alias])
        distinct = tuple(dict.fromkeys(found))
        if len(distinct) == 1:
            return LabelMatch(distinct[0], "unique")
        return LabelMatch(None, "ambiguous" if distinct else "none", distinct)

"""Answer parsers: free text from an AV-LLM to the structured answer a metric needs.

The conventions are those of Crab and Crab+ (GeWu-Lab/Crab, GeWu-Lab/Crab_Plus), which the papers do not
state; see ../shared/notes/crab-and-crab-plus.md §1.4 and §4.3:

- QA: ``So the answer is <answer> saxophone </answer>.``, else the last "the answer is X", else "Answer: X",
  else the plain text (matched against the label set, refusing ambiguity).
- AVE: ``<event> Male speech, man speaking </event> ... <range> 0,8 </range>`` (a half-open second range
  [0, 8)), the metadata form ``event:X start_time:0 end_time:8``, or "from the 4th to the 9th second"
  (ordinals are 1-based and inclusive: segments 3..8).
- AVVP: ``<visual>Chainsaw,(0 10)</visual> and <audio>Chainsaw,(0 10)</audio>`` (also ``<visual_event>``), or
  the ground-truth style ``Audio: Chainsaw, [0,10] Visual: Chainsaw, [0,1],[3,6]``; intervals are half-open
  seconds.
- Boxes: Crab+ ``[x1,y1,x2,y2]`` followed by points ``[x,y]``; Crab "top left corner is (x1,y1) ... bottom
  right corner is (x2,y2)"; Qwen ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` (special tokens removed first).

Every parser raises `UnparsableAnswer` with a reason instead of guessing; the evaluator counts those as wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from avagent.avllm.evaluate.text import LabelMatcher, clean_output, normalise

PLAIN_ANSWER_MAX_WORDS = 12  # a plain answer longer than this must still match exactly one label
AVE_SECONDS = 10  # AVE and LLP clips are 10 one-second segments

_NUM = r"(-?\d+(?:\.\d+)?)"
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_ANSWER_OPEN = re.compile(r"<answer>\s*([^\n<]*)", re.I)
_ANSWER_IS = re.compile(r"answer\s+(?:is|would be|should be)\s*:?\s*(.+)", re.I)
_ANSWER_COLON = re.compile(r"^\s*(?:final\s+)?answer\s*:\s*(.+)$", re.I | re.M)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?!\d)|\n|;")


class UnparsableAnswer(Exception):
    """The answer does not contain what the task needs; `reason` says what is missing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AnswerSpan:
    """The part of an output that holds the answer, and which rule found it."""

    text: str
    how: str  # "answer_tag", "answer_is", "answer_colon" or "plain"


def extract_answer_span(text: str) -> AnswerSpan:
    """Locate the answer in a generation (rules in the module docstring); `UnparsableAnswer` if empty."""
    text = clean_output(text)
    if not text:
        raise UnparsableAnswer("empty output")
    tags = _ANSWER_TAG.findall(text)
    if tags and tags[-1].strip():
        return AnswerSpan(tags[-1].strip(), "answer_tag")
    opened = _ANSWER_OPEN.findall(text)
    if opened and opened[-1].strip():
        return AnswerSpan(opened[-1].strip(), "answer_tag")
    said = _ANSWER_IS.findall(text)
    if said:
        span = _SENTENCE_END.split(said[-1], maxsplit=1)[0].strip(" '\"*")
        if span:
            return AnswerSpan(span, "answer_is")
    colon = _ANSWER_COLON.findall(text)
    if colon and colon[-1].strip():
        return AnswerSpan(colon[-1].strip(), "answer_colon")
    return AnswerSpan(text, "plain")


def parse_label(text: str, matcher: LabelMatcher) -> tuple[str, str]:
    """One label of a closed set from an answer; returns ``(label, how)``.

    ``how`` joins the span rule and the match rule, e.g. ``"answer_tag/exact"``. Raises `UnparsableAnswer`
    when no label or several labels match.
    """
    span = extract_answer_span(text)
    match = matcher.match(span.text)
    if match.label is None and span.how == "plain" and len(span.text.split()) > PLAIN_ANSWER_MAX_WORDS:
        # long free text: the first sentence often carries the answer ("Yes. The violin ... cello ...")
        match = matcher.match(_SENTENCE_END.split(span.text, maxsplit=1)[0])
    if match.label is None:
        detail = f" ({', '.join(match.candidates)})" if match.candidates else ""
        raise UnparsableAnswer(f"no single label in answer: {match.how}{detail}")
    return match.label, f"{span.how}/{match.how}"


# --- multiple choice ----------------------------------------------------------------------------------------

_LETTER = re.compile(r"^(?:\(([A-Za-z])\)|([A-Z])(?:[.:)]|$))")  # "(b) ...", "B.", "B"
_OPTION_WORD = re.compile(r"\b(?:option|choice)\s*\(?([A-Za-z]|\d+)\)?", re.I)


def parse_option(text: str, options: Sequence[str]) -> tuple[int, str]:
    """Index of the chosen option among `options` (letter, "option 2", or the option's text)."""
    span = extract_answer_span(text)
    letter = _LETTER.match(span.text.strip())
    if letter:
        index = ord((letter.group(1) or letter.group(2)).upper()) - ord("A")
        if 0 <= index < len(options):
            return index, f"{span.how}/letter"
    word = _OPTION_WORD.search(span.text)
    if word:
        token = word.group(1)
        index = int(token) - 1 if token.isdigit() else ord(token.upper()) - ord("A")
        if 0 <= index < len(options):
            return index, f"{span.how}/option"
    matcher = LabelMatcher({normalise(o): str(i) for i, o in enumerate(options) if normalise(o)})
    match = matcher.match(span.text)
    if match.label is None:
        raise UnparsableAnswer(f"no single option in answer: {match.how}")
    return int(match.label), f"{span.how}/{match.how}"


_FIRST = re.compile(
    r"\b(?:first|1st|former|left)\b|\b(?:video|audio|clip|option|candidate)\s*(?:1|one|a)\b|\(a\)|^\s*(?:a|1)\W*$",
    re.I,
)
_SECOND = re.compile(
    r"\b(?:second|2nd|latter|right)\b|\b(?:video|audio|clip|option|candidate)\s*(?:2|two|b)\b|\(b\)|^\s*(?:b|2)\W*$",
    re.I,
)


def parse_pair_choice(text: str) -> tuple[int, str]:
    """1 or 2 for a two-way choice (VGG-CM: "the first video", "audio 2", "(B)"); refuses "both"."""
    span = extract_answer_span(text)
    words = span.text if span.how != "plain" else _SENTENCE_END.split(span.text, maxsplit=1)[0]
    first, second = bool(_FIRST.search(words)), bool(_SECOND.search(words))
    if first == second:
        raise UnparsableAnswer("answer names neither or both candidates")
    return (1 if first else 2), span.how


# --- temporal: AVE ------------------------------------------------------------------------------------------

_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_ORD = r"(\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
_EVENT_TAG = re.compile(r"<event>\s*(.*?)\s*</event>", re.S | re.I)
_RANGE_TAG = re.compile(rf"<range>\s*{_NUM}\s*[,\s]\s*{_NUM}\s*</range>", re.I)
_META = re.compile(rf"event\s*:\s*(.+?)\s*,?\s*start_time\s*:\s*{_NUM}\s*,?\s*end_time\s*:\s*{_NUM}", re.I)
_ORDINAL_RANGE = re.compile(rf"from\s+the\s+{_ORD}(?:\s+seconds?)?\s+(?:to|until|through)\s+the\s+{_ORD}", re.I)
_NUMBER_RANGE = re.compile(rf"from\s+(?:second\s+)?{_NUM}\s*(?:s|sec|seconds?)?\s+(?:to|until|-)\s+{_NUM}", re.I)
_WHOLE_CLIP = re.compile(r"\b(?:entire|whole|throughout|all\s+10\s+seconds|from\s+(?:the\s+)?beginning\s+to)", re.I)
_NO_EVENT = re.compile(r"\b(?:no\s+(?:audio-?visual\s+)?event|background\s+only|only\s+background)\b", re.I)


def _ordinal(token: str) -> int:
    token = token.lower()
    return _ORDINALS[token] if token in _ORDINALS else int(re.sub(r"\D", "", token))


@dataclass(frozen=True)
class AveAnswer:
    """An AVE answer: the event class and its half-open second ranges (empty: background only)."""

    event: str | None
    ranges: tuple[tuple[float, float], ...]
    how: str


def _ave_ranges(text: str) -> tuple[tuple[tuple[float, float], ...], str]:
    tags = _RANGE_TAG.findall(text)
    if tags:
        return tuple((float(a), float(b)) for a, b in tags), "range_tag"
    meta = _META.findall(text)
    if meta:
        return tuple((float(a), float(b)) for _, a, b in meta), "metadata"
    ordinal = _ORDINAL_RANGE.findall(text)
    if ordinal:
        return tuple((_ordinal(a) - 1.0, float(_ordinal(b))) for a, b in ordinal), "ordinal"
    numbers = _NUMBER_RANGE.findall(text)
    if numbers:
        return tuple((float(a), float(b)) for a, b in numbers), "numbers"
    if _WHOLE_CLIP.search(text):
        return ((0.0, float(AVE_SECONDS)),), "whole_clip"
    return (), "none"


def parse_ave(text: str, matcher: LabelMatcher) -> AveAnswer:
    """Event class and time ranges of an AVE answer (formats in the module docstring)."""
    text = clean_output(text)
    if _NO_EVENT.search(text) and not _EVENT_TAG.search(text):
        return AveAnswer(None, (), "no_event")
    tagged = _EVENT_TAG.findall(text) or [m[0] for m in _META.findall(text)]
    match = matcher.match(tagged[-1]) if tagged else matcher.match(text)
    if match.label is None:
        raise UnparsableAnswer(f"no single AVE event class: {match.how}")
    ranges, how = _ave_ranges(text)
    if not ranges:
        raise UnparsableAnswer("no time range for the event")
    return AveAnswer(match.label, ranges, f"{'tag' if tagged else 'text'}/{how}")


# --- temporal: AVVP -----------------------------------------------------------------------------------------

_MODALITY_TAG = re.compile(r"<(audio|visual)(?:_event)?>(.*?)</(?:audio|visual)(?:_event)?>", re.S | re.I)
_MODALITY_HEAD = re.compile(r"\b(audio|visual)(?:\s+events?)?\s*:", re.I)
_INTERVAL = re.compile(rf"[(\[]\s*{_NUM}\s*[,\s]\s*{_NUM}\s*[)\]]")
_LABEL_JUNK = re.compile(r"^[\s,;:.]*(?:and\s+)?|[\s,;:.]+$", re.I)


@dataclass(frozen=True)
class AvvpAnswer:
    """Per-modality events of an AVVP answer: ``(class, onset_s, offset_s)`` with half-open intervals."""

    audio: tuple[tuple[str, float, float], ...]
    visual: tuple[tuple[str, float, float], ...]
    unknown_labels: tuple[str, ...]  # names that match no LLP class; they cannot enter the 25-class matrices
    how: str


def _avvp_blocks(text: str) -> tuple[dict[str, str], str]:
    blocks: dict[str, list[str]] = {"audio": [], "visual": []}
    tags = _MODALITY_TAG.findall(text)
    how = "tags"
    if not tags:
        heads = list(_MODALITY_HEAD.finditer(text))
        ends = [h.start() for h in heads[1:]] + [len(text)]
        tags = [(h.group(1), text[h.end() : end]) for h, end in zip(heads, ends, strict=False)]
        how = "headings"
    for modality, body in tags:
        blocks[modality.lower()].append(body)
    return {k: " ; ".join(v) for k, v in blocks.items() if v}, how


def _avvp_events(body: str, matcher: LabelMatcher) -> tuple[list[tuple[str, float, float]], list[str]]:
    events: list[tuple[str, float, float]] = []
    unknown: list[str] = []
    label: str | None = None
    cursor = 0
    for interval in _INTERVAL.finditer(body):
        name = _LABEL_JUNK.sub("", body[cursor : interval.start()])
        if name:
            match = matcher.match(name)
            label = match.label
            if label is None:
                unknown.append(name)
        if label is not None:
            events.append((label, float(interval.group(1)), float(interval.group(2))))
        cursor = interval.end()
    return events, unknown


def parse_avvp(text: str, matcher: LabelMatcher) -> AvvpAnswer:
    """Audio and visual events of an AVVP answer (formats in the module docstring)."""
    blocks, how = _avvp_blocks(clean_output(text))
    if not blocks:
        raise UnparsableAnswer("no <audio>/<visual> block and no 'Audio:'/'Visual:' heading")
    audio, unknown_a = _avvp_events(blocks.get("audio", ""), matcher)
    visual, unknown_v = _avvp_events(blocks.get("visual", ""), matcher)
    return AvvpAnswer(tuple(audio), tuple(visual), tuple(unknown_a + unknown_v), how)


# --- spatial ------------------------------------------------------------------------------------------------

_BRACKET_BOX = re.compile(rf"\[\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*\]")
_BRACKET_POINT = re.compile(rf"\[\s*{_NUM}\s*,\s*{_NUM}\s*\]")
_PAREN_POINT = re.compile(rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)")
_ABSENT = re.compile(
    r"\b(?:false|absent|not\s+(?:present|exist|visible|in\s+the)|does\s+not\s+exist|doesn't\s+exist|"
    r"no\s+such\s+object|there\s+is\s+no)\b",
    re.I,
)
_PRESENT = re.compile(r"\b(?:true|exists|is\s+present)\b", re.I)


@dataclass(frozen=True)
class BoxPoints:
    """A box ``(x1, y1, x2, y2)`` and points ``(x, y)`` in the coordinate space of the answer."""

    box: tuple[float, float, float, float] | None
    points: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    how: str = ""


def parse_box_points(text: str) -> BoxPoints:
    """The first box and the points of an answer (Crab+ brackets, else Crab / Qwen parenthesised corners)."""
    text = clean_output(text)
    boxes = _BRACKET_BOX.findall(text)
    if boxes:
        rest = _BRACKET_BOX.sub(" ", text)
        points = tuple((float(x), float(y)) for x, y in _BRACKET_POINT.findall(rest))
        return BoxPoints(tuple(float(v) for v in boxes[0]), points, "brackets")  # type: ignore[arg-type]
    corners = _PAREN_POINT.findall(text)
    if len(corners) >= 2:
        (x1, y1), (x2, y2) = corners[0], corners[1]
        return BoxPoints((float(x1), float(y1), float(x2), float(y2)), (), "corners")
    points = tuple((float(x), float(y)) for x, y in _BRACKET_POINT.findall(text))
    if points:
        return BoxPoints(None, points, "points")
    raise UnparsableAnswer("no box: expected [x1,y1,x2,y2] or (x1,y1) ... (x2,y2)")


def parse_box(text: str) -> BoxPoints:
    """Like `parse_box_points` but requires a non-degenerate box (x1 < x2 and y1 < y2)."""
    parsed = parse_box_points(text)
    if parsed.box is None:
        raise UnparsableAnswer("points but no box")
    x1, y1, x2, y2 = parsed.box
    if not (x1 < x2 and y1 < y2):
        raise UnparsableAnswer(f"degenerate box {list(parsed.box)}")
    return parsed


def parse_presence(text: str) -> bool | None:
    """Whether the answer says the referred object exists (True), is absent (False), or does not say (None).

    Follows the Crab+ Ref-AVS instruction ("Answer with 'true' or 'false' whether the object exists ... if
    not, state that the object is absent"): the first explicit statement wins.
    """
    text = clean_output(text)
    absent, present = _ABSENT.search(text), _PRESENT.search(text)
    if absent and (not present or absent.start() < present.start()):
        return False
    return True if present else None

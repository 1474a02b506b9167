"""Answer parsers: every answer form of Crab / Crab+ (GeWu-Lab repos, notes §1.4 / §4.3) and plain answers."""

from __future__ import annotations

import pytest

from avagent.avllm.evaluate.benchmarks.temporal import AVE_ALIASES, AVE_CLASSES, LLP_ALIASES, LLP_CLASSES
from avagent.avllm.evaluate.parsing import (
    UnparsableAnswer,
    extract_answer_span,
    parse_ave,
    parse_avvp,
    parse_box,
    parse_box_points,
    parse_label,
    parse_option,
    parse_pair_choice,
    parse_presence,
)
from avagent.avllm.evaluate.text import LabelMatcher, clean_output, normalise

AVE = LabelMatcher.from_labels(AVE_CLASSES, AVE_ALIASES)
LLP = LabelMatcher.from_labels(LLP_CLASSES, LLP_ALIASES)
MUSIC = LabelMatcher.from_labels(["yes", "no", "two", "three", "saxophone", "acoustic_guitar", "guitar", "left"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "So the answer is <answer> cello </answer>.</s> garbage",
            "So the answer is <answer> cello </answer>.",
        ),
        ("<|im_start|>assistant\nyes<|im_end|>\nmore", "yes"),
        ("ASSISTANT: <s>The car.", "The car."),
        ("<|box_start|>(1,2),(3,4)<|box_end|>", "(1,2),(3,4)"),
        (None, ""),
    ],
)
def test_clean_output(raw: str | None, expected: str) -> None:
    assert clean_output(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Violin_fiddle", "violin fiddle"),
        ("Violin, fiddle.", "violin fiddle"),
        ("The answer: Three!", "answer 3"),
        ("2.5 seconds.", "2.5 seconds"),
        ("Frying_(food)", "frying food"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "label", "how"),
    [
        ("saxophone", "saxophone", "exact"),
        ("Two.", "two", "exact"),
        ("2", "two", "exact"),
        ("Yes, the guitar is playing", "yes", "prefix"),
        ("I think it is the acoustic guitar", "acoustic_guitar", "unique"),  # longest alias claims its words
        ("the saxophone and the guitar", None, "ambiguous"),  # a tie between two labels: refused
        ("a piano", None, "none"),
        ("", None, "none"),
    ],
)
def test_label_matcher(text: str, label: str | None, how: str) -> None:
    match = MUSIC.match(text)
    assert (match.label, match.how) == (label, how)


@pytest.mark.parametrize(
    ("text", "span", "how"),
    [
        ("So the answer is <answer> saxophone </answer>.", "saxophone", "answer_tag"),
        ("<answer>first</answer> then <answer> second </answer>", "second", "answer_tag"),
        ("Reasoning... <answer> two", "two", "answer_tag"),
        ("The man plays. So the answer is saxophone. Done", "saxophone", "answer_is"),
        ("The answer is 2.5 seconds.", "2.5 seconds", "answer_is"),
        ("Thinking.\nAnswer: left\n", "left", "answer_colon"),
        ("yes", "yes", "plain"),
    ],
)
def test_extract_answer_span(text: str, span: str, how: str) -> None:
    got = extract_answer_span(text)
    assert (got.text, got.how) == (span, how)


def test_extract_answer_span_empty_is_unparsable() -> None:
    with pytest.raises(UnparsableAnswer, match="empty"):
        extract_answer_span("</s>")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("In the video ... So the answer is <answer> saxophone </answer>.", "saxophone"),
        ("Yes.", "yes"),
        ("Three people play. The answer is two.", "two"),
        ("No. " + "The video shows a saxophone and a guitar. " * 3, "no"),  # long plain text: first sentence
    ],
)
def test_parse_label(text: str, label: str) -> None:
    assert parse_label(text, MUSIC)[0] == label


@pytest.mark.parametrize("text", ["<answer> piano </answer>", "saxophone or guitar", "I am not sure."])
def test_parse_label_refuses(text: str) -> None:
    with pytest.raises(UnparsableAnswer):
        parse_label(text, MUSIC)


OPTIONS = ["Playing the piano", "Playing the violin", "Dog barking", "Car engine"]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("B", 1),
        ("(C) Dog barking", 2),
        ("The answer is option 4.", 3),
        ("<answer>Playing the violin</answer>", 1),
    ],
)
def test_parse_option(text: str, index: int) -> None:
    assert parse_option(text, OPTIONS)[0] == index


def test_parse_option_refuses_unknown() -> None:
    with pytest.raises(UnparsableAnswer):
        parse_option("A cat meowing.", OPTIONS)


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("The first video matches the audio.", 1),
        ("<answer> video 2 </answer>", 2),
        ("(B)", 2),
        ("1", 1),
        ("The sound matches the second clip, because ...", 2),
    ],
)
def test_parse_pair_choice(text: str, choice: int) -> None:
    assert parse_pair_choice(text)[0] == choice


@pytest.mark.parametrize("text", ["The first video, not the second one.", "Neither."])
def test_parse_pair_choice_refuses(text: str) -> None:
    with pytest.raises(UnparsableAnswer):
        parse_pair_choice(text)


@pytest.mark.parametrize(
    ("text", "event", "ranges"),
    [
        (
            "So the audible and visible event in the video is <event> Male speech, man speaking </event>, "
            "and the time range is <range> 0,8 </range>.",
            "Male speech, man speaking",
            ((0.0, 8.0),),
        ),
        ("event:Church bell start_time:2 end_time:7", "Church bell", ((2.0, 7.0),)),
        ("A dog barks, visible and audible from the 4th to the 9th second.", "Bark", ((3.0, 9.0),)),
        ("The violin plays from the first second to the third second.", "Violin, fiddle", ((0.0, 3.0),)),
        ("<event>Bus</event> from 2 to 5 seconds", "Bus", ((2.0, 5.0),)),
        ("<event>Goat</event> bleats throughout the video", "Goat", ((0.0, 10.0),)),
        ("<event>Cat</event> <range>0,2</range> <range>5,7</range>", "Cat", ((0.0, 2.0), (5.0, 7.0))),
        ("There is no audio-visual event in this clip.", None, ()),
    ],
)
def test_parse_ave(text: str, event: str | None, ranges: tuple) -> None:
    answer = parse_ave(text, AVE)
    assert (answer.event, answer.ranges) == (event, ranges)


@pytest.mark.parametrize(
    "text", ["<event> Piano </event> <range>0,10</range>", "<event>Bus</event> somewhere", "I don't know"]
)
def test_parse_ave_refuses(text: str) -> None:
    with pytest.raises(UnparsableAnswer):
        parse_ave(text, AVE)


def test_parse_avvp_crab_tags() -> None:
    text = (
        "A man saws wood. Therefore, visual and audio events are: <visual>Chainsaw,(0 10)</visual> and "
        "<audio>Chainsaw,(0 10); Speech,(2 4),(6 8) and Dog,(1 2)</audio>"
    )
    answer = parse_avvp(text, LLP)
    assert answer.visual == (("Chainsaw", 0.0, 10.0),)
    assert answer.audio == (
        ("Chainsaw", 0.0, 10.0),
        ("Speech", 2.0, 4.0),
        ("Speech", 6.0, 8.0),
        ("Dog", 1.0, 2.0),
    )
    assert answer.how == "tags"


def test_parse_avvp_event_tags_and_aliases() -> None:
    answer = parse_avvp("<audio_event>violin, fiddle,(0 3)</audio_event><visual_event></visual_event>", LLP)
    assert answer.audio == (("Violin_fiddle", 0.0, 3.0),)
    assert answer.visual == ()


def test_parse_avvp_ground_truth_style() -> None:
    answer = parse_avvp("Audio: Chainsaw, [0,10] Visual: Chainsaw, [0,1],[3,6],[9,10]", LLP)
    assert answer.audio == (("Chainsaw", 0.0, 10.0),)
    assert answer.visual == (("Chainsaw", 0.0, 1.0), ("Chainsaw", 3.0, 6.0), ("Chainsaw", 9.0, 10.0))
    assert answer.how == "headings"


def test_parse_avvp_unknown_label_is_recorded() -> None:
    answer = parse_avvp("<audio>Trumpet,(0 5) Dog,(5 10)</audio>", LLP)
    assert answer.audio == (("Dog", 5.0, 10.0),)
    assert answer.unknown_labels == ("Trumpet",)


def test_parse_avvp_refuses_free_text() -> None:
    with pytest.raises(UnparsableAnswer, match="no <audio>"):
        parse_avvp("A dog barks while a man speaks.", LLP)


@pytest.mark.parametrize(
    ("text", "box", "points", "how"),
    [
        (
            "The sounding object is a dog: [10,20,110,200] with points [50,60][70,80][90,100].",
            (10.0, 20.0, 110.0, 200.0),
            ((50.0, 60.0), (70.0, 80.0), (90.0, 100.0)),
            "brackets",
        ),
        (
            "The sounding object is dog. Its coordinate of top left corner is (12,30) and coordinate "
            "of bottom right corner is (100,150)",
            (12.0, 30.0, 100.0, 150.0),
            (),
            "corners",
        ),
        ("<|box_start|>(5,6),(50,60)<|box_end|>", (5.0, 6.0, 50.0, 60.0), (), "corners"),
        ("[ 1.5, 2 , 30, 40.25 ]", (1.5, 2.0, 30.0, 40.25), (), "brackets"),
        ("points [1,2][3,4][5,6]", None, ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0)), "points"),
    ],
)
def test_parse_box_points(text: str, box: tuple | None, points: tuple, how: str) -> None:
    parsed = parse_box_points(text)
    assert (parsed.box, parsed.points, parsed.how) == (box, points, how)


@pytest.mark.parametrize("text", ["no box here", "[50,60,10,200]", "points [1,2]"])
def test_parse_box_refuses(text: str) -> None:
    with pytest.raises(UnparsableAnswer):
        parse_box(text)


@pytest.mark.parametrize(
    ("text", "present"),
    [
        ("false. The object described is absent.", False),
        ("The object does not exist in the frame.", False),
        ("true. The object is a guitar [1,2,3,4] [1,1][2,2][3,3].", True),
        ("A guitar [1,2,3,4].", None),
    ],
)
def test_parse_presence(text: str, present: bool | None) -> None:
    assert parse_presence(text) is present

"""Every registered task end to end: official annotation formats in, metrics and per-sample records out.

Metric values are computed by hand here (the kernels themselves are checked against the references in the
``test_metrics_*`` modules); these tests check reading, parsing, unparsable / missing accounting and wiring.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avagent.avllm.evaluate import TASKS, EvalOptions, evaluate, get_task, load_results, save_results
from avagent.avllm.evaluate.errors import GroundTruthError, PredictionsError, UnknownTaskError
from avagent.avllm.evaluate.masks import rle_encode, voc_palette
from avagent.avllm.evaluate.metrics.temporal import avvp_video_scores


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _png(path: Path, mask: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return str(path)


def test_registry_lists_every_issue_task() -> None:
    expected = {"ave", "avvp", "music_avqa", "avqa", "arig", "s4", "ms3", "avss", "refavs", "refavs_null", "vggcm",
                "ks", "ucf", "cremad", "dfew", "mafw", "meld", "avcap", "openqa"}  # fmt: skip
    assert expected <= set(TASKS)
    for task in TASKS.values():
        assert task.metric_spec(task.primary) is not None, task.name
    with pytest.raises(UnknownTaskError, match="choose one of"):
        get_task("nope")


def test_ave_official_format(tmp_path: Path) -> None:
    gt = tmp_path / "testSet.txt"
    gt.write_text(
        "Category&VideoID&Quality&StartTime&EndTime\n"
        "Church bell&RUhOCu3LNXM&good&0&10\nBark&dog1&good&0&3\nBark&dog1&good&6&8\nBus&bus1&good&2&5\n"
        "Cat&cat1&good&0&10\n",
        encoding="utf-8",
    )
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "RUhOCu3LNXM", "predict": "... is <event> Church bell </event>, time range <range> 0,10 </range>.</s>"},
        {"id": "dog1", "predict": "<event>Bark</event> <range>0,3</range>"},  # misses [6, 8): 8 / 10 right
        {"id": "bus1", "predict": "I cannot tell."},  # unparsable: 0 / 10
        {"id": "ghost", "predict": "<event>Bus</event> <range>0,1</range>"},  # not in the ground truth
    ])  # fmt: skip
    result = evaluate("ave", preds, gt, model="crab")
    assert result.metrics["segment_accuracy"] == pytest.approx((1.0 + 0.8 + 0.0 + 0.0) / 4)
    assert result.metrics_parsed_only["segment_accuracy"] == pytest.approx(0.9)
    assert (result.n_unparsable, result.n_missing, result.n_extra_predictions) == (1, 1, 1)
    assert result.unparsable_rate == pytest.approx(0.5)
    statuses = {s.id: s.status for s in result.samples}
    assert statuses == {"RUhOCu3LNXM": "ok", "dog1": "ok", "bus1": "unparsable", "cat1": "missing"}
    assert {f.id for f in result.failure_examples} == {"bus1", "cat1"}


def test_avvp_official_csvs(tmp_path: Path) -> None:
    (tmp_path / "AVVP_eval_audio.csv").write_text(
        "filename\tonset\toffset\tevent_labels\nv1\t0\t10\tChainsaw\nv1\t2\t4\tSpeech\nv2\t0\t5\tDog\n",
        encoding="utf-8",
    )
    (tmp_path / "AVVP_eval_visual.csv").write_text(
        "filename\tonset\toffset\tevent_labels\nv1\t0\t10\tChainsaw\n", encoding="utf-8"
    )
    (tmp_path / "AVVP_test_pd.csv").write_text("filename\tevent_labels\nv1\tx\nv2\tx\nv3\tx\n", encoding="utf-8")
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "v1", "predict": "<visual>Chainsaw,(0 10)</visual> and <audio>Chainsaw,(0 10) Speech,(2 5)</audio>"},
        {"id": "v2", "predict": "A dog barks."},  # unparsable
        {"id": "v3", "predict": "<visual></visual><audio></audio>"},  # no events, none in the ground truth
    ])  # fmt: skip
    result = evaluate("avvp", preds, tmp_path)
    gt_a = np.zeros((25, 10))
    gt_a[8, 0:10], gt_a[0, 2:4] = 1, 1
    gt_v = np.zeros((25, 10))
    gt_v[8, :] = 1
    so_a = gt_a.copy()
    so_a[0, 4] = 1
    v1 = avvp_video_scores(so_a, gt_v, gt_a, gt_v)
    assert v1["segment_audio"] == pytest.approx((1.0 + 4 / 5) / 2)  # Speech: TP 2, FP 1 -> 4 / 5
    assert result.metrics["segment_audio_f1"] == pytest.approx((v1["segment_audio"] + 0.0 + 1.0) / 3)
    assert result.metrics["event_visual_f1"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert result.samples[1].scores["segment_audio"] == 0.0
    assert set(result.metrics) >= {"segment_type_at_av", "segment_event_at_av", "event_type_at_av"}


def test_music_avqa_official_json(tmp_path: Path) -> None:
    gt = tmp_path / "avqa-test.json"
    gt.write_text(json.dumps([
        {"video_id": "1", "question_id": 10, "type": "[\"Audio\", \"Counting\"]", "anser": "two",
         "question_content": "How many <Object> are sounding?", "templ_values": "[\"violins\"]"},
        {"video_id": "1", "question_id": 11, "type": "[\"Visual\", \"Location\"]", "anser": "left"},
        {"video_id": "2", "question_id": 12, "type": "[\"Audio-Visual\", \"Existential\"]", "anser": "yes"},
        {"video_id": "2", "question_id": 13, "type": "[\"Audio\", \"Comparative\"]", "anser": "no"},
    ]), encoding="utf-8")  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"question_id": 10, "predict": "So the answer is <answer> 2 </answer>."},
        {"question_id": 11, "predict": "<answer> right </answer>"},  # "right" is no answer of the set
        {"question_id": 12, "predict": "Yes, both instruments play."},
        {"question_id": 13, "predict": "yes"},
    ])  # fmt: skip
    result = evaluate("music_avqa", preds, gt)
    assert result.metrics["accuracy"] == pytest.approx(0.5)
    assert result.metrics["acc_audio"] == pytest.approx(0.5)
    assert result.metrics["acc_audio_counting"] == 1.0 and result.metrics["acc_visual"] == 0.0
    assert result.metrics["acc_audio_visual"] == 1.0
    assert result.n_unparsable == 1  # "right" matches no label of the vocabulary
    assert result.samples[0].reference["question"] == "How many violins are sounding?"
    opts = EvalOptions(labels=("right",))
    assert evaluate("music_avqa", preds, gt, options=opts).n_unparsable == 0


def test_avqa_multiple_choice(tmp_path: Path) -> None:
    gt = tmp_path / "val_qa.json"
    gt.write_text(json.dumps([
        {"id": 1, "video_name": "a", "question_text": "What makes the sound?", "multi_choice": ["dog", "cat",
         "car", "man"], "answer": 2, "question_type": "Which", "question_relation": "Both"},
        {"id": 2, "video_name": "b", "question_text": "Where?", "multi_choice": ["park", "road", "home",
         "shop"], "answer": 0, "question_type": "Where", "question_relation": "View"},
    ]), encoding="utf-8")  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": 1, "predict": "C"}, {"id": 2, "predict": "The answer is road."}])
    result = evaluate("avqa", preds, gt)
    assert result.metrics == pytest.approx(
        {"accuracy": 0.5, "acc_type_which": 1.0, "acc_relation_both": 1.0, "acc_type_where": 0.0,
         "acc_relation_view": 0.0}
    )  # fmt: skip


def test_arig_boxes_in_crab_and_crabplus_forms(tmp_path: Path) -> None:
    gt = _jsonl(tmp_path / "gt.jsonl", [
        {"id": "a", "box": [0, 0, 112, 112]},
        {"id": "b", "box": [0, 0, 112, 112]},
        {"id": "c", "box": [10, 10, 50, 50]},
    ])  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "a", "predict": "The sounding object is dog. [0,0,112,112] [5,5][6,6][7,7]"},
        {"id": "b", "predict": "top left corner is (0,0) and ... bottom right corner is (1,1)",
         "image_size": [2, 2]},  # rescaled to 224: the same box
        {"id": "c", "predict": "somewhere on the left"},
    ])  # fmt: skip
    result = evaluate("arig", preds, gt)
    assert result.metrics["box_iou_mean"] == pytest.approx(2 / 3)
    assert result.metrics["consensus_iou_ap50"] == pytest.approx(2 / 3)
    # success rate 1 at t = 0, then 2/3 up to t = 1 (IoU 1.0 >= 1.0): trapezoid by hand
    assert result.metrics["box_iou_auc"] == pytest.approx(0.05 * (1 + 2 / 3) / 2 + 0.95 * 2 / 3)
    assert result.samples[2].status == "unparsable" and result.samples[2].scores["box_iou"] == 0.0


def _mask(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[box[1] : box[3], box[0] : box[2]] = True
    return m


def test_s4_mask_tree_with_rle_png_absent_and_unparsable(tmp_path: Path) -> None:
    shape = (224, 224)
    gt_root = tmp_path / "gt_masks" / "test" / "dog"
    for vid in ("v1", "v2", "v3", "v4"):
        for k in (1, 2):
            _png(gt_root / vid / f"{vid}_{k}.png", _mask(shape, (0, 0, 100, 100)) if vid != "v3" else np.zeros(shape))
    perfect = _mask(shape, (0, 0, 100, 100))
    half = _mask(shape, (0, 0, 50, 100))
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "v1", "masks": [rle_encode(perfect), _png(tmp_path / "pred" / "v1_2.png", perfect)]},
        {"id": "v2", "masks": [rle_encode(half), rle_encode(half)]},
        {"id": "v3", "predict": "false. The sounding object is absent."},  # empty GT, empty prediction
        {"id": "v4", "predict": "The dog [0,0,100,100] [1,1][2,2][3,3]"},  # no mask, no SAM2 here
    ])  # fmt: skip
    result = evaluate("s4", preds, tmp_path / "gt_masks")
    f_half = 1.3 * 1.0 * 0.5 / (0.3 * 1.0 + 0.5)
    assert result.metrics["jaccard"] == pytest.approx((1.0 + 0.5 + 1.0 + 0.0) / 4, abs=1e-6)
    assert result.metrics["fmeasure"] == pytest.approx((1.0 + f_half + 0.0 + 0.0) / 4, abs=1e-6)
    assert result.metrics["jaccard_per_frame"] == pytest.approx((1.0 + 0.5 + 1.0 + 0.0) / 4, abs=1e-6)
    assert result.metrics_parsed_only["jaccard"] == pytest.approx(2.5 / 3, abs=1e-6)
    assert result.samples[3].reason == "no predicted mask and no statement that the object is absent"
    boxed = evaluate("s4", preds, tmp_path / "gt_masks", options=EvalOptions(mask_from_box=True))
    assert boxed.samples[3].scores["jaccard"] == pytest.approx(1.0, abs=1e-6)


def test_mask_folder_as_predictions_and_frame_count_mismatch(tmp_path: Path) -> None:
    mask = _mask((32, 32), (0, 0, 16, 16))
    for k in range(3):
        _png(tmp_path / "gt" / "v1" / f"{k}.png", mask)
        _png(tmp_path / "pred" / "v1" / f"{k}.png", mask)
    result = evaluate("ms3", tmp_path / "pred", tmp_path / "gt", options=EvalOptions(mask_size=None))
    assert result.metrics["jaccard"] == pytest.approx(1.0, abs=1e-6)
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "v1", "mask": rle_encode(mask)}])
    result = evaluate("ms3", preds, tmp_path / "gt")
    assert result.samples[0].reason == "1 predicted masks for 3 frames"


def test_refavs_groups_and_null_set(tmp_path: Path) -> None:
    mask = _mask((16, 16), (0, 0, 8, 8))
    gt = _jsonl(tmp_path / "gt.jsonl", [
        {"id": "s1", "masks": [rle_encode(mask)], "group": "seen"},
        {"id": "u1", "masks": [rle_encode(mask)], "group": "unseen"},
    ])  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "s1", "masks": [rle_encode(mask)]}, {"id": "u1", "predict": "?"}])
    result = evaluate("refavs", preds, gt)
    assert result.metrics["jaccard_seen"] == pytest.approx(1.0, abs=1e-6) and result.metrics["jaccard_unseen"] == 0
    null_gt = _jsonl(tmp_path / "null.jsonl", [{"id": "n1", "frames": 2}, {"id": "n2", "frames": 1},
                                               {"id": "n3", "frames": 1}])  # fmt: skip
    quarter = _mask((224, 224), (0, 0, 112, 112))
    null_preds = _jsonl(tmp_path / "np.jsonl", [
        {"id": "n1", "predict": "false. The object described is absent."},
        {"id": "n2", "masks": [rle_encode(quarter)]},
        {"id": "n3", "predict": "The guitar is on the left."},
    ])  # fmt: skip
    null = evaluate("refavs_null", null_preds, null_gt)
    assert null.metrics["null_s"] == pytest.approx((0.0 + 0.5 + 1.0) / 3)
    assert null.higher_is_better["null_s"] is False


def test_avss_label_maps(tmp_path: Path) -> None:
    labels = np.zeros((8, 8), dtype=np.uint8)
    labels[:4, :4] = 3
    palette = voc_palette()
    Image.fromarray(palette[labels]).save(tmp_path / "gt.png")
    Image.fromarray(palette[labels]).save(tmp_path / "pred.png")
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "a", "masks": ["gt.png"]}, {"id": "b", "masks": ["gt.png"]}])
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "masks": ["pred.png"]}, {"id": "b", "predict": "a dog"}])
    result = evaluate("avss", preds, gt, options=EvalOptions(avss_classes=4))
    # classes 0 and 3: IoU 1 on frame a, 0 on frame b (unparsable), counted in both -> 0.5; 1 and 2 never -> 0
    assert result.metrics["miou"] == pytest.approx((0.5 + 0 + 0 + 0.5) / 4)
    assert result.metrics_parsed_only["miou"] == pytest.approx(0.5)


def test_recognition_tasks(tmp_path: Path) -> None:
    gt = tmp_path / "test_sent_emo.csv"
    gt.write_text(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID\n"
        "1,hi,A,joy,positive,0,0\n2,no,B,anger,negative,0,1\n3,ok,A,neutral,neutral,1,0\n"
        "4,hm,B,neutral,neutral,1,1\n",
        encoding="utf-8",
    )
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "dia0_utt0", "predict": "The emotion is <answer> happiness </answer>"},  # "joy" via word forms
        {"id": "dia0_utt1", "predict": "angry"},
        {"id": "dia1_utt0", "predict": "neutral"},
        {"id": "dia1_utt1", "predict": "The speaker sounds sarcastic."},
    ])  # fmt: skip
    meld = evaluate("meld", preds, gt)
    assert meld.metrics["accuracy"] == pytest.approx(0.75)
    # joy F1 1 (w .25), anger 1 (w .25), neutral: TP 1, FN 1 -> 2/3 (w .5)
    assert meld.metrics["weighted_f1"] == pytest.approx(0.25 + 0.25 + 0.5 * 2 / 3)
    dfew = evaluate("dfew", preds, gt)
    assert dfew.metrics == pytest.approx({"war": 0.75, "uar": (1 + 1 + 0.5) / 3})
    ks_gt = _jsonl(tmp_path / "ks.jsonl", [{"id": 1, "label": "playing guitar"}, {"id": 2, "label": "dog barking"}])
    ks_preds = _jsonl(tmp_path / "ksp.jsonl", [{"id": 1, "predict": "<answer>playing guitar</answer>"},
                                                {"id": 2, "predict": "playing guitar"}])  # fmt: skip
    assert evaluate("ks", ks_preds, ks_gt).metrics == {"accuracy": 0.5}


def test_vggcm_directions(tmp_path: Path) -> None:
    gt = _jsonl(tmp_path / "gt.jsonl", [
        {"id": "1", "direction": "a2v", "answer": 1}, {"id": "2", "direction": "a2v", "answer": "second"},
        {"id": "3", "direction": "v2a", "answer": 2},
    ])  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [
        {"id": "1", "predict": "The first video matches."}, {"id": "2", "predict": "video 1"},
        {"id": "3", "predict": "<answer> audio 2 </answer>"},
    ])  # fmt: skip
    result = evaluate("vggcm", preds, gt)
    assert result.metrics == pytest.approx({"accuracy": 2 / 3, "accuracy_a2v": 0.5, "accuracy_v2a": 1.0})


def test_avcap_coco_annotations(tmp_path: Path) -> None:
    gt = tmp_path / "captions.json"
    gt.write_text(json.dumps({"annotations": [
        {"image_id": "a", "caption": "A dog barks at a cat."},
        {"image_id": "a", "caption": "A dog is barking."},
        {"image_id": "b", "caption": "A man plays guitar."},
    ]}), encoding="utf-8")  # fmt: skip
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "predict": "A dog barks at a cat."}, {"id": "b", "predict": ""}])
    result = evaluate("avcap", preds, gt)
    assert result.n_unparsable == 1
    assert result.samples[0].scores["rouge_l"] == pytest.approx(1.0)
    assert result.metrics["cider_d"] > 0  # (CIDEr's idf needs more than one sample: parsed-only is 0 here)
    assert result.metrics["bleu_1"] < result.metrics_parsed_only["bleu_1"] == pytest.approx(1.0)


def test_results_json_round_trip(tmp_path: Path) -> None:
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "1", "label": "cat"}])
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "1", "predict": "cat"}])
    result = evaluate("ucf", preds, gt, model="m", variant="white_noise")
    save_results(result, tmp_path / "out" / "r.json")
    loaded = load_results(tmp_path / "out" / "r.json")
    assert loaded == result
    assert "top-1" in loaded.metric_definitions["accuracy"]


@pytest.mark.parametrize(
    ("task", "gt_text", "error"),
    [
        ("ave", "Church bell&x&good\n", GroundTruthError),
        ("ave", "Trumpet&x&good&0&10\n", GroundTruthError),
        ("arig", '{"id": "a", "box": [5, 5, 1, 1]}\n', GroundTruthError),
        ("ks", '{"id": "a"}\n', GroundTruthError),
    ],
)
def test_bad_ground_truth_is_one_clear_error(tmp_path: Path, task: str, gt_text: str, error: type) -> None:
    suffix = ".txt" if task == "ave" else ".jsonl"
    gt = tmp_path / f"gt{suffix}"
    gt.write_text(gt_text, encoding="utf-8")
    preds = _jsonl(tmp_path / "p.jsonl", [{"id": "a", "predict": "x"}])
    with pytest.raises(error):
        evaluate(task, preds, gt)


def test_bad_predictions(tmp_path: Path) -> None:
    gt = _jsonl(tmp_path / "gt.jsonl", [{"id": "1", "label": "cat"}])
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": 1, "predict": "cat"}\n{"id": 1, "predict": "dog"}\n', encoding="utf-8")
    with pytest.raises(PredictionsError, match="duplicate"):
        evaluate("ks", bad, gt)
    with pytest.raises(PredictionsError, match="not found"):
        evaluate("ks", tmp_path / "missing.jsonl", gt)


@pytest.mark.parametrize(("task", "gt_record", "primary_value"), [
    ("ks", {"id": "1", "label": "cat"}, 0.0),
    ("arig", {"id": "1", "box": [0, 0, 10, 10]}, 0.0),
    ("refavs_null", {"id": "1", "frames": 2}, 1.0),  # lower is better: the worst value
    ("openqa", {"id": "1", "question": "q", "answer": "a"}, 0.0),
])  # fmt: skip
def test_empty_predictions_file_counts_everything_wrong(
    tmp_path: Path, task: str, gt_record: dict, primary_value: float
) -> None:
    gt = _jsonl(tmp_path / "gt.jsonl", [gt_record])
    preds = tmp_path / "empty.jsonl"
    preds.write_text("", encoding="utf-8")
    result = evaluate(task, preds, gt)
    assert result.n_missing == 1 and result.unparsable_rate == 1.0
    assert result.metrics[result.primary_metric] == primary_value
    assert result.metrics_parsed_only == {}  # nothing parsed: no parsed-only numbers that could look perfect

"""Metric kernels by family; pure functions on numbers and arrays, no parsing and no file I/O."""

from avagent.avllm.evaluate.metrics.captioning import bleu, cider_d, rouge_l, tokenize
from avagent.avllm.evaluate.metrics.classification import accuracy, grouped_accuracy, war_uar, weighted_f1
from avagent.avllm.evaluate.metrics.localisation import box_iou, consensus_iou, success_auc, success_rate
from avagent.avllm.evaluate.metrics.segmentation import (
    AvssAccumulator,
    avsbench_fmeasure,
    avsbench_frame_iou,
    crabplus_frame_jf,
    refavs_null_s,
)
from avagent.avllm.evaluate.metrics.temporal import ave_segment_accuracy, avvp_summary, avvp_video_scores

__all__ = [
    "AvssAccumulator",
    "accuracy",
    "ave_segment_accuracy",
    "avsbench_fmeasure",
    "avsbench_frame_iou",
    "avvp_summary",
    "avvp_video_scores",
    "bleu",
    "box_iou",
    "cider_d",
    "consensus_iou",
    "crabplus_frame_jf",
    "grouped_accuracy",
    "refavs_null_s",
    "rouge_l",
    "success_auc",
    "success_rate",
    "tokenize",
    "war_uar",
    "weighted_f1",
]

"""Errors of the AV-LLM evaluator.

Each is an `AvagentError`, so the CLI prints one line and exits with the class's code. Answers that cannot be
parsed are *not* errors: they are scored as wrong and reported (see `parsing.UnparsableAnswer`).
"""

from __future__ import annotations

from avagent.core.errors import AvagentError, BackendUnavailableError, MediaError, ParameterError


class EvaluationError(AvagentError):
    """An input of the evaluator (annotations, predictions, results) cannot be used."""

    exit_code = 2
    http_status = 422
    code = "evaluation_error"


class UnknownTaskError(ParameterError):
    code = "unknown_task"


class GroundTruthError(EvaluationError):
    """The annotation file is missing, in an unknown format, or inconsistent."""

    code = "bad_ground_truth"


class PredictionsError(EvaluationError):
    """The predictions file is missing or malformed (not: an answer that cannot be parsed)."""

    code = "bad_predictions"


class ResultsError(EvaluationError):
    """A results JSON cannot be read back (for `compare`)."""

    code = "bad_results"


class JudgeUnavailableError(BackendUnavailableError):
    """The judge model cannot be loaded here."""

    code = "judge_unavailable"


class ProbeError(MediaError):
    """A probe variant cannot be built (manifest or media problem)."""

    code = "probe_error"

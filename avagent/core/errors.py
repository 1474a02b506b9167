"""Typed errors shared by every layer.

Each error carries a one-line message, the CLI exit code and the HTTP status it maps to, so the CLI and the
service turn any of them into a clear answer without a traceback. Library code raises these; only the CLI and the
service translate them.
"""

from __future__ import annotations


class AvagentError(Exception):
    """Base class: a problem the user can act on, reported in one line."""

    exit_code: int = 1
    http_status: int = 400
    code: str = "error"

    def __init__(self, message: str) -> None:
        # Keep messages to one line: they go to stderr, to JSON error bodies and to job records.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


# --- media input ---------------------------------------------------------------------------------------------------


class MediaError(AvagentError):
    """The input file cannot be used as media."""

    exit_code = 3
    http_status = 422
    code = "media_error"


class NotMediaError(MediaError):
    code = "not_media"
    http_status = 415


class CorruptMediaError(MediaError):
    code = "corrupt_media"


class NoAudioStreamError(MediaError):
    code = "no_audio_stream"


class NoVideoStreamError(MediaError):
    code = "no_video_stream"


class EmptyMediaError(MediaError):
    code = "empty_media"


class MediaTooLongError(MediaError):
    code = "media_too_long"
    http_status = 413


class MediaTooLargeError(MediaError):
    """File size or frame dimensions above the configured limits."""

    code = "media_too_large"
    http_status = 413


class DecodeTimeoutError(MediaError):
    code = "decode_timeout"
    http_status = 422


class MediaNotFoundError(MediaError):
    """The input path does not exist (a directory or a special file is a `NotMediaError`)."""

    code = "media_not_found"
    http_status = 404


class MediaPermissionError(MediaError):
    """The input path exists but this process may not read it."""

    code = "media_permission_denied"
    http_status = 403


class MediaWriteError(AvagentError):
    exit_code = 4
    http_status = 500
    code = "media_write_error"


# --- parameters and plans ------------------------------------------------------------------------------------------


class ParameterError(AvagentError):
    """An action or option parameter outside its documented range; the message names it and the range."""

    exit_code = 2
    http_status = 422
    code = "invalid_parameter"


class UnknownActionError(ParameterError):
    code = "unknown_action"


class ConfigError(AvagentError):
    exit_code = 2
    http_status = 500
    code = "config_error"


class BackendUnavailableError(AvagentError):
    """A configured model backend cannot be loaded here (missing package, weights or device)."""

    exit_code = 5
    http_status = 503
    code = "backend_unavailable"

"""Audio describer: one caption sentence plus the structured facts the planner and the scorer use.

Interface: `describe(audio, sr)` on any `AudioDescriber`, audio `(channels, samples)` or `(samples,)`, float,
full scale 1.0. Backends come from `get_audio_describer(name, ...)`:

- "offline" (default, `OfflineAudioDescriber`): AudioSet tags from YAMNet (`yamnet.py`), speech activity from
  Silero VAD (`vad.py`) and DSP diagnostics (`audio_diagnostics.py`); the caption is assembled from these, e.g.
  "speech (80% of the clip), dog; broadband pink-like noise at about 4 dB SNR; one 0.40 s dropout at 3.10 s".
- "qwen2-audio" (`avagent.tools.qwen_audio.Qwen2AudioDescriber`): the same analysis, with the content part of
  the caption written by Qwen2-Audio-Instruct through transformers.

Noise verdict. The DSP estimate measures the stationary part of a clip; whether that part is noise is partly a
semantic question, so `noise_verdict` lets the tags settle what the DSP cannot, for non-speech content without
noise tags only: a "hum" or "tonal" component away from mains frequencies is a sustained musical or signal tone
(the clip is reclassified without it), and an estimate of at least CONTENT_NOISE_SNR_DB is the floor of music or
effects, not added noise ("none"). `snr_reliable` says whether the SNR number should be trusted: False for clips
too short to measure and for the overridden cases.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from avagent.core.errors import ParameterError
from avagent.core.signal import check_audio, check_sample_rate
from avagent.tools import audio_diagnostics as dsp
from avagent.tools import vad as vad_lib
from avagent.tools import yamnet as yamnet_lib

OFFLINE_BACKEND = "offline"
QWEN_BACKEND = "qwen2-audio"
OFFLINE_MODEL_VERSION = f"{yamnet_lib.MODEL_VERSION}; {vad_lib.MODEL_VERSION}; avagent DSP diagnostics 1"
SPEECH_LABEL = "Speech"
SPEECH_TAG_SPEECHY = 0.3  # a mean Speech tag score above this makes the clip speech content
SPEECH_RATIO_SPEECHY = 0.2  # ... as does this VAD share with a Speech tag of at least NOISE_TAG_MIN_SCORE
NOISE_TAG_MIN_SCORE = 0.1  # a noise-family tag at or above this supports a noise verdict
CAPTION_SPEECH_RATIO = 0.3  # VAD share that puts "speech" in the caption even when YAMNet does not tag it
CONTENT_NOISE_SNR_DB = 20.0  # non-speech content without noise tags: a floor this far down is not noise
MAINS_HZ = (50.0, 60.0, 100.0, 120.0)  # mains hum and its rectified second harmonic
MAINS_TOLERANCE_HZ = 2.0
CLIPPING_CAPTION_RATIO = 1e-3  # clipping is mentioned from 0.1 % of samples
QUIET_LUFS = -40.0  # quieter is mentioned
LOUD_LUFS = -8.0  # louder is mentioned
SILENT_DBFS = -70.0  # an RMS below this with no tags reads "near silence"
# AudioSet labels that name background noise rather than content (the YAMNet class map's display names).
NOISE_LABELS = frozenset(
    {
        "Noise",
        "White noise",
        "Pink noise",
        "Static",
        "Hum",
        "Mains hum",
        "Buzz",
        "Hiss",
        "Environmental noise",
        "Rumble",
        "Wind noise (microphone)",
        "Wind",
        "Rain",
        "Rain on surface",
        "Waterfall",
        "Stream",
        "Traffic noise, roadway noise",
        "Air conditioning",
        "Mechanical fan",
        "Hubbub, speech noise, speech babble",
        "Crowd",
        "Chatter",
        "Cacophony",
        "Distortion",
        "Vehicle",
        "Engine",
        "Idling",
    }
)
CAPTION_SKIP_LABELS = frozenset(
    {"Silence", "Inside, small room", "Inside, large room or hall", "Outside, urban or manmade"}
)


@dataclass(frozen=True)
class AudioDescriberOptions:
    """Options of the offline analysis (the model backends share them)."""

    top_k_tags: int = field(default=5, metadata={"help": "AudioSet tags reported (mean score over patches)"})
    min_tag_score: float = field(default=0.05, metadata={"help": "tags with a lower mean score are dropped"})
    caption_tags: int = field(default=3, metadata={"help": "content labels named in the caption"})
    min_caption_score: float = field(default=0.15, metadata={"help": "lowest tag score named in the caption"})
    vad_threshold: float = field(default=0.5, metadata={"help": "speech probability that opens a segment"})
    timeline: bool = field(default=True, metadata={"help": "report the per-patch (0.48 s) top label"})

    def __post_init__(self) -> None:
        for name in ("top_k_tags", "caption_tags"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("min_tag_score", "min_caption_score", "vad_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 < value < 1.0):
                raise ParameterError(f"{name} must be in (0, 1), got {value!r}")


@dataclass(frozen=True, eq=False)
class AudioDescription:
    """What the audio holds: a caption and the facts it was written from (times s, levels dB)."""

    caption: str  # one sentence
    facts: str  # the DSP part of the caption (noise, defects), whatever wrote the content part
    tags: list[tuple[str, float]]  # AudioSet (label, mean score over 0.96 s patches), best first
    tag_timeline: list[tuple[float, str, float]]  # (patch start s, top label, score), every 0.48 s
    speech_segments: list[tuple[float, float]]  # (start s, end s)
    speech_ratio: float  # share of the clip inside speech segments
    snr_db: float | None  # global SNR estimate; None when the clip is too short to measure
    snr_reliable: bool  # False: too short, or the "noise" is the content's own floor (module docstring)
    noise_type: str  # none | broadband | hum | low_frequency_rumble | non_stationary | tonal | unknown
    noise_color: str | None  # broadband: white | pink | brown
    hum_hz: float | None  # hum fundamental when one was found (also when hum is not the main noise)
    loudness_lufs: float | None  # BS.1770 integrated; None under 0.4 s or silent
    peak_dbfs: float
    rms_dbfs: float
    clipping_ratio: float  # share of samples on clipped plateaus
    blanks: list[tuple[float, float]]  # (start s, duration s) of digital silence >= 20 ms inside the clip
    onset_rate_hz: float  # onsets per second
    duration_s: float
    sample_rate: int
    channels: int
    backend: str
    model_version: str
    diagnostics: dsp.AudioDiagnostics  # every DSP measurement, including the features behind noise_type
    timings_s: dict[str, float] = field(default_factory=dict)  # wall time per stage
    model_text: str | None = None  # a model backend's raw answer (None for "offline")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: tuples become lists, the diagnostics a nested dict."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "diagnostics"}
        out["tags"] = [[label, score] for label, score in self.tags]
        out["tag_timeline"] = [list(item) for item in self.tag_timeline]
        out["speech_segments"] = [list(seg) for seg in self.speech_segments]
        out["blanks"] = [list(b) for b in self.blanks]
        out["diagnostics"] = _jsonable(asdict(self.diagnostics))
        out["timings_s"] = {k: round(v, 4) for k, v in self.timings_s.items()}
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class AudioDescriber(Protocol):
    """What every backend offers."""

    name: str
    options: AudioDescriberOptions

    def describe(self, audio: np.ndarray, sr: int) -> AudioDescription: ...

    def describe_clip(self, clip: Any) -> AudioDescription: ...


@dataclass(frozen=True)
class Analysis:
    """The offline measurements of one clip, before any caption is written."""

    tags: yamnet_lib.TagResult
    speech: vad_lib.SpeechActivity
    diagnostics: dsp.AudioDiagnostics
    timings_s: dict[str, float]


class OfflineAudioDescriber:
    """The offline default: YAMNet tags, Silero speech activity, DSP diagnostics and a templated caption."""

    name = OFFLINE_BACKEND
    model_version = OFFLINE_MODEL_VERSION

    def __init__(self, options: AudioDescriberOptions | None = None, **overrides: Any) -> None:
        options = options or AudioDescriberOptions()
        self.options = replace(options, **overrides) if overrides else options

    def describe(self, audio: np.ndarray, sr: int) -> AudioDescription:
        """Describe `audio`, shape (channels, samples) or (samples,), at `sr` Hz."""
        started = time.perf_counter()
        analysis = self.analyse(audio, sr)
        content = content_phrase(analysis, self.options)
        return assemble(
            analysis,
            content,
            self.options,
            backend=self.name,
            model_version=self.model_version,
            started=started,
        )

    def describe_clip(self, clip: Any) -> AudioDescription:
        """Describe the audio stream of an `avagent.core.media.Clip`."""
        if getattr(clip, "audio", None) is None:
            raise ParameterError("the clip has no audio stream to describe")
        return self.describe(clip.audio, clip.sample_rate)

    def analyse(self, audio: np.ndarray, sr: int) -> Analysis:
        """Tags, speech activity and diagnostics (what model backends reuse)."""
        sr = check_sample_rate(sr)
        x = check_audio(audio).astype(np.float32)
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        mono16k = yamnet_lib.to_mono_16k(x, sr)
        timings["resample"] = time.perf_counter() - tick
        tick = time.perf_counter()
        tags = yamnet_lib.load_yamnet().tag(
            mono16k,
            yamnet_lib.SAMPLE_RATE,
            top_k=self.options.top_k_tags,
            min_score=self.options.min_tag_score,
        )
        timings["tags"] = time.perf_counter() - tick
        tick = time.perf_counter()
        speech = vad_lib.detect_speech(mono16k, vad_lib.SAMPLE_RATE, threshold=self.options.vad_threshold)
        timings["vad"] = time.perf_counter() - tick
        tick = time.perf_counter()
        diagnostics = dsp.diagnose(x, sr)
        timings["dsp"] = time.perf_counter() - tick
        return Analysis(tags, speech, diagnostics, timings)


# --- noise verdict ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoiseVerdict:
    noise_type: str
    color: str | None
    snr_reliable: bool


def noise_verdict(
    diagnostics: dsp.AudioDiagnostics, tags: list[tuple[str, float]] | tuple, speech_ratio: float
) -> NoiseVerdict:
    """The DSP noise type, corrected by the tags where DSP cannot tell content from noise (module docstring)."""
    kind, color = diagnostics.noise_type, diagnostics.noise_color
    if kind == "unknown" or diagnostics.snr_db is None:
        return NoiseVerdict("unknown", None, False)
    if kind == "none":
        return NoiseVerdict("none", None, True)
    scores = dict(tags)
    speech_tag = scores.get(SPEECH_LABEL, 0.0)
    speechy = speech_tag >= SPEECH_TAG_SPEECHY or (
        speech_ratio >= SPEECH_RATIO_SPEECHY and speech_tag >= NOISE_TAG_MIN_SCORE
    )
    noise_tagged = any(score >= NOISE_TAG_MIN_SCORE for label, score in tags if label in NOISE_LABELS)
    if speechy or noise_tagged:
        return NoiseVerdict(kind, color, True)
    if kind in ("hum", "tonal") and not is_mains(diagnostics.noise.hum_hz):
        kind, color = dsp.classify_noise(diagnostics.noise, ignore_hum=True)
        if kind == "tonal":
            return NoiseVerdict("none", None, False)
    if diagnostics.snr_db >= CONTENT_NOISE_SNR_DB:
        return NoiseVerdict("none", None, False)
    return NoiseVerdict(kind, color, True)


def is_mains(hz: float | None) -> bool:
    """Whether `hz` is 50/60 Hz mains or its rectified 100/120 Hz, within MAINS_TOLERANCE_HZ."""
    return hz is not None and any(abs(hz - m) <= MAINS_TOLERANCE_HZ for m in MAINS_HZ)


# --- caption ------------------------------------------------------------------------------------------------

_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def content_phrase(analysis: Analysis, options: AudioDescriberOptions) -> str:
    """What is heard, from the tags and the speech activity: e.g. "speech (80% of the clip), music"."""
    labels = [
        label
        for label, score in analysis.tags.tags
        if score >= options.min_caption_score and label not in NOISE_LABELS and label not in CAPTION_SKIP_LABELS
    ][: options.caption_tags]
    words = [label.lower().replace(", ", "/") for label in labels]  # "Beep, bleep" -> "beep/bleep"
    ratio = analysis.speech.speech_ratio
    tagged_speech = any(label == SPEECH_LABEL for label, _ in analysis.tags.tags)
    if "speech" not in words and (ratio >= CAPTION_SPEECH_RATIO or (ratio >= 0.05 and tagged_speech)):
        words.insert(0, "speech")
    if "speech" in words and ratio > 0:
        words[words.index("speech")] = f"speech ({round(100 * ratio)}% of the clip)"
    if words:
        return ", ".join(words)
    if analysis.diagnostics.rms_dbfs < SILENT_DBFS:
        return "near silence"
    return "unidentified sound"


def facts_phrase(d: dsp.AudioDiagnostics, verdict: NoiseVerdict) -> str:
    """The DSP facts: noise, then defects, e.g. "50 Hz hum at about 6 dB SNR; clipping on 2.1% of samples"."""
    parts = [_noise_phrase(d, verdict)]
    if d.clipping_ratio >= CLIPPING_CAPTION_RATIO:
        parts.append(f"clipping on {100 * d.clipping_ratio:.1f}% of samples")
    if d.blanks:
        parts.append(_blanks_phrase(d.blanks))
    if d.loudness_lufs is not None and d.loudness_lufs < QUIET_LUFS:
        parts.append(f"very quiet ({d.loudness_lufs:.0f} LUFS)")
    elif d.loudness_lufs is not None and d.loudness_lufs > LOUD_LUFS:
        parts.append(f"very loud ({d.loudness_lufs:.0f} LUFS)")
    return "; ".join(parts)


def _noise_phrase(d: dsp.AudioDiagnostics, verdict: NoiseVerdict) -> str:
    kind = verdict.noise_type
    if kind == "unknown":
        return "too short to measure noise"
    if kind == "none":
        return "no significant noise"
    names = {
        "broadband": f"broadband {verdict.color}-like noise" if verdict.color else "broadband noise",
        "hum": f"{d.noise.hum_hz:.0f} Hz hum" if d.noise.hum_hz else "hum",
        "low_frequency_rumble": "low-frequency rumble",
        "non_stationary": "fluctuating background noise",
        "tonal": "a steady tonal sound",
    }
    phrase = f"{names.get(kind, kind)} at about {d.snr_db:.0f} dB SNR"
    if kind != "hum" and d.noise.hum_hz and is_mains(d.noise.hum_hz):
        phrase += f" with {d.noise.hum_hz:.0f} Hz hum"
    return phrase


def _blanks_phrase(blanks: tuple[tuple[float, float], ...]) -> str:
    if len(blanks) == 1:
        start, duration = blanks[0]
        return f"one {duration:.2f} s dropout at {start:.2f} s"
    start, duration = max(blanks, key=lambda b: b[1])
    count = _COUNT_WORDS.get(len(blanks), str(len(blanks)))
    return f"{count} dropouts (longest {duration:.2f} s at {start:.2f} s)"


def assemble(
    analysis: Analysis,
    content: str,
    options: AudioDescriberOptions,
    *,
    backend: str,
    model_version: str,
    started: float,
    extra_timings: dict[str, float] | None = None,
) -> AudioDescription:
    """The AudioDescription of an analysis, with `content` as the first part of the caption."""
    d, speech = analysis.diagnostics, analysis.speech
    verdict = noise_verdict(d, analysis.tags.tags, speech.speech_ratio)
    facts = facts_phrase(d, verdict)
    timings = {**analysis.timings_s, **(extra_timings or {})}
    timings["total"] = time.perf_counter() - started
    return AudioDescription(
        caption=f"{content.rstrip('.; ')}; {facts}",
        facts=facts,
        tags=[(label, float(score)) for label, score in analysis.tags.tags],
        tag_timeline=[tuple(item) for item in analysis.tags.timeline] if options.timeline else [],
        speech_segments=[tuple(seg) for seg in speech.segments],
        speech_ratio=round(speech.speech_ratio, 4),
        snr_db=d.snr_db,
        snr_reliable=verdict.snr_reliable,
        noise_type=verdict.noise_type,
        noise_color=verdict.color,
        hum_hz=d.noise.hum_hz,
        loudness_lufs=d.loudness_lufs,
        peak_dbfs=d.peak_dbfs,
        rms_dbfs=d.rms_dbfs,
        clipping_ratio=d.clipping_ratio,
        blanks=[tuple(b) for b in d.blanks],
        onset_rate_hz=d.onset_rate_hz,
        duration_s=d.duration_s,
        sample_rate=d.sample_rate,
        channels=d.channels,
        backend=backend,
        model_version=model_version,
        diagnostics=d,
        timings_s=timings,
    )


# --- factory ------------------------------------------------------------------------------------------------


def get_audio_describer(name: str = OFFLINE_BACKEND, **kwargs: Any) -> AudioDescriber:
    """The describer backend `name` ("offline" or "qwen2-audio"), built with its own keyword arguments.

    Build it once and reuse it: the model backend loads its weights in the constructor.
    """
    if name == OFFLINE_BACKEND:
        return OfflineAudioDescriber(**kwargs)
    if name == QWEN_BACKEND:
        from avagent.tools.qwen_audio import Qwen2AudioDescriber

        return Qwen2AudioDescriber(**kwargs)
    raise ParameterError(f"unknown audio describer backend {name!r}; choose one of {available_audio_describers()}")


def available_audio_describers() -> list[str]:
    return [OFFLINE_BACKEND, QWEN_BACKEND]


def describe_audio(audio: np.ndarray, sr: int, *, backend: str = OFFLINE_BACKEND, **kwargs: Any) -> AudioDescription:
    """One-off description with a freshly built backend (models themselves are cached per process)."""
    return get_audio_describer(backend, **kwargs).describe(audio, sr)


__all__ = [
    "AudioDescriber",
    "AudioDescriberOptions",
    "AudioDescription",
    "OfflineAudioDescriber",
    "available_audio_describers",
    "describe_audio",
    "get_audio_describer",
]

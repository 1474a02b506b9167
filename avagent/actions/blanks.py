"""Filling blanks: find dropouts and digital silence, replace them with audio synthesised from their context.

A blank is a stretch, at least `min_gap_ms` long, whose short-time RMS stays below `silence_threshold_dbfs`,
widened to the surrounding samples that are themselves below the threshold. Each channel is searched and
filled on its own. Only blank samples change: everything else is returned bit for bit (as float32).

The fill is an autoregressive (LPC) model of the audio next to the gap, fitted with Burg's method:
- "lpc": the waveform continued by linear prediction forward from the left and backward from the right,
  blended across the gap (raised cosine). Continues tones and voiced sounds; it fades out over long gaps.
- "noise": white noise shaped by the same AR filter (the spectral envelope of the surroundings, at their
  background level), the left and right models blended across the gap with equal power. At each edge the fill
  crossfades (equal power, `crossfade_ms`) from the waveform's own continuation into the noise, so it starts
  without a step.
- "auto": "lpc" for gaps up to AUTO_LPC_MAX_MS, "noise" for longer ones.

Which blanks are filled: by default only interior ones, with audio on both sides, from `min_gap_ms` up to
`max_gap_ms` long. Dropouts are short interruptions of running audio; clean studio recordings carry digital
silence of their own (gated pauses between prompts, leading and trailing silence, scene breaks), which is
usually longer or sits at the clip's edges, and is intentional. The length limit is a trade-off: a gated pause
shorter than `max_gap_ms` looks exactly like a dropout and is still filled (the agent calls this action only
when the describer reports dropouts). With `fill_edges` a
blank that touches the start or the end of the clip is filled from its one neighbouring side (a clip that
begins with a dropout gets a continuation of what follows); a channel that is blank throughout has nothing to
match and is left as it is. The fill never exceeds the peak of the audio it was modelled on.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from avagent.actions.params import FillBlanksParams
from avagent.core import signal as sig

ENVELOPE_MS = 1.0  # RMS window of the blank detector: a dropout's faint residue may peak above the threshold
CONTEXT_MS = 100.0  # audio on each side used to fit the fill model (stops at the neighbouring gap)
# AR order covers one pitch period down to 200 Hz (5 ms), so the model keeps harmonics, not only the envelope.
LPC_ORDER_MS = 5.0
MIN_CONTEXT_SAMPLES = 8  # a side with less audio than this is not used
AUTO_LPC_MAX_MS = 30.0  # prediction stays plausible for about a few pitch periods; longer gaps get noise
# Level of the noise fill: this percentile of the context's RMS over LEVEL_FRAME_MS frames, i.e. its
# background rather than its peaks (equal to the RMS for steady sounds).
FILL_LEVEL_PERCENTILE = 20.0
LEVEL_FRAME_MS = 10.0
# The noise-shaping filter runs this long before the gap, so the fill starts at its steady level.
WARMUP_MS = 50.0


def fill_blanks(audio: np.ndarray, sr: int, params: FillBlanksParams) -> np.ndarray:
    """Detect blank stretches and fill them with synthetic audio matched to their surroundings.

    Parameters
    ----------
    audio : np.ndarray, shape (samples,) or (channels, samples)
        Samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    params : FillBlanksParams
        `seed` makes the noise fill reproducible.

    Returns
    -------
    np.ndarray, float32, same shape as `audio`
        Identical to `audio` (cast to float32) outside the filled blanks (see the module docstring for which
        blanks are filled).
    """
    sig.expect_params(params, FillBlanksParams)
    x = sig.check_audio(audio)
    sr = sig.check_sample_rate(sr)
    out = np.array(np.atleast_2d(audio), dtype=np.float32)
    for ch in range(x.shape[0]):
        gaps = find_blanks(x[ch], sr, params.min_gap_ms, params.silence_threshold_dbfs)
        for start, stop in _to_fill(gaps, x.shape[-1], sr, params):
            # Seeded by the gap's place: a dropout in all channels gets one excitation, shaped per channel,
            # so identical channels stay identical and the stereo image does not widen inside the gap.
            rng = np.random.default_rng([params.seed, start, stop])
            fill = _fill_gap(x[ch], gaps, (start, stop), sr, params, rng)
            if fill is not None:
                out[ch, start:stop] = fill
    return sig.restore_layout(out, audio)


def _to_fill(gaps: list[tuple[int, int]], n: int, sr: int, params: FillBlanksParams) -> list[tuple[int, int]]:
    """The blanks to fill: at most `max_gap_ms` long, and interior unless `fill_edges`."""
    longest = params.max_gap_ms * sr / 1000.0
    return [(a, b) for a, b in gaps if b - a <= longest and (params.fill_edges or (a > 0 and b < n))]


def find_blanks(x: np.ndarray, sr: int, min_gap_ms: float, threshold_dbfs: float) -> list[tuple[int, int]]:
    """Blank stretches of a channel as [start, stop) sample ranges, in time order.

    Parameters
    ----------
    x : np.ndarray, shape (samples,)
    sr : int
        Sample rate, Hz.
    min_gap_ms : float
        Shortest stretch reported, ms.
    threshold_dbfs : float
        RMS level (over ENVELOPE_MS) under which audio is blank, dBFS.

    Returns
    -------
    list of (int, int)
    """
    threshold = sig.db_to_amplitude(threshold_dbfs)
    width = max(1, round(ENVELOPE_MS * sr / 1000.0))
    quiet = ndimage.uniform_filter1d(x * x, width, mode="constant") <= threshold**2
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = edges.reshape(-1, 2)
    runs = runs[runs[:, 1] - runs[:, 0] >= max(1, round(min_gap_ms * sr / 1000.0))]
    if runs.size == 0:
        return []
    # Widen each run to the neighbouring samples that are below the threshold themselves (the RMS window
    # shortens a run by half a window at each side; a zero left next to the fill would be a click).
    loud = np.abs(x) > threshold
    index = np.arange(x.shape[-1])
    last_loud = np.maximum.accumulate(np.where(loud, index, -1))
    next_loud = np.minimum.accumulate(np.where(loud, index, x.shape[-1])[::-1])[::-1]
    starts = last_loud[np.maximum(runs[:, 0] - 1, 0)] + 1
    starts = np.where(runs[:, 0] == 0, 0, starts)
    stops = next_loud[np.minimum(runs[:, 1], x.shape[-1] - 1)]
    stops = np.where(runs[:, 1] == x.shape[-1], x.shape[-1], stops)
    merged: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _fill_gap(
    x: np.ndarray,
    gaps: list[tuple[int, int]],
    gap: tuple[int, int],
    sr: int,
    params: FillBlanksParams,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Synthesise one gap of channel `x` from the audio on either side; None if there is none."""
    start, stop = gap
    n = stop - start
    context = round(CONTEXT_MS * sr / 1000.0)
    prev_stop = max([b for a, b in gaps if b <= start], default=0)
    next_start = min([a for a, b in gaps if a >= stop], default=x.shape[-1])
    left = x[max(prev_stop, start - context) : start]
    right = x[stop : min(next_start, stop + context)][::-1]  # time-reversed: predicted backwards
    sides = [s for s in (left, right) if s.shape[-1] >= MIN_CONTEXT_SAMPLES]
    if not sides:
        return None
    noisy = params.method == "noise" or (params.method == "auto" and n > AUTO_LPC_MAX_MS * sr / 1000.0)
    order = max(1, round(LPC_ORDER_MS * sr / 1000.0))
    parts = [_continue(s, n, order, sr, rng) for s in sides]
    if len(parts) == 1:
        prediction, noise = parts[0] if left.shape[-1] >= MIN_CONTEXT_SAMPLES else (p[::-1] for p in parts[0])
    else:
        w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)  # 0 -> 1 across the gap
        prediction = (1.0 - w) * parts[0][0] + w * parts[1][0][::-1]
        noise = np.sqrt(1.0 - w) * parts[0][1] + np.sqrt(w) * parts[1][1][::-1]  # uncorrelated: equal power
    fill = prediction
    if noisy:
        fade = round(params.crossfade_ms * sr / 1000.0)
        ramp = np.minimum(np.minimum(np.arange(n) + 1.0, n - np.arange(n)) / max(fade, 1), 1.0)
        fill = np.cos(0.5 * np.pi * ramp) * prediction + np.sin(0.5 * np.pi * ramp) * noise
    peak = max(float(np.max(np.abs(s))) for s in sides)
    return np.clip(np.nan_to_num(fill), -peak, peak)


def _continue(
    context: np.ndarray, n: int, order: int, sr: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Continue `context` by `n` samples with its AR model: the linear prediction, and model-shaped noise.

    The noise has the model's spectral envelope and the background level of the context (FILL_LEVEL_PERCENTILE
    of its short-time RMS), so a gap between words gets room tone rather than speech-loud noise.
    """
    a, _ = burg(context, min(order, context.shape[-1] // 2))
    zi = signal.lfiltic([1.0], a, context[::-1])
    prediction, _ = signal.lfilter([1.0], a, np.zeros(n), zi=zi)
    warmup = round(WARMUP_MS * sr / 1000.0)
    shaped = signal.lfilter([1.0], a, rng.standard_normal(warmup + n))[warmup:]
    frame = max(1, min(context.shape[-1], round(LEVEL_FRAME_MS * sr / 1000.0)))
    frames = context[: context.shape[-1] // frame * frame].reshape(-1, frame)
    level = np.percentile(np.sqrt(np.mean(frames * frames, axis=-1)), FILL_LEVEL_PERCENTILE)
    return prediction, shaped * (level / max(float(np.sqrt(np.mean(shaped * shaped))), sig.EPS))


def burg(x: np.ndarray, order: int) -> tuple[np.ndarray, float]:
    """AR coefficients by Burg's method (always a stable filter).

    Parameters
    ----------
    x : np.ndarray, shape (samples,)
    order : int
        Model order, < samples.

    Returns
    -------
    a : np.ndarray, shape (order + 1,)
        Prediction-error filter, a[0] = 1: x[n] + sum_i a[i] x[n - i] = e[n].
    error_power : float
        Mean square of the prediction error e.
    """
    f = np.array(x[1:], dtype=np.float64)
    b = np.array(x[:-1], dtype=np.float64)
    a = np.ones(1)
    error_power = float(np.mean(np.square(x)))
    for _ in range(order):
        denominator = f @ f + b @ b
        if denominator <= 0.0 or f.shape[-1] == 0:
            break
        k = -2.0 * (f @ b) / denominator
        a = np.concatenate([a, [0.0]])
        a = a + k * a[::-1]
        error_power *= 1.0 - k * k
        f, b = (f + k * b)[1:], (b + k * f)[:-1]
    return a, error_power

"""Spectrogram images of a job's original and repaired audio, for the dashboard's before/after view."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import stft

N_FFT = 1024  # samples per STFT frame
HOP = 256  # samples between frames
MAX_SECONDS = 600.0  # longer audio is drawn from its first ten minutes
FLOOR_DB = -90.0  # the colour scale's bottom, dB below full scale
FIGURE_SIZE_IN = (8.0, 3.0)
DPI = 100  # 800x300 px


def spectrogram_png(audio_path: Path, cache_path: Path, *, title: str) -> Path:
    """Render (once) the log-magnitude spectrogram of a WAV file to `cache_path`; return the PNG's path."""
    if cache_path.exists() and cache_path.stat().st_mtime >= audio_path.stat().st_mtime:
        return cache_path
    info = sf.info(str(audio_path))
    frames = int(min(info.frames, MAX_SECONDS * info.samplerate))
    audio, sr = sf.read(str(audio_path), frames=frames, dtype="float32", always_2d=True)
    png = _render(audio.mean(axis=1), sr, title)
    tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(png)
    tmp.replace(cache_path)
    return cache_path


def _render(mono: np.ndarray, sr: int, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    freqs, times, z = stft(mono, fs=sr, nperseg=N_FFT, noverlap=N_FFT - HOP)
    db = 20 * np.log10(np.maximum(np.abs(z), 1e-9))
    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    ax = fig.add_subplot()
    ax.pcolormesh(times, freqs, np.maximum(db, FLOOR_DB), shading="auto", cmap="magma", vmin=FLOOR_DB, vmax=0)
    ax.set(title=title, xlabel="time (s)", ylabel="frequency (Hz)")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()

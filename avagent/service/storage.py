"""Content-addressed artifacts, upload ingestion and the checks that keep names and paths inside their roots.

Layout under the artifacts root (nothing a client names is ever used as a path):

    <root>/<sha256[:2]>/<sha256>/input<.ext>             the clip, stored once per content
    <root>/<sha256[:2]>/<sha256>/jobs/<job id>/          report.json, repaired<.ext>, repaired.wav,
                                                         original.wav, work/ (checkpoint, candidates)
    <root>/tmp/                                          uploads while they stream in

`.ext` comes from the container PyAV detects in the content, so the same bytes always land at the same path.
Uploaded names are kept for display only, sanitised (`sanitize_filename`). Manifest paths must resolve, after
following every symlink, inside one of the configured roots (`resolve_under_roots`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from avagent.core.config import MediaLimits
from avagent.core.errors import MediaError, MediaNotFoundError, NoAudioStreamError, NotMediaError, NoVideoStreamError
from avagent.core.media import MediaInfo, probe
from avagent.service.errors import PathOutsideRootsError, UploadTooLargeError

CHUNK_BYTES = 1 << 20  # copy and hash in 1 MiB pieces
MAX_NAME_CHARS = 200
# Output container per demuxer (the remux picks the audio codec by suffix; see core.media AUDIO_CODEC_BY_SUFFIX).
SUFFIX_BY_FORMAT = {"mov": ".mp4", "mp4": ".mp4", "matroska": ".mkv", "webm": ".webm", "avi": ".avi"}
TMP_MAX_AGE_S = 3600.0  # an upload still in tmp/ after an hour belongs to a dead process
DEFAULT_SUFFIX = ".mkv"  # Matroska takes nearly any video codec
_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,]+")


@dataclass(frozen=True)
class StoredInput:
    sha256: str
    path: Path  # the content-addressed copy
    info: MediaInfo  # its probe
    display_name: str  # sanitised original name


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def clean_tmp(self, *, older_than_s: float = TMP_MAX_AGE_S) -> int:
        """Remove uploads left half-written by a process that died; returns how many were removed."""
        cutoff, removed = time.time() - older_than_s, 0
        for path in self.tmp.glob("upload-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def content_dir(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def job_dir(self, sha256: str, job_id: str) -> Path:
        return self.content_dir(sha256) / "jobs" / job_id

    def ingest(self, source: BinaryIO, *, display_name: str, max_bytes: int, limits: MediaLimits) -> StoredInput:
        """Copy a stream into the store (hashing as it goes), check it is a video with sound, and return it.

        Raises UploadTooLargeError past `max_bytes`, and the MediaError of `probe` (with the display name,
        not a server path, in the message) when the content is not usable.
        """
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while block := source.read(CHUNK_BYTES):
                    size += len(block)
                    if size > max_bytes:
                        raise UploadTooLargeError(f"{display_name} is larger than the {max_bytes}-byte limit")
                    digest.update(block)
                    out.write(block)
            info = probe_video_with_audio(tmp, display_name, limits)
            sha = digest.hexdigest()
            final = self.content_dir(sha) / f"input{suffix_for(info)}"
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                tmp.unlink()
            else:
                os.replace(tmp, final)
            return StoredInput(sha, final, info, display_name)
        finally:
            tmp.unlink(missing_ok=True)

    def ingest_path(self, path: Path, *, max_bytes: int, limits: MediaLimits) -> StoredInput:
        """Ingest a server-side file (already checked against the roots)."""
        try:
            st = path.stat()
        except FileNotFoundError as e:
            raise MediaNotFoundError(f"{path}: no such file") from e
        if not stat.S_ISREG(st.st_mode):
            raise NotMediaError(f"{path} is not a regular file")
        if st.st_size > max_bytes:
            raise UploadTooLargeError(f"{path} is {st.st_size} bytes, above the {max_bytes}-byte limit")
        with open(path, "rb") as source:
            return self.ingest(source, display_name=str(path), max_bytes=max_bytes, limits=limits)

    def remove_job_dir(self, sha256: str, job_id: str) -> None:
        shutil.rmtree(self.job_dir(sha256, job_id), ignore_errors=True)


def probe_video_with_audio(path: Path, display_name: str, limits: MediaLimits) -> MediaInfo:
    """`probe` plus the two streams a repair needs; messages name the upload, never the temporary file."""
    try:
        info = probe(path, limits=limits)
    except MediaError as e:
        raise type(e)(e.message.replace(str(path), display_name)) from e
    if info.audio is None:
        raise NoAudioStreamError(f"{display_name} has no audio stream: avagent repairs the sound of a video")
    if info.video is None:
        raise NoVideoStreamError(f"{display_name} has no video stream: avagent needs the picture to judge the sound")
    return info


def suffix_for(info: MediaInfo) -> str:
    for name in info.format_name.split(","):
        if name in SUFFIX_BY_FORMAT:
            return SUFFIX_BY_FORMAT[name]
    return DEFAULT_SUFFIX


def sanitize_filename(name: str | None) -> str:
    """A display name: the last path component, NFC, no control or shell-special characters, bounded length."""
    if not name:
        return "upload"
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:MAX_NAME_CHARS] or "upload"


def resolve_under_roots(raw: str, roots: Sequence[Path]) -> Path:
    """The real path of `raw` if it lies inside one of `roots` after resolving `..` and every symlink.

    Relative paths are taken relative to the first root. Raises PathOutsideRootsError otherwise (also when
    no roots are configured: server-side manifests are then disabled).
    """
    if not roots:
        raise PathOutsideRootsError("server-side paths are disabled: the service has no manifest roots configured")
    if "\x00" in raw or not raw.strip():
        raise PathOutsideRootsError(f"{raw!r} is not a usable path")
    real_roots = [Path(os.path.realpath(Path(r).expanduser())) for r in roots]
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = real_roots[0] / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real == root or real.is_relative_to(root) for root in real_roots):
        raise PathOutsideRootsError(f"{raw} is outside the allowed manifest roots")
    return real

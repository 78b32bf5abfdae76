"""The ranges option values must keep, and the memory a run may plan to use.

Option values are checked before any work, as usage errors that give the valid
range (a value like ``--n-fft 100000000`` once took the machine down). What
cannot be bounded by a range alone (memory that grows with the longest input) is
estimated per worker and compared with a budget: ``--max-memory``, by default
half of the machine's memory divided by the workers.
"""

from __future__ import annotations

import os

from audiokit.errors import UsageError

#: Sample rates accepted by --sr (Hz).
SR_MIN, SR_MAX = 1000, 768_000
#: FFT and hop sizes (samples).
N_FFT_MIN, N_FFT_MAX = 16, 65_536
HOP_MAX = N_FFT_MAX
#: Mel bands and MFCC coefficients.
N_MELS_MAX = 1024
N_MFCC_MAX = 128
#: Frequencies (Hz).
FREQ_MAX = SR_MAX / 2
#: Durations (s): window lengths, segments, padding.
DURATION_MAX = 86_400.0
WINDOW_HOP_MIN = 0.01
SEGMENT_MIN = 0.01
#: Gains and levels (dB).
GAIN_MAX = 120.0
LEVEL_MIN = -120.0
LOUDNESS_MIN = -70.0
#: Share of the machine's memory a run plans to use, split over its workers.
MEMORY_SHARE = 0.5


def check_range(option: str, value: float | None, lo: float, hi: float, unit: str = "") -> None:
    """Refuse ``value`` outside ``[lo, hi]`` (None passes), naming the range."""
    if value is None:
        return
    if not lo <= value <= hi:
        u = f" {unit}" if unit else ""
        raise UsageError(f"{option} {value:g}{u} is out of range: use {lo:g} to {hi:g}{u}")


def check_spectral(
    n_fft: int,
    hop_length: int,
    n_mels: int | None = None,
    fmin: float = 0.0,
    fmax: float | None = None,
    sr: int | None = None,
) -> None:
    """Cross-checks of the STFT and mel options (each one's own range is the CLI's).

    Raises
    ------
    UsageError
        A hop longer than the FFT, more mel bands than frequency bins, a band
        upside down, or past the Nyquist frequency of ``--sr``.
    """
    if hop_length > n_fft:
        raise UsageError(f"--hop-length {hop_length} must not exceed --n-fft {n_fft}")
    bins = n_fft // 2 + 1
    if n_mels is not None and n_mels > bins:
        raise UsageError(
            f"--n-mels {n_mels} is more than the {bins} frequency bins of --n-fft {n_fft}"
        )
    if fmax is not None and fmax <= fmin:
        raise UsageError(f"--fmax {fmax:g} Hz must be above --fmin {fmin:g} Hz")
    if sr is not None:
        nyquist = sr / 2
        for name, f in (("--fmin", fmin), ("--fmax", fmax)):
            if f is not None and f > nyquist:
                raise UsageError(
                    f"{name} {f:g} Hz is above the Nyquist frequency of --sr {sr} ({nyquist:g} Hz)"
                )


def total_memory() -> int:
    """Bytes of memory on this machine (or in this cgroup, when smaller)."""
    total = 0
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1.5GiB"``, ``"800000000"`` into bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    scale = 1
    for suffix, factor in (("K", 2**10), ("M", 2**20), ("G", 2**30), ("T", 2**40)):
        if t.endswith(suffix):
            t, scale = t[:-1], factor
            break
    try:
        value = float(t) * scale
    except ValueError:
        raise UsageError(f"--max-memory {text!r}: give a size such as 2G or 512M") from None
    if value <= 0:
        raise UsageError("--max-memory must be positive")
    return int(value)


def budget(max_memory: int | None, jobs: int) -> int:
    """Bytes one worker may plan to use."""
    if max_memory is not None:
        return max_memory
    return int(total_memory() * MEMORY_SHARE / max(1, jobs))


def check_memory(estimate: float, limit: int, what: str) -> None:
    """Refuse a plan whose estimated peak per worker is over ``limit`` bytes."""
    if estimate > limit:
        raise UsageError(
            f"{what} would need about {_size(estimate)} per worker, over the budget of "
            f"{_size(limit)}: lower the options, use fewer --jobs, or raise --max-memory"
        )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover

"""The preprocess steps, one table: :data:`STEPS` (in the default order).

Each :class:`Step` says everything the rest of the package asks about a step:
its names, its command-line options (click-free :class:`Option` specs, turned
into click options by :mod:`audiokit.cli.preprocess`), when its options enable
it and what naming it in ``--chain`` sets, its checks, its in-memory function
and its block processor (or that it needs the whole signal, or runs at the
output end of the streaming path), whether it keeps samples exactly, and when
it would change nothing for an input. :mod:`~audiokit.preprocess.chain`
(the plan), :mod:`~audiokit.preprocess.apply` (in memory),
:mod:`~audiokit.preprocess.streaming` and the CLI are driven by it: adding a
step is one entry here, its settings field on
:class:`~audiokit.preprocess.chain.Plan`, and its function.

The step functions are named by :class:`~audiokit.preprocess.spec.Ref` and
resolved when first run: they take a :class:`~audiokit.preprocess.chain.Plan`,
whose module reads this table, so a direct reference would be an import cycle
(the types of the table are in :mod:`audiokit.preprocess.spec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from audiokit import limits as lim
from audiokit.audio_io import MIX, parse_channel
from audiokit.errors import UsageError
from audiokit.preprocess.spec import Option, Ref, Step, frozen

if TYPE_CHECKING:
    from audiokit.preprocess.chain import Plan

NORMALIZE_MODES = ("peak", "rms", "loudness")
#: Default targets of --normalize per mode (dBFS, dBFS, LUFS).
DEFAULT_TARGETS = MappingProxyType({"peak": -1.0, "rms": -20.0, "loudness": -23.0})
# ----------------------------------------------------------------- checks


def _channel_fields(text: str | None) -> dict[str, Any]:
    channel = parse_channel(text)
    if channel == MIX:
        return {"mono": True, "channel": None}
    return {"channel": channel}


def _check_channels(p: Plan) -> None:
    if p.mono and p.channel is not None:
        raise UsageError("--mono and --channel exclude each other")
    if p.channel is not None and p.channel < 0:
        raise UsageError("--channel counts from 0 and cannot be negative")


def _below_nyquist(name: str, hz: float | None, p: Plan) -> None:
    if hz is not None and p.sr is not None and hz >= p.sr / 2:
        raise UsageError(
            f"{name} {hz:g} Hz must be below the Nyquist frequency of --sr {p.sr} ({p.sr / 2:g} Hz)"
        )
    if hz is not None and hz <= 0:
        raise UsageError(f"{name} must be a positive frequency")


def _check_highpass(p: Plan) -> None:
    _below_nyquist("--highpass", p.highpass, p)


def _check_lowpass(p: Plan) -> None:
    _below_nyquist("--lowpass", p.lowpass, p)
    if p.highpass is not None and p.lowpass is not None and p.highpass >= p.lowpass:
        raise UsageError(
            f"--highpass {p.highpass:g} Hz must be below --lowpass {p.lowpass:g} Hz "
            "(they would remove everything)"
        )


def _check_silence(p: Plan) -> None:
    if p.top_db <= 0:
        raise UsageError("--top-db must be positive")
    if p.pad_ms < 0:
        raise UsageError("--pad-ms cannot be negative")


def _check_denoise(p: Plan) -> None:
    if not 0.0 <= p.denoise_strength <= 1.0:
        raise UsageError("--denoise-strength must be between 0 and 1")


def _check_preemphasis(p: Plan) -> None:
    if p.preemphasis is not None and not 0.0 <= p.preemphasis < 1.0:
        raise UsageError("--preemphasis must be in [0, 1)")


def _precheck_normalize(p: Plan) -> None:
    if p.normalize is not None and p.normalize not in NORMALIZE_MODES:
        raise UsageError(f"--normalize must be one of {', '.join(NORMALIZE_MODES)}")
    if p.target is not None and p.normalize is None:
        raise UsageError("--target needs --normalize peak|rms|loudness")
    if p.normalize == "peak" and p.target_level > p.ceiling:
        raise UsageError(
            f"--target {p.target_level:g} dBFS is above the ceiling ({p.ceiling:g} dBFS)"
        )
    if p.ceiling > 0:
        raise UsageError("--ceiling must be at most 0 dBFS")


def _check_normalize(p: Plan) -> None:
    if p.normalize is not None and p.target is not None:
        if p.normalize == "loudness":
            lim.check_range("--target", p.target, lim.LOUDNESS_MIN, 0.0, "LUFS")
        else:
            lim.check_range("--target", p.target, lim.LEVEL_MIN, 0.0, "dBFS")


def _check_trim_to(p: Plan) -> None:
    if p.trim_to is not None and p.trim_to <= 0:
        raise UsageError("--trim-to must be positive")


def _check_segment(p: Plan) -> None:
    if p.segment is not None:
        if p.segment <= 0 or p.overlap < 0 or p.overlap >= p.segment:
            raise UsageError("--segment must be positive and longer than --overlap (>= 0)")
    elif p.overlap:
        raise UsageError("--overlap needs --segment")


def _check_not_negative(name: str, value: float | None) -> None:
    if value is not None and value < 0:
        raise UsageError(f"{name} cannot be negative")


def _segment_value(p: Plan) -> Any:
    return p.segment if not p.overlap else f"{p.segment}/{p.overlap}"


# ----------------------------------------------------------------- the table

_SECONDS = (0.0, lim.DURATION_MAX, "s")

STEPS: tuple[Step, ...] = (
    Step(
        "channels",
        run=Ref("apply", "channels"),
        describe=lambda p: "mono" if p.channel is None else f"channel {p.channel}",
        options=(
            Option("--mono", "Mix down to one channel (average).", kind="flag", default=False),
            Option(
                "--channel",
                "Keep one channel (0-based, L, R), or the mix of all (as --mono).",
                kind="text",
                metavar="N|L|R|mix",
                parse=_channel_fields,
            ),
        ),
        aliases=("mono", "channel"),
        enabled=lambda p: p.mono or p.channel is not None,
        by_name=frozen(mono=True),
        needs=frozen(channel="--channel N"),
        stream=Ref("blocks", "Channels.from_plan"),
        exact=lambda p: p.channel is not None,
        idle=lambda p, sr, ch: ch == 1 and (p.mono or p.channel == 0),
        precheck=_check_channels,
    ),
    Step(
        "sr",
        run=Ref("apply", "resample"),
        describe=lambda p: p.sr,
        options=(
            Option("--sr", "Resample to RATE Hz (soxr HQ), e.g. 16000 or 22.05k.", kind="rate"),
        ),
        aliases=("resample", "rate"),
        enabled=lambda p: p.sr is not None,
        needs=frozen({"": "--sr RATE"}),
        stream=Ref("blocks", "Resample.from_plan"),
        idle=lambda p, sr, ch: p.sr == sr,
    ),
    Step(
        "trim",
        run=Ref("apply", "trim"),
        describe=lambda p: f"{p.top_db:g} dB",
        options=(Option("--trim", "Cut leading and trailing silence.", kind="switch"),),
        whole_signal=True,
        exact=True,
    ),
    Step(
        "remove-silence",
        run=Ref("apply", "remove_silence"),
        describe=lambda p: f"{p.top_db:g} dB",
        options=(
            Option(
                "--remove-silence",
                "Cut every silent stretch inside the file, keeping --pad-ms around speech.",
                kind="switch",
            ),
            Option(
                "--top-db",
                "Silence: frames this far below the loudest frame (trim, remove-silence).",
                default=60.0,
                show_default=True,
                metavar="DB",
                minimum=0,
                min_open=True,
                limit=(0.0, 200.0, "dB"),
            ),
            Option(
                "--pad-ms",
                "Margin kept around voiced parts by trim and remove-silence.",
                default=50.0,
                show_default=True,
                metavar="MS",
                minimum=0,
                limit=(0.0, 60_000.0, "ms"),
            ),
        ),
        aliases=("silence", "remove_silence"),
        whole_signal=True,
        exact=True,
        check=_check_silence,
    ),
    Step(
        "denoise",
        run=Ref("apply", "denoise"),
        describe=lambda p: p.denoise_strength,
        options=(
            Option(
                "--denoise",
                "Spectral gating with a noise profile from the quietest 10% of frames.",
                kind="switch",
            ),
            Option(
                "--denoise-strength",
                "How much gated bins are attenuated.",
                default=0.8,
                show_default=True,
                metavar="0..1",
                minimum=0,
                maximum=1,
            ),
        ),
        whole_signal=True,
        check=_check_denoise,
    ),
    Step(
        "highpass",
        run=Ref("apply", "highpass"),
        describe=lambda p: p.highpass,
        options=(
            Option(
                "--highpass",
                "4th-order Butterworth high-pass.",
                metavar="HZ",
                limit=(0.0, lim.FREQ_MAX, "Hz"),
            ),
        ),
        aliases=("hp",),
        enabled=lambda p: p.highpass is not None,
        needs=frozen({"": "--highpass HZ"}),
        stream=Ref("blocks", "SosFilter.highpass"),
        check=_check_highpass,
    ),
    Step(
        "lowpass",
        run=Ref("apply", "lowpass"),
        describe=lambda p: p.lowpass,
        options=(
            Option(
                "--lowpass",
                "4th-order Butterworth low-pass.",
                metavar="HZ",
                limit=(0.0, lim.FREQ_MAX, "Hz"),
            ),
        ),
        aliases=("lp",),
        enabled=lambda p: p.lowpass is not None,
        needs=frozen({"": "--lowpass HZ"}),
        stream=Ref("blocks", "SosFilter.lowpass"),
        check=_check_lowpass,
    ),
    Step(
        "preemphasis",
        run=Ref("apply", "preemphasis"),
        describe=lambda p: p.preemphasis,
        options=(
            Option(
                "--preemphasis",
                "Pre-emphasis y[n] - COEF*y[n-1] (default COEF 0.97), as "
                "librosa.effects.preemphasis (sample 0 uses its state 2*y[0] - y[1]).",
                metavar="[COEF]",
                bare_value=0.97,
            ),
        ),
        enabled=lambda p: p.preemphasis is not None,
        by_name=frozen(preemphasis=0.97),
        stream=Ref("blocks", "Preemphasis.from_plan"),
        idle=lambda p, sr, ch: p.preemphasis == 0,
        check=_check_preemphasis,
    ),
    Step(
        "gain",
        run=Ref("apply", "gain"),
        describe=lambda p: p.gain_db,
        options=(
            Option(
                "--gain",
                "Fixed gain in dB.",
                field="gain_db",
                metavar="DB",
                limit=(-lim.GAIN_MAX, lim.GAIN_MAX, "dB"),
            ),
        ),
        enabled=lambda p: p.gain_db is not None,
        needs=frozen({"": "--gain DB"}),
        stream=Ref("blocks", "Gain.from_plan"),
        idle=lambda p, sr, ch: p.gain_db == 0,
    ),
    Step(
        "normalize",
        run=Ref("apply", "normalize"),
        describe=lambda p: f"{p.normalize} {p.target_level:g}",
        options=(
            Option(
                "--normalize",
                "Normalise the peak or RMS (dBFS) or the BS.1770 loudness (LUFS).",
                kind="choice",
                choices=NORMALIZE_MODES,
            ),
            Option(
                "--target",
                "Normalisation target (default: peak -1 dBFS, rms -20 dBFS, loudness -23 LUFS).",
                metavar="LEVEL",
            ),
            Option(
                "--ceiling",
                "Normalisation never lets peaks exceed this.",
                default=-0.1,
                show_default=True,
                metavar="DBFS",
                limit=(-60.0, 0.0, "dBFS"),
            ),
            Option(
                "--limit",
                "Where the target would pass the ceiling, limit peaks (look-ahead limiter) "
                "instead of lowering the gain.",
                kind="flag",
                default=False,
            ),
        ),
        aliases=("normalise", "norm"),
        enabled=lambda p: p.normalize is not None,
        by_name=frozen(normalize="peak"),
        stream=Ref("blocks", "Gain.normalized"),
        whole_signal=lambda p: p.limit,
        precheck=_precheck_normalize,
        check=_check_normalize,
    ),
    Step(
        "pad-to",
        run=Ref("apply", "pad_to"),
        describe=lambda p: p.pad_to,
        options=(
            Option("--pad-to", "Pad with zeros to this length.", metavar="SECONDS", limit=_SECONDS),
        ),
        aliases=("pad_to", "pad"),
        enabled=lambda p: p.pad_to is not None,
        needs=frozen({"": "--pad-to SECONDS"}),
        sink=True,
        exact=True,
        check=lambda p: _check_not_negative("--pad-to", p.pad_to),
    ),
    Step(
        "trim-to",
        run=Ref("apply", "trim_to"),
        describe=lambda p: p.trim_to,
        options=(Option("--trim-to", "Cut to this length.", metavar="SECONDS", limit=_SECONDS),),
        aliases=("trim_to",),
        enabled=lambda p: p.trim_to is not None,
        needs=frozen({"": "--trim-to SECONDS"}),
        sink=True,
        exact=True,
        check=_check_trim_to,
    ),
    Step(
        "segment",
        run=Ref("apply", "segment"),
        describe=_segment_value,
        options=(
            Option(
                "--segment",
                "Cut into numbered files of this length (the last holds the rest).",
                metavar="SECONDS",
                minimum=0,
                min_open=True,
                limit=(lim.SEGMENT_MIN, lim.DURATION_MAX, "s"),
            ),
            Option(
                "--overlap",
                "Overlap of consecutive segments.",
                default=0.0,
                metavar="SECONDS",
                minimum=0,
            ),
        ),
        aliases=("segments",),
        enabled=lambda p: p.segment is not None,
        needs=frozen({"": "--segment SECONDS"}),
        sink=True,
        exact=True,
        check=_check_segment,
    ),
    Step(
        "fade",
        run=Ref("apply", "fade"),
        describe=lambda p: p.fade_ms,
        options=(
            Option(
                "--fade-ms",
                "Raised-cosine fade in and out (of each segment).",
                field="fade_ms",
                metavar="MS",
                limit=(0.0, 60_000.0, "ms"),
            ),
        ),
        enabled=lambda p: p.fade_ms is not None,
        by_name=frozen(fade_ms=10.0),
        sink=True,
        check=lambda p: _check_not_negative("--fade-ms", p.fade_ms),
    ),
)

BY_NAME: Mapping[str, Step] = MappingProxyType({s.name: s for s in STEPS})
#: The default order (``--chain`` gives another).
DEFAULT_ORDER: tuple[str, ...] = tuple(s.name for s in STEPS)
#: Other names --chain accepts for a step.
ALIASES: Mapping[str, str] = MappingProxyType({a: s.name for s in STEPS for a in s.aliases})
#: Every option of every step, in ``--help`` order.
OPTIONS: tuple[Option, ...] = tuple(o for s in STEPS for o in s.options)


def step(name: str) -> Step:
    """The step of a canonical name."""
    return BY_NAME[name]


def fmt_value(value: Any) -> str:
    """A step's setting as the report shows it (floats as ``%g``)."""
    return f"{value:g}" if isinstance(value, float) else f"{value}"

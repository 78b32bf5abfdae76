"""The ``audiokit`` command line: a lazy click group over one module per subcommand.

Only this package imports click. Subcommand modules are imported when the
subcommand is used (or listed by ``--help``), and they import heavy libraries
only inside their command functions.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import warnings
from typing import Any

import click

from audiokit import __version__
from audiokit.errors import AudiokitError, ExitStatus, LockedError, UsageError, safe_text

#: subcommand name -> "module:attribute", in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "inspect": "audiokit.cli.inspect:inspect_cmd",
    "plot": "audiokit.cli.plot:plot_cmd",
    "spectrogram": "audiokit.cli.spectrogram:spectrogram_cmd",
    "features": "audiokit.cli.features:features_cmd",
    "preprocess": "audiokit.cli.preprocess:preprocess_cmd",
    "transcribe": "audiokit.cli.transcribe:transcribe_cmd",
    "train": "audiokit.cli.train:train_cmd",
    "evaluate": "audiokit.cli.train:evaluate_cmd",
    "predict": "audiokit.cli.train:predict_cmd",
    "anomaly": "audiokit.cli.anomaly:anomaly_group",
    "generate": "audiokit.cli.generate:generate_cmd",
    "check": "audiokit.cli.check:check_cmd",
    "report": "audiokit.cli.report:report_cmd",
}


# Damaged files are reported once per input by the batch engine (audiokit.quiet), not by
# Python's warning printer when the main process reads a header.
warnings.filterwarnings("ignore", message="damaged: ", category=UserWarning)

#: One line per command for ``audiokit --help`` (each command's own --help says more).
SUMMARIES: dict[str, str] = {
    "inspect": "Show what each file is and how it sounds in numbers.",
    "plot": "Draw a picture of each file, headless (PNG).",
    "spectrogram": "Draw the spectrogram of each file (dB; linear, log or mel).",
    "features": "Extract audio features into one table (file, window or frame rows).",
    "preprocess": "Prepare audio for features or training, writing new files.",
    "transcribe": "Transcribe speech to text, offline (Whisper).",
    "train": "Train a classifier on a feature table or class folders, cross-validated.",
    "evaluate": "Evaluate a classifier on held-out data.",
    "predict": "Predict the class of each file, with every class's probability.",
    "anomaly": "Anomaly detection from recordings of normal operation.",
    "generate": "Write a test signal: tones, chirps, white/pink/brown noise, silence.",
    "check": "Check files against rules (CI gate): exit 1 when one breaks a rule.",
    "report": "Describe a whole dataset on one page (HTML or Markdown): counts, outliers.",
}


class CliError(click.ClickException):
    """An error shown as one ``audiokit: ...`` line; exit code 1."""

    exit_code = int(ExitStatus.FAILED)

    def show(self, file: Any = None) -> None:
        click.echo(f"audiokit: {safe_text(self.format_message())}", err=True)


class CliUsageError(CliError):
    """A usage error shown as one ``audiokit: ...`` line; exit code 2."""

    exit_code = int(ExitStatus.USAGE)


class CliLockedError(CliError):
    """Another run holds an output: one line; exit code 75 (EX_TEMPFAIL)."""

    exit_code = int(ExitStatus.LOCKED)


class AudiokitGroup(click.Group):
    """Loads subcommands on demand and turns library errors into exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from :data:`SUMMARIES`: no command module is
        imported for it (``audiokit --help`` stays quick as commands grow)."""
        rows = [(name, SUMMARIES.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not written yet in this checkout
                return None
            raise
        cmd: click.Command = getattr(module, attr)
        return cmd

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """As click's, but a usage error is one line too: ``audiokit: <what> (see --help)``."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "audiokit"
            message = safe_text(exc.format_message()).rstrip(".")
            click.echo(f"audiokit: {message} (see '{where} --help')", err=True)
            sys.exit(int(ExitStatus.USAGE))
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("audiokit: interrupted", err=True)
            sys.exit(int(ExitStatus.INTERRUPTED))
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise CliUsageError(str(exc)) from exc
        except LockedError as exc:
            raise CliLockedError(str(exc)) from exc
        except AudiokitError as exc:
            raise CliError(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("audiokit: interrupted", err=True)
            raise click.exceptions.Exit(ExitStatus.INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`audiokit inspect dir | head`): not an error.
            _silence_stdout()
            raise click.exceptions.Exit(ExitStatus.OK) from None


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(
    cls=AudiokitGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="audiokit")
def cli() -> None:
    """Audio analysis from the command line: one file or a whole tree.

    \b
    Examples:
      audiokit inspect recordings/                 # formats, durations, levels
      audiokit features data/ -o features.parquet  # MFCC, spectral, chroma...
      audiokit spectrogram talk.wav -o talk.png --scale mel
      audiokit preprocess raw/ -o clean/ --mono --sr 16000 --normalize loudness
      audiokit transcribe interview.flac --format srt -o interview.srt

    Every command takes files, directories (searched recursively), glob
    patterns, '-' for audio on standard input and --files-from LIST.
    Exit codes: 0 all inputs done (or skipped), 1 some inputs failed, 2 usage
    error, 75 an output is in use by another run, 130 interrupted.
    """


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(args=argv, prog_name="audiokit")
    except KeyboardInterrupt:  # interrupted outside a command (e.g. while parsing)
        click.echo("audiokit: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)

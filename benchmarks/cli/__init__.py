"""The ``ramvid-bench`` command line: a lazy click group; each subcommand lives in its own module.

Subcommands are imported only when called, so a broken optional dependency of one command
never breaks the others.
"""
from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable
from typing import Any

import click

# name -> ("module:attribute" of a click.Command, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "model-info": ("benchmarks.cli.model_cmds:model_info", "Print a preset's config and parameter count."),
    "train": ("benchmarks.cli.core_cmds:train", "Train a RaMViD model (resumable)."),
    "sample": ("benchmarks.cli.core_cmds:sample", "Sample videos given known frames."),
    "fvd": ("benchmarks.cli.fvd_cmd:fvd", "Frechet Video Distance between two video sets."),
    "rescore": ("benchmarks.cli.rescore_cmd:rescore", "A run's FVD and interval again, from its features."),
    "is": ("benchmarks.cli.is_cmd:inception_score", "TGANv2 Inception Score (C3D, UCF-101)."),
    "prepare": ("benchmarks.cli.prepare_cmds:prepare", "Convert raw datasets to HDF5."),
    "protocols": ("benchmarks.cli.harness_cmds:protocols", "List the registered protocols."),
    "run": ("benchmarks.cli.harness_cmds:run", "Evaluate a checkpoint, baseline or samples on a protocol."),
    "export": ("benchmarks.cli.export_cmd:export", "Write a protocol's contexts for any method to fill in."),
    "table": ("benchmarks.cli.harness_cmds:table", "Render the paper's tables beside our results."),
    "report": ("benchmarks.cli.report_cmd:report", "HTML page: sample grids, plots, provenance."),
    "check": ("benchmarks.cli.harness_cmds:check", "Recompute stored CI rows; fail on drift."),
    "demo": ("benchmarks.cli.harness_cmds:demo", "The README's main job on embedded data."),
    "probe": ("benchmarks.cli.tools_cmds:probe", "x0 error by noise level: are known frames used?"),
    "showcase": ("benchmarks.cli.tools_cmds:showcase", "Store a training run as a slim showcase model."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target[0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in sorted(COMMANDS.items())])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ramvid-bench")
def main() -> None:
    """RaMViD video diffusion: train, sample, and benchmark with reference-exact FVD / IS."""


# Exit status: 0 success; 1 an error, printed as one line "Error: ..." on stderr (bad input file,
# missing data, a failed check); 2 a usage error found by click itself (unknown flag, bad choice).
USER_ERRORS = (ValueError, OSError, KeyError)


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message (KeyError's quotes dropped)."""
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def fail(message: str) -> None:
    """Exit with one clear line on stderr (status 1)."""
    raise click.ClickException(message)


def _warning_line(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    click.echo(f"warning: {message}", err=True)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors (bad input, missing files, a diverged run) into one line and status 1.

    Library code raises ValueError / OSError / KeyError, or an exception class marked
    ``user_error = True`` (``ramvid.training.TrainingDiverged``); anything else is a bug and keeps
    its traceback.
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():  # a warning is one line too (e.g. a cache being rebuilt)
                warnings.showwarning = _warning_line
                return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except USER_ERRORS as e:
            raise click.ClickException(first_line(e)) from None
        except Exception as e:
            if getattr(type(e), "user_error", False):
                raise click.ClickException(first_line(e)) from None
            raise

    return wrapper

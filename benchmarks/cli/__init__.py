"""The ``ramvid-bench`` command line: a lazy click group; each subcommand lives in its own module.

Subcommands are imported only when called, so a broken optional dependency of one command
never breaks the others.
"""
from __future__ import annotations

import importlib

import click

# name -> ("module:attribute" of a click.Command, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "model-info": ("benchmarks.cli.model_cmds:model_info", "Print a preset's config and parameter count."),
    "train": ("benchmarks.cli.core_cmds:train", "Train a RaMViD model (resumable)."),
    "sample": ("benchmarks.cli.core_cmds:sample", "Sample videos given known frames."),
    "fvd": ("benchmarks.cli.fvd_cmd:fvd", "Frechet Video Distance between two video sets."),
    "is": ("benchmarks.cli.is_cmd:inception_score", "TGANv2 Inception Score (C3D, UCF-101)."),
    "prepare": ("benchmarks.cli.prepare_cmds:prepare", "Convert raw datasets to HDF5."),
    "protocols": ("benchmarks.cli.harness_cmds:protocols", "List the registered protocols."),
    "run": ("benchmarks.cli.harness_cmds:run", "Evaluate a checkpoint or baseline on a protocol."),
    "table": ("benchmarks.cli.harness_cmds:table", "Render the paper's tables beside our results."),
    "check": ("benchmarks.cli.harness_cmds:check", "Recompute stored CI rows; fail on drift."),
    "demo": ("benchmarks.cli.harness_cmds:demo", "The README's main job on embedded data."),
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


def fail(message: str) -> None:
    """Exit with one clear line on stderr (status 2)."""
    raise click.ClickException(message)

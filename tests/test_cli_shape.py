"""The CLI's shape: every command and option documented, one spelling per idea, choices from tables."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from benchmarks.cli import COMMANDS, main


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    out = []
    for name in COMMANDS:
        cmd = main.get_command(ctx, name)
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]
    return out


@pytest.mark.parametrize("name,cmd", _commands(), ids=[n for n, _ in _commands()])
def test_every_option_has_help(name: str, cmd: click.Command) -> None:
    assert (cmd.help or "").strip(), f"{name}: no docstring"
    missing = [p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert not missing, f"{name}: options without help text: {missing}"


def test_one_spelling_per_idea() -> None:
    flags = {opt for _, cmd in _commands() for p in cmd.params if isinstance(p, click.Option)
             for opt in p.opts}
    assert "--no-progress" not in flags and "--quiet" in flags
    for _, cmd in _commands():
        for p in cmd.params:
            if isinstance(p, click.Option) and "--format" in p.opts:
                assert set(p.type.choices) <= {"text", "markdown", "csv"}, p.type.choices


def test_choices_come_from_the_tables() -> None:
    from metrics.inception_score import ESTIMATORS
    from ramvid.diffusion import PREDICTIONS
    from ramvid.sampling import SAMPLERS

    ctx = click.Context(main)
    sample = {p.name: p for p in main.get_command(ctx, "sample").params}
    run = {p.name: p for p in main.get_command(ctx, "run").params}
    train = {p.name: p for p in main.get_command(ctx, "train").params}
    is_cmd = {p.name: p for p in main.get_command(ctx, "is").params}
    assert list(sample["sampler"].type.choices) == list(SAMPLERS) == list(run["sampler"].type.choices)
    assert list(train["prediction"].type.choices) == list(PREDICTIONS)
    assert list(is_cmd["estimator"].type.choices) == list(ESTIMATORS)


@pytest.mark.parametrize("cmd", ["train", "sample"])
def test_dry_run_prints_the_spec(cmd: str, tmp_path) -> None:
    import json

    args = {"train": ["train", "--preset", "tiny", "--data", "shapes", "--steps", "5", "--out",
                      str(tmp_path)],
            "sample": ["sample", "--ckpt", "x.pt", "--cond", "0,1", "--out", "s.npz", "--sampler",
                       "ddim"]}[cmd]
    res = CliRunner().invoke(main, [*args, "--dry-run"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    if cmd == "train":
        assert info["spec"]["steps"] == 5 and info["preset"]["name"] == "tiny"
    else:
        assert info["cond"] == [0, 1] and info["sampling"]["sampler"] == "ddim"


@pytest.mark.parametrize("args,pattern", [
    (["train", "--preset", "tiny", "--data", "shapes", "--steps", "0", "--out", "x"],
     "--steps must be >= 1"),
    (["train", "--preset", "huge", "--data", "shapes", "--steps", "1", "--out", "x"],
     "unknown preset 'huge'"),
    (["train", "--preset", "tiny", "--data", "shapes", "--steps", "1", "--out", "x", "--lr", "0"],
     "--lr must be > 0"),
    (["sample", "--ckpt", "x.pt", "--cond", "0,a", "--out", "s.npz"], "'a' is not an integer"),
    (["sample", "--ckpt", "x.pt", "--cond", "0", "--out", "s.npz", "--frames", "0"], "--frames must be >= 2"),
    (["sample", "--ckpt", "x.pt", "--cond", "0", "--out", "s.npz", "--eta", "0.5"],
     "--eta applies to the ddim sampler only"),
    (["sample", "--ckpt", "x.pt", "--cond", "0", "--out", "s.npz", "--batch-size", "0"],
     "--batch-size must be >= 1"),
])
def test_spec_errors_are_one_line_naming_the_flag(args: list[str], pattern: str) -> None:
    res = CliRunner().invoke(main, [*args, "--dry-run"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and pattern in lines[0], res.output

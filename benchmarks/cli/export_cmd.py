"""``ramvid-bench export``: what a method may see of a protocol, in one self-describing file."""
from __future__ import annotations

import click

from benchmarks.cli import one_line_errors


@click.command("export")
@click.argument("protocol")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The contexts .npz to write.")
@click.option("--data-path", default=None, help="Prepared dataset file/folder (embedded data needs none).")
@click.option("--num-videos", type=click.IntRange(min=1), default=None,
              help="Override the protocol's number of test videos.")
@click.option("--samples-per-video", type=click.IntRange(min=1), default=None,
              help="Override samples per test video.")
@click.option("--protocols", "protocols_file", default=None,
              help="A TOML file of your own protocols, added to the registered ones.")
@one_line_errors
def export(protocol: str, out: str, data_path: str | None, num_videos: int | None,
           samples_per_video: int | None, protocols_file: str | None) -> None:
    """Write PROTOCOL's contexts: known frames (unknown ones zeroed), cond, keys, seeds, digest.

    Fill in the unknown frames with any method, save uint8 [K, T, H, W, 3] in the file's key order,
    and score them with `ramvid-bench run PROTOCOL --samples FILE --method-name NAME`.

    \b
    Example:
      ramvid-bench export shapes-prediction --out contexts.npz
      python my_method.py contexts.npz samples.npy
      ramvid-bench run shapes-prediction --samples samples.npy --method-name mine
    """
    from benchmarks.contexts import export_contexts
    from benchmarks.protocol_files import registry_with
    from benchmarks.runner import open_source

    p = registry_with(protocols_file).get(protocol).replace(num_videos=num_videos,
                                                            samples_per_video=samples_per_video)
    path = export_contexts(p, open_source(p, data_path), out)
    total = p.num_videos * p.samples_per_video * p.repeats
    click.echo(f"{p.key}: {p.num_videos} contexts (known frames {list(p.cond)}), {total} keys -> {path}")

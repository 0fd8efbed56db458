"""One name, one meaning: constants that metrics/ and ramvid/ each keep (neither imports the other)."""
from __future__ import annotations

import ast
from pathlib import Path

import metrics._io
import metrics.videos
import ramvid.checkpoint
import ramvid.data.decode

ROOT = Path(__file__).resolve().parents[1]

def test_video_extensions_agree():
    # ``prepare videos`` (ramvid) and ``fvd FOLDER`` (metrics) must accept the same files.
    assert ramvid.data.decode.VIDEO_EXTENSIONS == metrics.videos.VIDEO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in metrics.videos.VIDEO_EXTENSIONS)


def test_file_sha256_copies_agree(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(256)) * 20_000)  # > one 4 MiB chunk
    assert ramvid.checkpoint.file_sha256(path) == metrics._io.file_sha256(path)


# Names defined at module level in both ramvid/ and metrics/: each pair is a deliberate copy with the
# same meaning (metrics/ stands alone). Any other shared name must be renamed, as ``decode_video``
# (now metrics' ``read_video_file``), ``check_videos`` (``as_video_tensor``) and ``Batches``
# (``VideoBatches``) were.
SAME_MEANING_COPIES = {"VIDEO_EXTENSIONS", "atomic_path", "file_sha256", "resolve_device"}


def _public_top_level_names(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_ramvid_and_metrics_share_only_same_meaning_names():
    shared = _public_top_level_names("ramvid") & _public_top_level_names("metrics")
    assert shared == SAME_MEANING_COPIES, (
        f"defined in both ramvid/ and metrics/: {sorted(shared - SAME_MEANING_COPIES)} (rename one, or "
        f"add it to SAME_MEANING_COPIES if both mean the same); gone: {sorted(SAME_MEANING_COPIES - shared)}")

"""CRC-32C, TFRecord framing and tf.train.Example decoding against test-written files.

The writers below (also used by test_prepare_bair.py) produce the true formats independently of
the reader: a minimal protobuf encoder and TFRecord framing with masked CRC-32C.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ramvid.data import crc32c as crc
from ramvid.data.crc32c import crc32c_numpy
from ramvid.data.tfrecord import parse_example, read_records


def _masked(data: bytes) -> int:
    c = crc32c_numpy(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def encode_example(features: dict) -> bytes:
    """bytes -> BytesList, float arrays -> packed FloatList, int lists -> packed Int64List."""
    entries = b""
    for name, value in features.items():
        if isinstance(value, bytes):
            feat = _field(1, _field(1, value))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            feat = _field(2, _field(1, value.astype("<f4").tobytes()))
        else:
            feat = _field(3, _field(1, b"".join(_varint(int(v) & (2 ** 64 - 1)) for v in value)))
        entries += _field(1, _field(1, name.encode()) + _field(2, feat))
    return _field(1, entries)


def frame_record(payload: bytes) -> bytes:
    head = struct.pack("<Q", len(payload))
    return head + struct.pack("<I", _masked(head)) + payload + struct.pack("<I", _masked(payload))


def bair_example(frames_aux: np.ndarray, frames_main: np.ndarray) -> bytes:
    feats: dict = {}
    for t in range(len(frames_aux)):
        feats[f"{t}/action"] = np.arange(4, dtype=np.float32) + t
        feats[f"{t}/endeffector_pos"] = np.array([0.5, -1.0, 2.0], np.float32)
        feats[f"{t}/image_aux1/encoded"] = frames_aux[t].tobytes()
        feats[f"{t}/image_main/encoded"] = frames_main[t].tobytes()
    return encode_example(feats)


def write_tfrecord(path: Path, payloads: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(frame_record(p) for p in payloads))


def test_crc32c_known_values_and_long_buffers():
    assert crc.crc32c_numpy(b"123456789") == 0xE3069283
    assert crc.crc32c_numpy(b"") == 0
    assert crc.crc32c_numpy(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vector
    rng = np.random.default_rng(0)
    for n in (4095, 4096, 4097, 9000, 70001):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc.crc32c_numpy(data) == crc._raw_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
        assert crc.crc32c(data) == crc.crc32c_numpy(data)  # optional C path agrees when installed


def test_example_roundtrip_all_feature_kinds():
    payload = encode_example({"img": b"\x00\x01\x02", "f": np.array([1.5, -2.0], np.float32),
                              "i": [3, -7, 2 ** 40]})
    out = parse_example(payload)
    assert out["img"] == [b"\x00\x01\x02"]
    np.testing.assert_array_equal(out["f"], [1.5, -2.0])
    np.testing.assert_array_equal(out["i"], [3, -7, 2 ** 40])
    assert set(parse_example(payload, keys={"f"})) == {"f"}


def test_records_and_corruption(tmp_path):
    path = tmp_path / "x.tfrecords"
    payloads = [b"a" * 10, b"b" * 5000, b"c"]
    write_tfrecord(path, payloads)
    recs = list(read_records(path))
    assert [r.payload for r in recs] == payloads and not any(r.error for r in recs)

    data = bytearray(path.read_bytes())
    data[12 + 3] ^= 0xFF  # flip a payload byte of record 0: its data CRC fails, framing still valid
    path.write_bytes(bytes(data))
    recs = list(read_records(path))
    assert recs[0].payload is None and "payload CRC" in recs[0].error and not recs[0].fatal
    assert [r.payload for r in recs[1:]] == payloads[1:]

    first = frame_record(payloads[0])
    bad_len = bytearray(first)
    bad_len[9] ^= 0x01  # corrupt the length CRC: the rest of the file cannot be trusted
    path.write_bytes(first + bytes(bad_len) + first)
    recs = list(read_records(path))
    assert len(recs) == 2 and recs[1].fatal and "length CRC" in recs[1].error

    path.write_bytes(first + first[:-7])  # truncated payload
    recs = list(read_records(path))
    assert recs[0].payload == payloads[0] and recs[1].fatal and "truncated" in recs[1].error


def test_truncated_protobuf_raises_value_error():
    payload = encode_example({"img": b"x" * 100})
    with pytest.raises(ValueError):
        parse_example(payload[:-50])

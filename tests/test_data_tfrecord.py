"""CRC-32C (google-crc32c against a bytewise reference), TFRecord framing and tf.train.Example
decoding against test-written files.

The writers (fixtures encode_example, frame_record, write_tfrecord in conftest.py, shared with
test_prepare_bair.py) produce the true formats independently of the reader: a minimal protobuf
encoder and TFRecord framing with masked CRC-32C.
"""
from __future__ import annotations

import google_crc32c
import numpy as np
import pytest

from ramvid.data.tfrecord import masked_crc32c, parse_example, read_records


def _crc32c_bytewise(data: bytes) -> int:
    """Reference CRC-32C, straight from the definition (reflected polynomial 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    c = google_crc32c.value(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_crc32c_known_values_and_long_buffers():
    for crc32c in (google_crc32c.value, _crc32c_bytewise):
        assert crc32c(b"123456789") == 0xE3069283
        assert crc32c(b"") == 0
        assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vector
    rng = np.random.default_rng(0)
    for n in (4095, 4096, 4097, 9000, 70001):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert google_crc32c.value(data) == _crc32c_bytewise(data)
        assert masked_crc32c(data) == _masked(data) == masked_crc32c(memoryview(data))


def test_example_roundtrip_all_feature_kinds(encode_example):
    payload = encode_example({"img": b"\x00\x01\x02", "f": np.array([1.5, -2.0], np.float32),
                              "i": [3, -7, 2 ** 40]})
    out = parse_example(payload)
    assert out["img"] == [b"\x00\x01\x02"]
    np.testing.assert_array_equal(out["f"], [1.5, -2.0])
    np.testing.assert_array_equal(out["i"], [3, -7, 2 ** 40])
    assert set(parse_example(payload, keys={"f"})) == {"f"}


def test_records_and_corruption(tmp_path, write_tfrecord, frame_record):
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


def test_truncated_protobuf_raises_value_error(encode_example):
    payload = encode_example({"img": b"x" * 100})
    with pytest.raises(ValueError):
        parse_example(payload[:-50])

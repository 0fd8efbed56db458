"""TFRecord framing and ``tf.train.Example`` decoding without TensorFlow.

A TFRecord file is a sequence of records: u64 little-endian length, u32 masked CRC-32C of those 8
bytes, the payload, u32 masked CRC-32C of the payload. A bad payload CRC skips that record only (the
framing is still trusted); a bad length CRC or a truncated record ends the file (no way to resync).
CRC-32C itself comes from ``google-crc32c`` (C, with a pure-Python fallback inside the package).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np

MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """TFRecord's masked CRC-32C: rotate right by 15 and add a constant (mod 2**32)."""
    c = int(google_crc32c.value(bytes(data)))
    return (((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class Record:
    """One framed record: ``payload`` is None when ``error`` says why it could not be read."""

    index: int
    payload: bytes | None
    error: str = ""
    fatal: bool = False  # True: the rest of the file is unreadable


def read_records(path: str | Path, check_crc: bool = True) -> Iterator[Record]:
    """Yield every record of a TFRecord file; corrupt ones as ``Record(payload=None, error=...)``."""
    with open(path, "rb") as f:
        index = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                yield Record(index, None, f"truncated header ({len(head)} of 12 bytes)", True)
                return
            (length,), (length_crc,) = struct.unpack("<Q", head[:8]), struct.unpack("<I", head[8:])
            if check_crc and masked_crc32c(head[:8]) != length_crc:
                yield Record(index, None, "length CRC mismatch", True)
                return
            body = f.read(length + 4)
            if len(body) < length + 4:
                yield Record(index, None, f"truncated payload ({len(body)} of {length + 4} bytes)", True)
                return
            payload, (data_crc,) = body[:length], struct.unpack("<I", body[length:])
            if check_crc and masked_crc32c(payload) != data_crc:
                yield Record(index, None, "payload CRC mismatch")
            else:
                yield Record(index, payload)
            index += 1


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): value is an int (wire 0/1/5 raw) or a memoryview (wire 2)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("length-delimited field runs past the message")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _feature(buf: memoryview) -> list[bytes] | np.ndarray:
    """Decode a ``Feature``: BytesList (1) -> list of bytes, FloatList (2) float32, Int64List (3) int64."""
    for kind, _, body in _fields(buf):
        if kind == 1:
            return [bytes(v) for f, _, v in _fields(body) if f == 1]
        if kind == 2:
            parts = [np.frombuffer(v, "<f4") for f, _, v in _fields(body) if f == 1]
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if kind == 3:
            vals: list[int] = []
            for f, wire, v in _fields(body):
                if f != 1:
                    continue
                if wire == 0:
                    vals.append(v)
                else:  # packed
                    p = 0
                    while p < len(v):
                        x, p = _varint(v, p)
                        vals.append(x)
            return np.array([x - (1 << 64) if x >> 63 else x for x in vals], np.int64)
    return []


def parse_example(payload: bytes, keys: set[str] | None = None) -> dict[str, list[bytes] | np.ndarray]:
    """Decode a serialized ``tf.train.Example`` into {feature name: values}; only ``keys`` if given."""
    out: dict[str, list[bytes] | np.ndarray] = {}
    for f, _, features in _fields(memoryview(payload)):
        if f != 1:
            continue
        for g, _, entry in _fields(features):
            if g != 1:
                continue
            name, value = "", None
            for h, _, v in _fields(entry):
                if h == 1:
                    name = bytes(v).decode()
                elif h == 2:
                    value = v
            if value is not None and (keys is None or name in keys):
                out[name] = _feature(value)
    return out

"""A reader model's bytes: a small JSON header and raw numpy arrays, zlib-compressed; never pickle.

Layout: b"PWRM" · version byte · uint32 header length · JSON header (array names, dtypes, shapes) ·
zlib(the arrays' bytes, one after another). Reading is `np.frombuffer` per array: ≈ 0.1 ms a model.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

MAGIC = b"PWRM"
VERSION = 1
ALLOWED_DTYPES = frozenset({"float16", "float32", "int32", "int64", "uint16", "uint32"})


class ModelFormatError(ValueError):
    """The bytes are not a reader model this version can read."""


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    layout = []
    payload = bytearray()
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        layout.append([name, array.dtype.name, list(array.shape)])
        payload += array.tobytes()
    head = json.dumps({**header, "arrays": layout}, separators=(",", ":")).encode("utf-8")
    return MAGIC + bytes([VERSION]) + struct.pack("<I", len(head)) + head + zlib.compress(bytes(payload), 3)


def unpack(data: bytes, format_version: int, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and arrays `pack` wrote for a `what` (a reader model, a term embedding) whose header says
    `format_version`; ModelFormatError for anything else."""
    header, arrays = _unpack(data)
    if header.get("format") != format_version:
        raise ModelFormatError(f"unknown {what} format {header.get('format')!r}")
    return header, arrays


def _unpack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if len(data) < 9 or data[:4] != MAGIC:
        raise ModelFormatError("not a paperwire reader model")
    if data[4] != VERSION:
        raise ModelFormatError(f"reader model format {data[4]} (this version reads {VERSION})")
    (length,) = struct.unpack("<I", data[5:9])
    try:
        header = json.loads(data[9 : 9 + length].decode("utf-8"))
        payload = zlib.decompress(data[9 + length :])
    except (ValueError, zlib.error) as error:
        raise ModelFormatError(f"damaged reader model: {error}") from error
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for name, dtype, shape in header.pop("arrays", []):
        if dtype not in ALLOWED_DTYPES:
            raise ModelFormatError(f"unexpected array type {dtype!r}")
        count = int(np.prod(shape, dtype=np.int64))
        size = count * np.dtype(dtype).itemsize
        if offset + size > len(payload):
            raise ModelFormatError("damaged reader model: arrays shorter than the header says")
        arrays[name] = np.frombuffer(payload, dtype=dtype, count=count, offset=offset).reshape(shape)
        offset += size
    return header, arrays

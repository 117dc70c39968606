"""Results as bytes that reading can never turn into running code: a JSON outline plus raw array buffers.

The result cache may sit in a folder other people can write to (a shared ``TTV_CACHE_DIR``), so what
it reads back must be data, never instructions. A pickle is instructions: unpickling a planted entry
runs whatever it names. This codec writes a value tree as

    MAGIC | outline size, data size (uint64 LE), CRC-32 of both (uint32 LE) | outline | data

The *outline* is UTF-8 JSON of the tree; what JSON cannot hold is a JSON object tagged by its ``"$"``
key: ``array`` and ``scalar`` (a dtype such as ``"<f4"``, a shape and an offset into *data*), ``bytes``,
``tuple``, ``dict`` (keys other than strings, or a ``"$"`` key) and ``dataclass`` (a name from
:data:`DATACLASSES` and its fields). Decoding builds nothing else: an unknown tag, dtype or class name,
a short or altered blob (the CRC) raises :class:`CodecError`. Arrays come back as fresh, writable
copies (as from a pickle), floats exactly (JSON's ``NaN`` and ``Infinity`` included), tuples as tuples.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import re
import struct
import zlib
from typing import Any, Callable

import numpy as np

MAGIC = b"ttv-res1"  # the format's version is its last character
_HEAD = struct.Struct("<QQI")
_DTYPE = re.compile(r"[<>|=]?[biufc]\d{1,2}")  # numbers and booleans only: never object, void or text dtypes

# The only classes a stored value may hold, by name -> (module, class); decoding imports nothing else.
DATACLASSES = {
    "EpochResult": ("ttv_core.run.results", "EpochResult"),
    "TrustMap": ("ttv_core.fit.active", "TrustMap"),
    "Territory": ("ttv_core.draw.territory", "Territory"),
    "Extent": ("ttv_core.canvas", "Extent"),
}


class CodecError(ValueError):
    """A blob that is not a value this codec wrote: damaged, cut short, or never one of ours."""


def _dataclass(name: str) -> type:
    if name not in DATACLASSES:
        raise CodecError(f"unknown class {name!r} (the codec builds only {sorted(DATACLASSES)})")
    module, attribute = DATACLASSES[name]
    return getattr(importlib.import_module(module), attribute)


def encode(value: Any) -> bytes:
    """``value`` as bytes :func:`decode` turns back into an equal value.

    ``value`` is a tree of dict, list, tuple, str, int, float, bool, None, bytes, numeric or bool numpy
    arrays and scalars, and the dataclasses of :data:`DATACLASSES`. Anything else raises TypeError
    (it would be a new kind of result that this codec must learn first).
    """
    buffers: list[Any] = []
    size = 0

    def add(data) -> int:
        nonlocal size
        buffers.append(data)
        size, offset = size + len(data), size
        return offset

    text = json.dumps(_outline(value, add), separators=(",", ":"), allow_nan=True).encode()
    crc = zlib.crc32(text)
    for data in buffers:
        crc = zlib.crc32(data, crc)
    return b"".join([MAGIC, _HEAD.pack(len(text), size, crc), text, *buffers])


def _outline(value: Any, add: Callable[[Any], int]) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:  # exact through JSON: repr round-trips, NaN and Infinity included
        return value
    if kind is np.ndarray or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise TypeError(f"cannot store a numpy {array.dtype} value in the result cache (numbers and booleans only)")
        data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        tag = "scalar" if kind is not np.ndarray else "array"
        return {"$": tag, "dtype": array.dtype.str, "shape": list(array.shape), "at": add(data.data)}
    if kind is bytes:
        return {"$": "bytes", "size": len(value), "at": add(value)}
    if kind is list:
        return [_outline(item, add) for item in value]
    if kind is tuple:
        return {"$": "tuple", "items": [_outline(item, add) for item in value]}
    if kind is dict:
        if all(type(key) is str for key in value) and "$" not in value:
            return {key: _outline(item, add) for key, item in value.items()}
        return {"$": "dict", "items": [[_outline(key, add), _outline(item, add)] for key, item in value.items()]}
    if kind.__name__ in DATACLASSES and _dataclass(kind.__name__) is kind:
        fields = {field.name: _outline(getattr(value, field.name), add)
                  for field in dataclasses.fields(value) if field.init}
        return {"$": "dataclass", "name": kind.__name__, "fields": fields}
    raise TypeError(f"cannot store a {kind.__module__}.{kind.__qualname__} in the result cache; "
                    "teach ttv_core.run.codec this type first")


def decode(blob: Any) -> Any:
    """The value :func:`encode` wrote into ``blob``; :class:`CodecError` for anything else."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected bytes, found a {type(blob).__name__}")
    view = memoryview(blob).cast("B")
    start = len(MAGIC) + _HEAD.size
    if len(view) < start or bytes(view[: len(MAGIC)]) != MAGIC:
        raise CodecError("not a ttv result (no ttv-res1 header)")
    text_size, data_size, crc = _HEAD.unpack(view[len(MAGIC) : start])
    if len(view) != start + text_size + data_size:
        raise CodecError(f"{len(view)} bytes where the header promises {start + text_size + data_size} (cut short?)")
    text, data = view[start : start + text_size], view[start + text_size :]
    if zlib.crc32(data, zlib.crc32(text)) != crc:
        raise CodecError("its checksum does not match (the bytes were altered)")
    try:
        return _build(json.loads(bytes(text)), data)
    except CodecError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as error:
        raise CodecError(f"a malformed outline ({type(error).__name__}: {error})") from None


def _build(node: Any, data: memoryview) -> Any:
    if isinstance(node, list):
        return [_build(item, data) for item in node]
    if not isinstance(node, dict):
        return node  # None, bool, int, float, str: JSON's own
    if "$" not in node:
        return {key: _build(item, data) for key, item in node.items()}
    tag = node["$"]
    if tag in ("array", "scalar"):
        array = _array(node, data)
        return array if tag == "array" else array.reshape(-1)[0]
    if tag == "bytes":
        return bytes(_span(data, node["at"], node["size"]))
    if tag == "tuple":
        return tuple(_build(item, data) for item in node["items"])
    if tag == "dict":
        return {_build(key, data): _build(item, data) for key, item in node["items"]}
    if tag == "dataclass":
        fields = node["fields"]
        if not isinstance(fields, dict):
            raise CodecError("a dataclass's fields are not an object")
        return _dataclass(node["name"])(**{name: _build(item, data) for name, item in fields.items()})
    raise CodecError(f"unknown tag {tag!r}")


def _array(node: dict, data: memoryview) -> np.ndarray:
    dtype_text, shape = node["dtype"], node["shape"]
    if not isinstance(dtype_text, str) or not _DTYPE.fullmatch(dtype_text):
        raise CodecError(f"dtype {dtype_text!r} is not a numeric or bool dtype")
    dtype = np.dtype(dtype_text)
    if dtype.kind not in "biufc" or not isinstance(shape, list) or \
            not all(type(n) is int and n >= 0 for n in shape) or (node["$"] == "scalar" and shape):
        raise CodecError(f"a malformed array ({dtype_text}, shape {shape!r})")
    count = math.prod(shape)
    array = np.empty(shape, dtype)
    if count:
        array.reshape(-1).view(np.uint8)[:] = np.frombuffer(_span(data, node["at"], count * dtype.itemsize), np.uint8)
    return array


def _span(data: memoryview, at: Any, size: Any) -> memoryview:
    if type(at) is not int or type(size) is not int or at < 0 or size < 0 or at + size > len(data):
        raise CodecError(f"a buffer at {at!r} of {size!r} bytes lies outside the {len(data)} data bytes")
    return data[at : at + size]

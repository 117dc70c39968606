"""The result cache's codec: exact round trips of what ttv stores, and nothing but data read back."""

import dataclasses
import json
import pickle
import struct
import zlib

import numpy as np
import pytest

from ttv_core.canvas import Extent
from ttv_core.draw.territory import Territory
from ttv_core.fit.active import TrustMap
from ttv_core.run.codec import MAGIC, CodecError, decode, encode
from ttv_core.run.visualize import EpochResult


def assert_same(decoded, original, where="value"):
    """Equal, and of the same types all the way down (tuple vs list, dtype, shape, dataclass)."""
    assert type(decoded) is type(original), f"{where}: {type(decoded)} != {type(original)}"
    if isinstance(original, np.ndarray):
        assert decoded.dtype == original.dtype and decoded.shape == original.shape, where
        np.testing.assert_array_equal(decoded, original, err_msg=where)
    elif isinstance(original, dict):
        assert list(decoded) == list(original), where
        for (key, item), (original_key, original_item) in zip(decoded.items(), original.items()):
            assert_same(key, original_key, f"{where} key")
            assert_same(item, original_item, f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(decoded) == len(original), where
        for index, (item, original_item) in enumerate(zip(decoded, original)):
            assert_same(item, original_item, f"{where}[{index}]")
    elif dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            assert_same(getattr(decoded, field.name), getattr(original, field.name), f"{where}.{field.name}")
    elif isinstance(original, (float, np.floating)) and np.isnan(original):
        assert np.isnan(decoded), where
    else:
        assert decoded == original, where
        if isinstance(original, float):
            assert np.copysign(1, decoded) == np.copysign(1, original), where  # -0.0 stays negative


def _tree():
    rng = np.random.default_rng(0)
    return {
        "ints": [0, -1, 2**70, True, False, None], "floats": (0.1, -0.0, float("nan"), float("inf"), -float("inf"), 1e-310),
        "text": "épochs \u2013 \U0001f600", "bytes": b"\x89PNG\r\n\x00\xff", "empty": ((), [], {}, b"", ""),
        "arrays": [rng.normal(size=(5, 3)).astype(dtype) for dtype in ("f2", "f4", "f8", ">f8", "c8", "c16")]
        + [np.arange(-4, 4, dtype=dtype) for dtype in ("i1", "i2", "i4", "i8", ">i4")]
        + [np.arange(6, dtype=dtype) for dtype in ("u1", "u2", "u4", "u8")]
        + [np.array([True, False]), np.zeros((0, 2), np.float32), np.zeros(0, bool), np.array(3.5),
           np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(20, dtype=np.int64)[::3], np.array([np.nan])],
        "scalars": [np.float32(1.5), np.float64(np.nan), np.int64(-7), np.uint8(200), np.bool_(True), np.complex64(1 - 2j)],
        "keys": {1: "one", (2, "b"): [3], np.int64(4): None, "$": "a dollar key"},
        "nested": {"a": {"b": {"c": [({"d": (1,)},)]}}},
    }


def test_round_trip_is_exact():
    tree = _tree()
    assert_same(decode(encode(tree)), tree)
    for value in (None, 0, "x", 1.25, b"", [], (), {}, np.float32(2), np.zeros((2, 0, 3), np.int16)):
        assert_same(decode(encode(value)), value)


def _state(rng):
    return {"config": {"graph": {"n_neighbors": 15, "metric": "euclidean"}, "model": {"hidden": (64, 32)}, "seed": 0},
            "dim": 8, "weights": {"encoder.0.weight": rng.normal(size=(64, 8)).astype(np.float32),
                                  "encoder.0.bias": np.zeros(64, np.float32)},
            "history": [{"loss": 1.0, "umap": 0.5}, {"loss": float("nan"), "umap": 0.25}],
            "canvas": {"layout_size": 1.5, "scale": np.float64(1.0), "spread": 2.0},
            "proxies": {"centres": rng.normal(size=(4, 8)).astype(np.float32), "sizes": np.arange(4)}, "keyframe": True}


def test_the_results_ttv_stores_round_trip():
    rng = np.random.default_rng(1)
    extent = Extent(-1.0, -2.0, 3.0, np.float32(4.0))
    masks = [rng.random((6, 6)) < p for p in (0.5, 0.2, 0.1)]
    trust = TrustMap(extent, 6, masks[0], masks[1] & masks[0], masks[2] & masks[0])
    result = EpochResult(3, "al", "k" * 64, {"train": rng.normal(size=(50, 2)).astype(np.float32),
                                               "test": np.zeros((0, 2), np.float32)}, _state(rng), trust, 1.25)
    territory = Territory(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8), rng.integers(0, 3, (6, 6)),
                          rng.random((6, 6)).astype(np.float32), extent)
    predictions = {"predicted": np.arange(5, dtype=np.int16), "confidence": rng.random(5).astype(np.float32)}
    figures = {"ppr_train": np.float64(0.9), "nn_test": None, "k": 15, "tnn": float("nan")}
    for value in (result, territory, predictions, figures, b"\x89PNG frame", EpochResult(1, "umap", "u", {})):
        assert_same(decode(encode(value)), value)
    again = decode(encode(territory))
    assert not again.image.flags.writeable  # Territory's own __post_init__ ran on the decoded arrays
    arrays = decode(encode(result)).embeddings
    arrays["train"][0] = 7.0  # like a pickle's: writable copies, not views of the cached bytes


@pytest.mark.parametrize("value", [
    np.array([object()]), np.array(["text"]), np.array([b"x"]), np.zeros(2, [("a", "f4")]), np.datetime64("2024-01-01"),
    np.str_("x"), {1, 2}, frozenset(), bytearray(b"x"), object(), json, Extent, dataclasses.make_dataclass("Point", ["x"])(1),
    {"config": [{"nested": {3j}}]}, type("MyDict", (dict,), {})(), type("MyTuple", (tuple,), {})(),
])
def test_what_it_cannot_store_is_refused_when_storing(value):
    with pytest.raises(TypeError, match="cannot store"):
        encode(value)


def _blob(outline, data=b""):
    """A well-formed blob (right header and checksum) around a hand-made outline."""
    text = json.dumps(outline).encode()
    return MAGIC + struct.pack("<QQI", len(text), len(data), zlib.crc32(data, zlib.crc32(text))) + text + data


@pytest.mark.parametrize("blob, reason", [
    ("a string", "expected bytes"), (42, "expected bytes"), (b"", "no ttv-res1 header"),
    (pickle.dumps({"a": 1}), "no ttv-res1 header"),
    (_blob({"$": "pickle", "data": "gASVAAAA"}), "unknown tag 'pickle'"),
    (_blob({"$": "dataclass", "name": "Popen", "fields": {"args": "touch x"}}), "unknown class 'Popen'"),
    (_blob({"$": "dataclass", "name": "subprocess.Popen", "fields": {}}), "unknown class"),
    (_blob({"$": "dataclass", "name": "Extent", "fields": {"x_min": 1.0}}), "malformed"),
    (_blob({"$": "dataclass", "name": "Extent", "fields": [1, 2]}), "not an object"),
    (_blob({"$": "array", "dtype": "|O", "shape": [1], "at": 0}, b"\0" * 8), "not a numeric"),
    (_blob({"$": "array", "dtype": "|V8", "shape": [1], "at": 0}, b"\0" * 8), "not a numeric"),
    (_blob({"$": "array", "dtype": "O", "shape": [1], "at": 0}, b"\0" * 8), "not a numeric"),
    (_blob({"$": "array", "dtype": "<f4", "shape": [4], "at": 0}, b"\0" * 8), "outside the 8 data bytes"),
    (_blob({"$": "array", "dtype": "<f4", "shape": [-1], "at": 0}, b"\0" * 8), "malformed array"),
    (_blob({"$": "bytes", "size": 4, "at": -2}, b"\0" * 8), "outside"),
    (_blob({"$": "dict", "items": [[[1], 2]]}), "malformed"),
    (_blob({"$": "tuple"}), "malformed"),
])
def test_decoding_refuses_what_the_codec_did_not_write(blob, reason):
    with pytest.raises(CodecError, match=reason):
        decode(blob)


def test_a_cut_short_or_altered_blob_is_refused():
    blob = encode({"train": np.arange(1000, dtype=np.float32), "note": "x"})
    for size in (0, 5, len(MAGIC) + 4, len(blob) // 2, len(blob) - 1):
        with pytest.raises(CodecError):
            decode(blob[:size])
    with pytest.raises(CodecError, match="cut short"):
        decode(blob + b"\0")
    altered = bytearray(blob)
    altered[-100] ^= 0x01  # one bit of an array's value
    with pytest.raises(CodecError, match="checksum"):
        decode(bytes(altered))


def test_decoding_never_unpickles(monkeypatch):
    blob = encode(EpochResult(1, "proxy", "k", {"train": np.ones((3, 2), np.float32)}, _state(np.random.default_rng(2))))

    def refuse(*args, **kwargs):
        raise AssertionError("the codec unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert decode(blob).state["weights"]["encoder.0.weight"].shape == (64, 8)

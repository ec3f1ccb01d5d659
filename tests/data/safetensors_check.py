#!/usr/bin/env python3
"""An independent safetensors reader and writer, standard library only.

    safetensors_check.py check FILE   strict layout check of a file written by
                                      the runtime's test (exit 0 if it holds)
    safetensors_check.py write FILE   writes F16/BF16/I32/U8/F32/I64 tensors
                                      for the runtime's loader to read
"""
import json
import struct
import sys

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
FMT = {"F32": "f", "I64": "q"}


def fail(msg):
    print("safetensors_check: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("header length %d past the end" % n)
    if n % 8:
        fail("header length %d not a multiple of 8" % n)
    text = blob[8:8 + n].decode("utf-8")
    body = text.rstrip(" ")
    if not (body.startswith("{") and body.endswith("}")):
        fail("header not a JSON object padded with spaces: %r" % text[:40])
    header = json.loads(text)
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    spans = []
    tensors = {}
    for name, e in header.items():
        if set(e) != {"dtype", "shape", "data_offsets"}:
            fail("%s: keys %s" % (name, sorted(e)))
        dt, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        numel = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("%s: bad dim %r" % (name, d))
            numel *= d
        if end - b != numel * SIZES[dt]:
            fail("%s: offsets %d..%d for %s %s" % (name, b, end, dt, shape))
        spans.append((b, end, name))
        vals = list(struct.unpack("<%d%s" % (numel, FMT[dt]), data[b:end])) if dt in FMT else None
        tensors[name] = (dt, shape, vals)
    # like the reference implementation: the spans tile the data section exactly
    at = 0
    for b, end, name in sorted(spans):
        if b != at:
            fail("%s: starts at %d, expected %d" % (name, b, at))
        at = end
    if at != len(data):
        fail("data section is %d bytes, tensors cover %d" % (len(data), at))
    return list(header), tensors, meta


def check(path):
    order, t, meta = read(path)
    want = {
        "a": ("F32", [2, 3], [i * 0.5 - 1 for i in range(6)]),
        "b": ("I64", [3], [-(1 << 40), 0, 7]),
        "c": ("F32", [3, 2], [0, 3, 1, 4, 2, 5]),
        "s": ("F32", [], [2.5]),
        "e": ("I64", [0, 4], []),
    }
    if order != list(want):
        fail("order %s" % order)
    for name, w in want.items():
        if t[name] != w:
            fail("%s: got %s, want %s" % (name, t[name], w))
    if meta != {"step": "12", "note": 'h\u00e9llo "q"'}:
        fail("metadata %s" % meta)
    print("safetensors_check: ok")


def write(path):
    def bf16(x):
        return struct.pack("<f", x)[2:]  # the top half of the little-endian float

    parts = [
        ("h", "F16", [2, 3], struct.pack("<6e", 1.0, -2.0, 0.5, 65504.0, 2.0 ** -24, float("inf"))),
        ("bf", "BF16", [3], bf16(1.5) + bf16(-3.0) + bf16(0.1)),
        ("i32", "I32", [2, 2], struct.pack("<4i", -5, 2147483647, -2147483648, 0)),
        ("u8", "U8", [4], bytes([0, 1, 200, 255])),
        ("f", "F32", [2], struct.pack("<2f", 0.1, -7.0)),
        ("l", "I64", [2], struct.pack("<2q", 1 << 62, -3)),
    ]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dt, shape, raw in parts:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "write"):
        fail("usage: safetensors_check.py check|write FILE")
    (check if sys.argv[1] == "check" else write)(sys.argv[2])

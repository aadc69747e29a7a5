"""Minimal MATLAB v5 .mat reader and writer for the tests (numpy only; scipy is not assumed): reads
the numeric arrays of a file (zlib-compressed elements included), writes 2-D uint8 arrays uncompressed.
Written from the format's published layout (a 128-byte header, then tagged data elements)."""
import struct, zlib
import numpy as np

_DT = {1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16, 5: np.int32, 6: np.uint32, 7: np.float32,
       9: np.float64, 12: np.int64, 13: np.uint64}


def _elements(buf):
    pos = 0
    while pos + 8 <= len(buf):
        typ, n = struct.unpack_from("<II", buf, pos)
        if typ >> 16:  # small element: size in the upper half, data in the tag's last 4 bytes
            yield typ & 0xFFFF, buf[pos + 4:pos + 4 + (typ >> 16)]
            pos += 8
            continue
        yield typ, buf[pos + 8:pos + 8 + n]
        pos += 8 + n + ((-n) % 8 if typ != 15 else 0)


def load(path):
    """{name: numpy array (rows x columns as MATLAB shows them)} of the numeric arrays in path."""
    raw = open(path, "rb").read()
    assert raw[126:128] == b"IM", "little-endian MAT v5 only"
    out = {}
    todo = list(_elements(raw[128:]))
    while todo:
        typ, data = todo.pop(0)
        if typ == 15:
            todo[0:0] = list(_elements(zlib.decompress(data)))
            continue
        if typ != 14:
            continue
        sub = list(_elements(data))
        dims = np.frombuffer(sub[1][1], np.int32)
        name = sub[2][1].decode()
        if len(sub) < 4 or sub[3][0] not in _DT:
            continue
        a = np.frombuffer(sub[3][1], _DT[sub[3][0]])
        out[name] = a.reshape(tuple(dims[::-1])).transpose()
    return out


def _elem(typ, payload):
    return struct.pack("<II", typ, len(payload)) + payload + b"\0" * ((-len(payload)) % 8)


def save_uint8(path, name, a):
    """Writes 2-D array a as the uint8 variable name of a MAT v5 file."""
    a = np.asarray(a, np.uint8)
    head = b"MATLAB 5.0 MAT-file, written by lvit tests/mat5.py".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    body = (_elem(6, struct.pack("<II", 9, 0)) + _elem(5, struct.pack("<ii", *a.shape)) + _elem(1, name.encode())
            + _elem(2, a.transpose().tobytes()))
    open(path, "wb").write(head + _elem(14, body))

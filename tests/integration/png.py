"""Just enough of PNG to read a browser's screenshot back (8-bit RGB or RGBA, not interlaced),
so a test can look at the pixels without an imaging library."""

import struct
import zlib
from collections import Counter

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {2: 3, 6: 4}
"""Colour type -> bytes per pixel at bit depth 8."""


def colour_counts(data: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each RGB colour the image holds."""
    assert data.startswith(SIGNATURE), "not a PNG"
    position = len(SIGNATURE)
    width = height = channels = 0
    compressed = bytearray()
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in _CHANNELS and interlace == 0, (depth, colour)
            channels = _CHANNELS[colour]
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    counts: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = _unfiltered(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        counts.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return counts


def _unfiltered(kind: int, line: bytearray, above: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    for index in range(len(line)):
        left = line[index - bpp] if index >= bpp else 0
        up = above[index]
        if kind == 1:
            line[index] = (line[index] + left) & 0xFF
        elif kind == 3:
            line[index] = (line[index] + (left + up) // 2) & 0xFF
        else:
            corner = above[index - bpp] if index >= bpp else 0
            line[index] = (line[index] + _paeth(left, up, corner)) & 0xFF
    return line


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    to_left, to_up, to_corner = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else corner

"""Draws the board's icons (favicon, touch icons) from a few shapes, without an image library.

Run once after changing a shape or the colour: `.venv/bin/python docs/tools/make_icons.py`.
It writes board/static/icons/: icon.svg (browsers that take SVG), favicon.ico (16 and 32
px, for /favicon.ico), apple-touch-icon.png (180 px) and icon-192/512.png (the manifest).
The PNGs are drawn with 4x4 samples per pixel, so their edges are smooth.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "board" / "static" / "icons"
ACCENT = (0x0A, 0x5C, 0x8A)
WHITE = (0xFF, 0xFF, 0xFF)
# A speech bubble with three dots, on a rounded square in the theme colour (unit square).
BUBBLE = (0.17, 0.22, 0.83, 0.66, 0.12)  # x0, y0, x1, y1, corner radius
TAIL = ((0.30, 0.62), (0.48, 0.62), (0.27, 0.82))
DOTS = [(0.34, 0.44), (0.50, 0.44), (0.66, 0.44)]
DOT_RADIUS = 0.055


def _in_rounded(x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float) -> bool:
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _in_triangle(x: float, y: float, a, b, c) -> bool:
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])

    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


def colour_at(x: float, y: float) -> tuple[int, int, int, int]:
    """The icon's colour at a point of the unit square (RGBA)."""
    if not _in_rounded(x, y, 0, 0, 1, 1, 0.2):
        return (0, 0, 0, 0)
    if any((x - dx) ** 2 + (y - dy) ** 2 <= DOT_RADIUS**2 for dx, dy in DOTS):
        return (*ACCENT, 255)
    if _in_rounded(x, y, *BUBBLE) or _in_triangle(x, y, *TAIL):
        return (*WHITE, 255)
    return (*ACCENT, 255)


def png(size: int) -> bytes:
    """The icon as a PNG of size x size pixels."""
    samples = 4
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            total = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    r, g, b, a = colour_at(
                        (px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size
                    )
                    total = [total[0] + r * a, total[1] + g * a, total[2] + b * a, total[3] + a]
            alpha = total[3] / samples**2
            if total[3]:
                row += bytes(round(total[i] / total[3]) for i in range(3))
            else:
                row += b"\0\0\0"
            row.append(round(alpha))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def ico(sizes: list[int]) -> bytes:
    """An .ico holding PNG images (every browser since 2007 reads those)."""
    images = [png(size) for size in sizes]
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for size, image in zip(sizes, images, strict=True):
        out += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(image), offset)
        offset += len(image)
    return out + b"".join(images)


def svg() -> str:
    """The same shapes as SVG."""
    x0, y0, x1, y1, r = (v * 100 for v in BUBBLE)
    tail = " ".join(f"{x * 100:g},{y * 100:g}" for x, y in TAIL)
    dots = "".join(
        f'<circle cx="{x * 100:g}" cy="{y * 100:g}" r="{DOT_RADIUS * 100:g}" fill="#0a5c8a"/>'
        for x, y in DOTS
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        '<rect width="100" height="100" rx="20" fill="#0a5c8a"/>'
        f'<rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" rx="{r:g}" '
        f'fill="#fff"/><polygon points="{tail}" fill="#fff"/>{dots}</svg>\n'
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon.svg").write_text(svg())
    (OUT / "favicon.ico").write_bytes(ico([16, 32, 48]))
    (OUT / "apple-touch-icon.png").write_bytes(png(180))
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(png(size))


if __name__ == "__main__":
    main()

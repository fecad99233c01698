"""Figure 1 of the paper: the MLP's training loss per epoch, drawn as a PNG in pure Python (zlib and
struct from the standard library; no plotting package needed)."""

import struct
import zlib

WHITE, GREY, BLUE, BLACK = (255, 255, 255), (200, 200, 200), (31, 119, 180), (40, 40, 40)


def _png(width, height, pixels):
    """Encode rows of (r, g, b) pixels as a PNG file's bytes."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _line(pixels, x0, y0, x1, y1, colour, thick=1):
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    for i in range(steps + 1):
        x = round(x0 + (x1 - x0) * i / steps)
        y = round(y0 + (y1 - y0) * i / steps)
        for dx in range(-thick + 1, thick):
            for dy in range(-thick + 1, thick):
                if 0 <= y + dy < len(pixels) and 0 <= x + dx < len(pixels[0]):
                    pixels[y + dy][x + dx] = colour


def loss_curve_png(losses, path, width=480, height=300, margin=36):
    """Draw the loss per epoch (the y axis from 0 to the largest loss) and write it to ``path``."""
    pixels = [[WHITE] * width for _ in range(height)]
    top = max(losses) or 1.0
    left, right, bottom, upper = margin, width - 12, height - margin, 12
    for k in range(5):  # horizontal grid lines at 0, 25, 50, 75, 100% of the largest loss
        y = bottom - (bottom - upper) * k // 4
        _line(pixels, left, y, right, y, GREY)
    _line(pixels, left, upper, left, bottom, BLACK)
    _line(pixels, left, bottom, right, bottom, BLACK)
    points = [
        (left + (right - left) * i // max(len(losses) - 1, 1), bottom - round((bottom - upper) * loss / top))
        for i, loss in enumerate(losses)
    ]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        _line(pixels, x0, y0, x1, y1, BLUE, thick=2)
    with open(path, "wb") as f:
        f.write(_png(width, height, pixels))

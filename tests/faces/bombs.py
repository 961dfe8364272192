"""Hostile image files as testers send them: a few hundred bytes to a few kilobytes whose
headers declare megapixels (decompression bombs), a JPEG whose header lies about its size, and
PNGs whose metadata expands past what a decoder reads. Built in memory, byte by byte where
an encoder would refuse to write them. For contrast, the most compact images that are no
bomb: phone and desktop screenshots. Also the unusable images every route that takes a photo
must refuse (the blob trigger, selfie search): empty, truncated, junk after a JPEG header, and a
valid photo without a face."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

from tests.helpers import FACE, photo

#: The labelled photos of the tests.
DATA = Path(__file__).resolve().parent.parent / "data"


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC-32 of type and payload (PNG spec, 5.3)."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int) -> bytes:
    """A valid all-black 1-bit greyscale PNG of ``width`` x ``height``, compressed at zlib
    level 9: 1,053 bytes at 2828x2828 (8 MP), 6,034 bytes at 7000x7000 (49 MP)."""
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits packed
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(row * height, 9)) + png_chunk(b"IEND", b""))


#: 60 MP, over the default 50 MP limit but under Pillow's own bomb limit (~179 MP).
BOMB_60_MP = png_bomb(10_000, 6_000)
#: 225 MP, over Pillow's own bomb limit, which ``Image.open`` enforces itself.
BOMB_225_MP = png_bomb(15_000, 15_000)
#: JPEG's start-of-image and APP0 markers followed by junk.
JPEG_HEADER_JUNK = b"\xff\xd8\xff\xe0" + b"garbage!" * 300


def plain_jpeg() -> bytes:
    """A valid JPEG of one flat colour: decodes fine, has no face."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 200)).save(buf, "JPEG")
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    """The first half of a real JPEG: a valid header, then the data stops."""
    data = photo(FACE)
    return data[: len(data) // 2]


def lying_jpeg(width: int = 7000, height: int = 7100) -> bytes:
    """A complete 8x8 baseline JPEG (632 bytes, as Pillow writes a flat grey square with one
    darker pixel) whose frame header (SOF0) is rewritten to declare ``width`` x ``height``:
    its scan data ends after the first block, and a decoder pads the rest with grey."""
    img = Image.new("RGB", (8, 8), (128, 128, 128))
    img.putpixel((0, 0), (110, 110, 110))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), then height and width
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_bomb(side: int = 3000) -> bytes:
    """A flat-grey lossless WebP of ``side`` x ``side``: 422 bytes at 3000 (9 MP)."""
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 200, 200)).save(buf, "WEBP", lossless=True)
    return buf.getvalue()


def png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    """A valid 16x16 grey PNG with one extra chunk ``kind`` right after its header."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "PNG")
    data = buf.getvalue()
    end_of_ihdr = 8 + 8 + 13 + 4  # signature, IHDR length and type, its 13 bytes, CRC
    return data[:end_of_ihdr] + png_chunk(kind, payload) + data[end_of_ihdr:]


#: 2 MB of text compressed to 2 KB in a zTXt chunk: over what decoders expand (1 MB).
EXPANDING_TEXT = png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(2_000_000), 9))
#: The same in the ICC profile chunk (iCCP), which decoders expand when they open the file.
EXPANDING_ICC_PROFILE = png_with_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(2_000_000), 9))

#: Words of the decoders and of Python that no message may show: Kanta speaks its own words.
LIBRARY_WORDS = ("Pillow", "PIL", "DOS", "MAX_TEXT_CHUNK", "PngImagePlugin", "sys.set_int_max_str_digits",
                 "decompression bomb DOS", "exceeds limit", "bytes not processed", "Decompressed data",
                 "libjpeg", "zlib", "Traceback", "Error", "Truncated File Read")


def library_words_in(message: str) -> list[str]:
    """The ``LIBRARY_WORDS`` that ``message`` shows (case-sensitive: "PIL", not "pixel")."""
    return [w for w in LIBRARY_WORDS if w in message]


def screenshot_png(name: str, size: tuple[int, int] = (1170, 2532), photo_width: int = 400) -> bytes:
    """A phone screenshot: white screen, lines of dark text, and a photo of tests/data shown
    ``photo_width`` pixels wide, as PNG (mostly flat: many pixels per byte)."""
    screen = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(screen)
    for y in range(40, size[1], 60):
        draw.text((24, y), "Ana & Ben, 14 June: photos from the party, tap to see more", fill=(30, 30, 30))
    shown = Image.open(DATA / name).convert("RGB")
    shown = shown.resize((photo_width, round(shown.height * photo_width / shown.width)))
    screen.paste(shown, ((size[0] - photo_width) // 2, size[1] // 3))
    buf = io.BytesIO()
    screen.save(buf, "PNG", optimize=True)
    return buf.getvalue()

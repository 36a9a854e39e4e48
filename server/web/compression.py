"""gzip for HTML and JSON responses, and a gzip body spliced around a part compressed once.

Ordinary pages are compressed on each request (they are small). The leaderboard page is a
3,000-row table, the same for every visitor until the next score, inside a page that is not
(the user's name, a CSRF token): the table is deflated once per change token, and each request
only deflates its own head and tail and joins the three into one valid gzip stream.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass

from flask import Flask, Response, request

COMPRESSIBLE = {"text/html", "application/json"}
MIN_BYTES = 1024  # smaller bodies gain nothing worth the CPU
LEVEL = 6
# gzip member header: deflate, no flags, no time stamp, no extra flags, unknown OS.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def accepts_gzip() -> bool:
    return bool(request.accept_encodings["gzip"])


def compress_response(response: Response) -> Response:
    """gzip a complete HTML or JSON 200 response of 1 KiB or more, if the client accepts it."""
    if (
        response.status_code != 200
        or response.mimetype not in COMPRESSIBLE
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
    ):
        return response
    response.vary.add("Accept-Encoding")
    if accepts_gzip() and response.content_length and response.content_length >= MIN_BYTES:
        response.set_data(gzip_bytes(response.get_data()))
        response.headers["Content-Encoding"] = "gzip"
    return response


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, LEVEL, mtime=0)


@dataclass(frozen=True)
class Deflated:
    """Bytes and their raw deflate blocks, ended by a sync flush so that more can follow."""

    raw: bytes
    packed: bytes

    @classmethod
    def of(cls, raw: bytes) -> Deflated:
        return cls(raw, _deflate(raw, zlib.Z_SYNC_FLUSH))


def _deflate(data: bytes, flush: int) -> bytes:
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush(flush)


def gzip_around(head: bytes, middle: Deflated, tail: bytes) -> bytes:
    """``gzip.compress(head + middle.raw + tail)``, deflating only ``head`` and ``tail``.

    Each part is its own deflate stream ending on a byte boundary without a final block, so
    the parts concatenate; the checksum still reads every byte (fast, next to deflating).
    """
    checksum = zlib.crc32(tail, zlib.crc32(middle.raw, zlib.crc32(head)))
    size = len(head) + len(middle.raw) + len(tail)
    return b"".join(
        (
            GZIP_HEADER,
            _deflate(head, zlib.Z_SYNC_FLUSH),
            middle.packed,
            _deflate(tail, zlib.Z_FINISH),
            struct.pack("<II", checksum, size & 0xFFFFFFFF),
        )
    )


def init_app(app: Flask) -> None:
    app.after_request(compress_response)

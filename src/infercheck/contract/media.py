"""What a binary body is: its MIME type from its magic bytes, an image's size, an audio clip's duration.

Enough header reading for the formats the task suites send (PNG, JPEG, WAV, FLAC); no decoding.
"""

from __future__ import annotations

import struct

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
)
AUDIO = ("audio/flac", "audio/wav", "audio/x-wav", "audio/wave", "audio/ogg", "audio/mpeg", "audio/webm")
IMAGE = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes say they are, or None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when the header cannot be read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def audio_duration(data: bytes) -> float | None:
    """Seconds of a WAV or FLAC clip, or None when the header cannot be read."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        i, rate, block = 12, None, None
        while i + 8 <= len(data):
            chunk, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
            if chunk == b"fmt " and size >= 16:
                _, channels, rate, _, block = struct.unpack("<HHIIH", data[i + 8:i + 22])
            elif chunk == b"data" and rate and block:
                return size / block / rate
            i += 8 + size + (size & 1)
        return None
    if data.startswith(b"fLaC") and len(data) >= 8 + 34:
        info = data[8:8 + 34]  # STREAMINFO, always the first metadata block
        bits = int.from_bytes(info[10:18], "big")
        rate = bits >> 44
        samples = bits & ((1 << 36) - 1)
        return samples / rate if rate else None
    return None

"""Video through PyAV (the ``video`` extra): frames stream through the pooling.

Interface
---------
- ``info(path) -> VideoInfo``: frames, fps (a ``Fraction``), codec, duration (seconds), width,
  height, whether an audio stream is present, and the container's format name.
- ``open_video(path) -> VideoReader`` (a context manager): ``.info`` and ``.frames()``, an
  iterator of (H, W, 3) uint8 RGB frames decoded one at a time.
- ``pool_frames(frames, pool_fn, depth=None, stride=None)``: the streaming pooler. Without
  ``depth`` (a two-number window) every frame is pooled alone: ``pool_fn((H, W, 3)) -> (h, w, 3)``.
  With ``depth`` kd and temporal ``stride`` sd (a three-number window) a rolling buffer holds
  the last kd frames, and every sd-th full buffer is pooled as one chunk:
  ``pool_fn((kd, H, W, 3)) -> (1, h, w, 3)`` (or ``(h, w, 3)``), i.e. the caller pools the chunk
  with its spatial window and a temporal window of kd with stride kd. Output frame t covers
  input frames [t*sd, t*sd + kd); a last incomplete window is dropped (PyTorch's floor rule;
  temporal padding, dilation and ceil mode are not streamed). Memory: kd decoded frames.
- ``pool_video(src, dst, pool_fn, depth=None, stride=None, codec=None, crf=18)``: decode,
  pool, encode and copy the audio in one pass; returns the output's ``VideoInfo``. The output
  frame rate is the input's divided by the temporal stride, so the duration is kept. ``dst``
  ending in ``.npy`` writes the (D, h, w, 3) uint8 array instead, streamed to disk.
- ``VideoWriter``: the encoder behind it, for callers that pool frames themselves.

Encoding rules
--------------
- Container: the output file's extension (the caller keeps the input's: MP4, MKV, WebM, MOV,
  AVI). Codec: H.264 (libx264, ``crf`` default 18, yuv420p: plays everywhere), except in WebM,
  which holds no H.264: VP9 there (libvpx-vp9, the same ``crf`` on its 0..63 scale, constant
  quality); or FFV1 (``codec="ffv1"``, lossless: stored as RGB, ``bgr0``, so no colour
  conversion loses a bit; MKV or AVI only). A codec the container cannot hold is a
  ``UsageError`` naming the containers that can.
- Odd pooled sizes under yuv420p (H.264, VP9: chroma at half resolution needs even sizes): the last
  row and/or column is repeated once (edge replication), so no pooled pixel is dropped; the
  file is then at most one pixel taller/wider than the pooled array. FFV1 keeps odd sizes as
  they are. ``VideoInfo`` of the output reports the size actually stored.
- Colour: frames are decoded to RGB with the input's own matrix and range, and encoded back
  with the same ones and the same tags (colorspace, range, primaries, transfer), so a BT.709
  or full-range input keeps its colours. 8-bit RGB: deeper inputs are reduced to 8 bits.
- Frame timing: output frames are evenly spaced at the output rate (a variable-rate input is
  made constant); rotation metadata is not carried over.
- Audio: the first audio stream's packets are copied unchanged (remuxed, never re-encoded).
- Every output is written to a temporary name in the target folder and renamed into place.

Memory: one decoded frame (kd with a temporal window) plus FFmpeg's own buffers, which grow
with its thread count and x264's lookahead: decoding and encoding use at most 4 threads each and
x264 looks 20 frames ahead (its "faster" preset's value; the default 40 cost 50 MB more), so the
peak does not grow with the machine's cores. Measured with ``/usr/bin/time -v`` (a 1080p,
600-frame H.264 clip, ``avg`` 2x2 to 540p H.264 at crf 18): about 180-195 MB resident with the
NumPy backend, 290-305 MB with the Numba CPU backend (Numba itself is ~100 MB of it).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import ImageError, UsageError
from ._formats import need, replace_atomically

# name -> (FFmpeg encoder, pixel format, highest crf)
CODECS = {
    "h264": ("libx264", "yuv420p", 51),
    "ffv1": ("ffv1", "bgr0", None),
    "vp9": ("libvpx-vp9", "yuv420p", 63),
}
# the containers that cannot hold a codec (FFmpeg's muxers refuse them)
REFUSED = {"h264": (".webm",), "ffv1": (".mp4", ".m4v", ".mov", ".webm"), "vp9": (".avi", ".mov")}


def default_codec(path) -> str:
    """H.264 everywhere, except VP9 in WebM (which holds only VP8/VP9/AV1)."""
    return "vp9" if Path(path).suffix.lower() == ".webm" else "h264"


# FFmpeg's threads hold frames of their own: by default their number follows the core count
# (x264: 1.5 x cores, the decoder: cores + 1), and so would the memory (measured, decoding and
# encoding alone: a 1080p clip to 540p peaks at 235 MB with 2 cores' defaults, 327 MB with a
# 16-core machine's 24/17 threads). Capped, the peak is the same on any machine.
DECODER_THREADS, ENCODER_THREADS = 4, 4
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi")


def _av():
    return need("av", "video")


@dataclass(frozen=True)
class VideoInfo:
    """What ``poolcli info`` shows for a video, and what the writer needs to keep."""

    frames: int
    fps: Fraction
    codec: str
    duration: float
    width: int
    height: int
    has_audio: bool
    format: str


def _open(path):
    av = _av()
    try:
        container = av.open(os.fspath(path))
    except (av.FFmpegError, OSError) as exc:
        raise ImageError(f"{path}: cannot open as a video: {exc}") from None
    if not container.streams.video:
        container.close()
        raise ImageError(f"{path}: no video stream")
    return container


def _fps(stream, path) -> Fraction:
    fps = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not fps:
        raise ImageError(f"{path}: the video stream has no frame rate")
    return Fraction(fps)


def _info(container, path) -> VideoInfo:
    """The container's facts; counting frames (MKV/WebM store none) reads the file once more."""
    stream = container.streams.video[0]
    fps = _fps(stream, path)
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # av.time_base: microseconds
    else:
        duration = 0.0
    frames = stream.frames
    if not frames:  # MKV/WebM do not store a count: count the packets (no decoding)
        frames = sum(1 for p in container.demux(stream) if p.size)
        if not duration:
            duration = float(frames / fps)
    return VideoInfo(
        frames=int(frames),
        fps=fps,
        codec=stream.codec_context.name,
        duration=duration,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        has_audio=bool(container.streams.audio),
        format=container.format.name,
    )


def info(path) -> VideoInfo:
    """Frames, frame rate, codec and duration of the video at ``path``."""
    container = _open(path)
    try:
        return _info(container, path)
    finally:
        container.close()


class VideoReader:
    """An open video: ``.fps``, ``.info`` and ``.frames()``; use it as a context manager."""

    def __init__(self, path):
        self.path = path
        self.container = _open(path)
        self.fps = _fps(self.container.streams.video[0], path)
        self._info: VideoInfo | None = None

    @property
    def info(self) -> VideoInfo:
        """``info(path)``, read through its own handle: counting the frames of an MKV reads the
        whole file, and seeking back would drop the packets before time 0 (Opus pre-roll)."""
        if self._info is None:
            self._info = info(self.path)
        return self._info

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def frames(self, on_audio: Callable | None = None) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames, one at a time. ``on_audio(packet)`` receives the first
        audio stream's packets as they are demuxed (for remuxing them unchanged)."""
        av = _av()
        video = self.container.streams.video[0]
        video.thread_type = "AUTO"
        video.thread_count = min(os.cpu_count() or 1, DECODER_THREADS)
        streams = [video]
        if on_audio is not None and self.container.streams.audio:
            streams.append(self.container.streams.audio[0])
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        on_audio(packet)
                    continue
                for frame in packet.decode():
                    # the frame's own matrix (PyAV's default) and range (PyAV assumes limited)
                    yield frame.to_ndarray(
                        format="rgb24", src_color_range=frame.color_range or None
                    )
        except av.FFmpegError as exc:
            raise ImageError(f"{self.path}: cannot decode: {exc}") from None


# FFmpeg's AVColorSpace -> swscale's matrix (BT.470BG and SMPTE 170M are both BT.601)
_MATRICES = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
COLOR_TAGS = ("colorspace", "color_range", "color_primaries", "color_trc")


def color_tags(stream) -> dict:
    """The colour description of a video stream, to give the output the same meaning."""
    ctx = stream.codec_context
    return {name: int(getattr(ctx, name)) for name in COLOR_TAGS}


def open_video(path) -> VideoReader:
    """Open ``path`` for streaming its frames (see ``VideoReader``)."""
    return VideoReader(path)


def pool_frames(
    frames: Iterable[np.ndarray],
    pool_fn: Callable[[np.ndarray], np.ndarray],
    depth: int | None = None,
    stride: int | None = None,
) -> Iterator[np.ndarray]:
    """Pool a stream of frames with memory bounded by the window's depth (see the module doc).

    Yields (h, w, 3) frames. ``depth=None``: one output per frame. ``depth=kd``: one output per
    ``stride`` (default kd) input frames once kd frames are buffered.
    """
    if depth is None:
        for frame in frames:
            yield _one_frame(pool_fn(frame))
        return
    sd = depth if stride is None else stride
    if depth < 1 or sd < 1:
        raise UsageError(f"the temporal window needs size and stride >= 1, got {depth} and {sd}")
    buffer: deque[np.ndarray] = deque(maxlen=depth)
    for i, frame in enumerate(frames):
        buffer.append(frame)
        first = i - depth + 1  # the window that ends with this frame starts here
        if first >= 0 and first % sd == 0:
            yield _one_frame(pool_fn(np.stack(buffer)))


def _one_frame(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 4:
        if y.shape[0] != 1:
            raise UsageError(f"the pooling of one temporal window gave {y.shape[0]} frames, not 1")
        y = y[0]
    if y.ndim != 3 or y.shape[2] != 3:
        raise UsageError(f"a pooled frame must be (h, w, 3), got {y.shape}")
    return y


def _even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row/column once where a size is odd (yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


class VideoWriter:
    """Encode RGB frames to ``path`` (already the temporary name), optionally with a copied audio
    stream. ``write(frame)`` takes (h, w, 3) uint8; ``close()`` flushes."""

    def __init__(
        self,
        path,
        fps: Fraction,
        codec: str | None = None,
        crf: int = 18,
        audio_template=None,
        color: dict | None = None,
    ):
        av = _av()
        codec = default_codec(path) if codec is None else codec
        if codec not in CODECS:
            raise UsageError(f"codec {codec!r} is not supported: use one of {', '.join(CODECS)}")
        suffix = Path(path).suffix.lower()
        if suffix in REFUSED[codec]:
            where = ", ".join(
                e for e in (".mkv", ".mp4", ".webm", ".avi") if e not in REFUSED[codec]
            )
            raise UsageError(
                f"{codec.upper()} cannot be stored in {suffix[1:].upper()}: write {where}"
            )
        top = CODECS[codec][2] or 63
        if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= top:
            raise UsageError(f"crf must be a whole number in 0..{top}, got {crf!r}")
        self.codec, self.crf, self.fps = codec, crf, Fraction(fps)
        self.container = av.open(os.fspath(path), "w")
        self.video = None
        self.audio = None
        self.audio_template = audio_template
        self.pending: list = []  # audio packets demuxed before the first pooled frame
        self.count = 0
        # the input's colour description, kept: RGB -> YUV with its matrix and range, and tagged
        self.color = (
            {k: v for k, v in (color or {}).items() if v} if CODECS[codec][1] != "bgr0" else {}
        )

    def _start(self, h: int, w: int) -> None:
        name, pix_fmt, _ = CODECS[self.codec]
        # the video stream comes first in the file, as in the input
        self.video = self.container.add_stream(name, rate=self.fps)
        self.video.width, self.video.height = w, h
        self.video.pix_fmt = pix_fmt
        threads = str(min(os.cpu_count() or 1, ENCODER_THREADS))
        if self.codec == "h264":
            self.video.options = {"crf": str(self.crf), "threads": threads, "rc-lookahead": "20"}
        elif (
            self.codec == "vp9"
        ):  # constant quality (no bitrate target), libvpx's faster "good" speed
            self.video.options = {
                "crf": str(self.crf),
                "b": "0",
                "threads": threads,
                "row-mt": "1",
                "deadline": "good",
                "cpu-used": "4",
            }
        else:
            self.video.options = {"threads": threads}
        self.video.time_base = 1 / self.fps
        for name, value in self.color.items():
            setattr(self.video.codec_context, name, value)
        if self.audio_template is not None:
            self.audio = self.container.add_stream_from_template(self.audio_template)
        for packet in self.pending:
            self.mux_audio(packet)
        self.pending.clear()

    def write(self, frame: np.ndarray) -> None:
        av = _av()
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if CODECS[self.codec][1] == "yuv420p":
            frame = _even(frame)
        if self.video is None:
            self._start(*frame.shape[:2])
        out = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self.color:
            out = out.reformat(
                format=CODECS[self.codec][1],
                dst_colorspace=_MATRICES.get(self.color.get("colorspace", 0)),
                dst_color_range=self.color.get("color_range"),
            )
        out.pts = self.count
        out.time_base = 1 / self.fps
        self.count += 1
        for packet in self.video.encode(out):
            self.container.mux(packet)

    def mux_audio(self, packet) -> None:
        if self.video is None:  # streams are fixed at the first mux: wait for the video's size
            self.pending.append(packet)
        elif self.audio is not None:
            packet.stream = self.audio
            self.container.mux(packet)

    def close(self) -> None:
        if self.video is not None:
            for packet in self.video.encode():
                self.container.mux(packet)
        self.container.close()


class NpyWriter:
    """Stream (h, w, C) frames into a (D, h, w, C) ``.npy`` file whose D is written at the end."""

    HEADER = 128  # bytes: magic, version, length and the dict, padded (a multiple of 64)

    def __init__(self, path):
        self.file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.file.write(b"\0" * self.HEADER)
        self.shape: tuple[int, ...] | None = None
        self.dtype: np.dtype | None = None
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame)
        if self.shape is None:
            self.shape, self.dtype = frame.shape, frame.dtype
        elif frame.shape != self.shape or frame.dtype != self.dtype:
            raise UsageError(
                f"frame {self.count} is {frame.shape} {frame.dtype}, not {self.shape} {self.dtype}"
            )
        self.file.write(frame.tobytes())
        self.count += 1

    def close(self) -> None:
        shape = (self.count, *(self.shape or (0, 0, 3)))
        descr = np.lib.format.dtype_to_descr(self.dtype or np.dtype(np.uint8))
        header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
        room = self.HEADER - 10  # magic (6) + version (2) + header length (2)
        header = header.ljust(room - 1) + b"\n"
        self.file.seek(0)
        self.file.write(b"\x93NUMPY\x01\x00" + room.to_bytes(2, "little") + header)
        self.file.close()


def pool_video(
    src,
    dst,
    pool_fn: Callable[[np.ndarray], np.ndarray],
    depth: int | None = None,
    stride: int | None = None,
    codec: str | None = None,
    crf: int = 18,
) -> VideoInfo | tuple:
    """Pool the video ``src`` into ``dst`` frame by frame (see the module doc).

    Returns the output's ``VideoInfo`` for a video, or its (D, h, w, 3) shape for ``.npy``.
    """
    npy = Path(dst).suffix.lower() == ".npy"
    with open_video(src) as reader, replace_atomically(dst) as tmp:
        sd = (depth if stride is None else stride) if depth is not None else 1
        fps = reader.fps / sd
        if npy:
            writer = NpyWriter(tmp)
            on_audio = None
        else:
            template = reader.container.streams.audio[0] if reader.container.streams.audio else None
            writer = VideoWriter(
                tmp,
                fps,
                codec=codec,
                crf=crf,
                audio_template=template,
                color=color_tags(reader.container.streams.video[0]),
            )
            on_audio = writer.mux_audio if template is not None else None
        try:
            for frame in pool_frames(reader.frames(on_audio), pool_fn, depth, stride):
                writer.write(frame)
        finally:
            writer.close()
        if writer.count == 0:
            raise ImageError(
                f"{src}: no output frame (the video has fewer frames than the temporal window)"
            )
    if npy:
        return (writer.count, *writer.shape)
    return info(dst)

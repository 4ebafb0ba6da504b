"""Video through PyAV: real files made by PyAV in tmp_path, pooled by poolcli.io.video, read
back by PyAV (frames decoded, rate, duration, codec, audio packets)."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest

import poolcli
from poolcli.errors import ImageError, UsageError

av = pytest.importorskip("av")
video = pytest.importorskip("poolcli.io.video")

W, H, FPS, SECONDS, RATE = 64, 48, 10, 2, 48000


def frame_at(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame that changes with i: a ramp in red, a green bar growing to the right."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (i * 10) % 256
    img[:, : (i * 3) % w, 1] = 200
    img[h // 2 :, :, 2] = 120
    return img


def make_video(path, frames=FPS * SECONDS, fps=FPS, audio=True, w=W, h=H) -> None:
    webm = str(path).endswith(".webm")
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libvpx-vp9" if webm else "libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "10", "b": "0"} if webm else {"crf": "10"}
        aus = None
        if audio:
            aus = out.add_stream("libopus" if webm else "aac", rate=RATE)
            aus.layout = "mono"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(frame_at(i, w, h), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if aus is not None:
            n = int(RATE * frames / fps)
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE)).astype(np.float32)
            for start in range(0, n, 960):
                chunk = samples[None, start : start + 960]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate, af.pts = RATE, start
                for p in aus.encode(af):
                    out.mux(p)
            for p in aus.encode():
                out.mux(p)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    make_video(path)
    return path


def probe(path):
    """What an independent reader (PyAV itself) sees: frames decoded, rate, duration, streams."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        audio = c.streams.audio[0] if c.streams.audio else None
        audio_packets = None
        info = dict(
            rate=Fraction(v.average_rate),
            codec=v.codec_context.name,
            width=v.codec_context.width,
            height=v.codec_context.height,
            duration=c.duration / 1e6,
            audio_codec=audio.codec_context.name if audio else None,
        )
    if audio is not None:
        with av.open(str(path)) as c:
            audio_packets = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    return frames, info, audio_packets


def test_info_reports_frames_rate_codec_duration(clip):
    info = video.info(clip)
    assert info.frames == FPS * SECONDS
    assert info.fps == Fraction(FPS)
    assert info.codec == "h264"
    assert info.duration == pytest.approx(SECONDS, abs=0.05)
    assert (info.width, info.height, info.has_audio) == (W, H, True)


def test_info_counts_frames_of_mkv_without_a_stored_count(tmp_path):
    path = tmp_path / "clip.mkv"
    make_video(path, audio=False)
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 0  # Matroska stores no count: the reader must count
    info = video.info(path)
    assert info.frames == FPS * SECONDS
    assert info.duration == pytest.approx(SECONDS, abs=0.1)


def test_spatial_window_pools_every_frame_keeps_rate_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = video.pool_video(clip, out, lambda f: poolcli.pool(f, "avg", size=2))
    frames, info, audio = probe(out)
    assert len(frames) == FPS * SECONDS and result.frames == FPS * SECONDS
    assert info["rate"] == FPS and info["codec"] == "h264"
    assert (info["width"], info["height"]) == (W // 2, H // 2)
    assert info["duration"] == pytest.approx(SECONDS, abs=0.1)
    # the audio stream is the input's packets, byte for byte
    _, _, audio_in = probe(clip)
    assert info["audio_codec"] == "aac" and audio == audio_in
    # the pixels are the pooled decoded input (H.264 at crf 18 is close, not exact)
    with video.open_video(clip) as reader:
        expected = [poolcli.pool(f, "avg", size=2) for f in reader.frames()]
    err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, expected)])
    assert err < 3


def test_temporal_window_divides_rate_keeps_duration(clip, tmp_path):
    out = tmp_path / "out.mp4"
    video.pool_video(clip, out, lambda chunk: poolcli.pool(chunk, "max", size=(2, 2, 2)), depth=2)
    frames, info, _ = probe(out)
    assert len(frames) == FPS * SECONDS // 2
    assert info["rate"] == Fraction(FPS, 2)
    assert info["duration"] == pytest.approx(SECONDS, abs=0.25)


def test_pool_frames_rolling_buffer_matches_whole_array_pooling():
    frames = [frame_at(i) for i in range(11)]
    whole = poolcli.pool(np.stack(frames), "avg", size=(3, 2, 2), stride=(2, 2, 2))
    seen = []

    def pool_fn(chunk):
        seen.append(chunk.shape[0])
        return poolcli.pool(chunk, "avg", size=(3, 2, 2), stride=(3, 2, 2))

    streamed = np.stack(list(video.pool_frames(iter(frames), pool_fn, depth=3, stride=2)))
    np.testing.assert_array_equal(streamed, whole)  # out = floor((11 - 3) / 2) + 1 = 5 frames
    assert seen == [3] * 5  # never more than the window's depth in memory


def test_ffv1_is_lossless_and_keeps_odd_sizes(clip, tmp_path):
    out = tmp_path / "out.mkv"
    info = video.pool_video(clip, out, lambda f: poolcli.pool(f, "max", size=3), codec="ffv1")
    frames, probed, audio = probe(out)
    assert probed["codec"] == "ffv1" and (probed["width"], probed["height"]) == (W // 3, H // 3)
    assert info.width == 21 and audio
    with video.open_video(clip) as reader:
        expected = [poolcli.pool(f, "max", size=3) for f in reader.frames()]
    assert len(frames) == len(expected)
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)


def test_odd_size_under_h264_repeats_the_last_row_and_column(clip, tmp_path):
    out = tmp_path / "odd.mp4"
    video.pool_video(clip, out, lambda f: poolcli.pool(f, "max", size=3))  # 21 x 16
    frames, info, _ = probe(out)
    assert (info["width"], info["height"]) == (22, 16)
    # the added column repeats the last pooled column
    diff = np.abs(frames[5][:, -1].astype(int) - frames[5][:, -2]).mean()
    assert diff < 4


def test_npy_output_is_the_dhwc_array(clip, tmp_path):
    out = tmp_path / "out.npy"
    shape = video.pool_video(clip, out, lambda c: poolcli.pool(c, "avg", size=(2, 2, 2)), depth=2)
    arr = np.load(out)
    assert arr.shape == shape == (FPS * SECONDS // 2, H // 2, W // 2, 3) and arr.dtype == np.uint8
    with video.open_video(clip) as reader:
        whole = np.stack(list(reader.frames()))
    np.testing.assert_array_equal(arr, poolcli.pool(whole, "avg", size=(2, 2, 2)))


def test_webm_gets_vp9_and_keeps_its_opus_audio(tmp_path):
    src, dst = tmp_path / "in.webm", tmp_path / "out.webm"
    make_video(src)
    info = video.pool_video(src, dst, lambda f: poolcli.pool(f, "avg", size=2))
    frames, probed, audio = probe(dst)
    _, _, audio_in = probe(src)
    assert probed["codec"] == "vp9" and info.codec == "vp9" and len(frames) == FPS * SECONDS
    assert probed["audio_codec"] == "opus" and audio == audio_in
    assert probed["duration"] == pytest.approx(SECONDS, abs=0.1)
    with pytest.raises(UsageError, match="H264 cannot be stored in WEBM"):
        video.pool_video(src, tmp_path / "x.webm", lambda f: f, codec="h264")


@pytest.mark.parametrize(
    "tags",
    [
        dict(colorspace=1, color_range=1, color_primaries=1, color_trc=1),
        dict(colorspace=6, color_range=2, color_primaries=6, color_trc=6),
    ],
)
def test_colour_description_kept(tmp_path, tags):
    """A BT.709 limited-range input and a BT.601 full-range one keep their tags and colours."""
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"crf": "0"}
        for name, value in tags.items():
            setattr(vs.codec_context, name, value)
        for i in range(4):
            rgb = np.zeros((H, W, 3), np.uint8)
            rgb[:, : W // 2] = (230, 40, 20)
            rgb[:, W // 2 :] = (20, 60 + 40 * i, 220)
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=1 if tags["colorspace"] == 1 else 5,
                dst_color_range=tags["color_range"],
            )
            f.pts, f.time_base = i, Fraction(1, FPS)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    video.pool_video(src, dst, lambda f: poolcli.pool(f, "avg", size=2), crf=0)
    with av.open(str(dst)) as c:
        ctx = c.streams.video[0].codec_context
        assert {name: int(getattr(ctx, name)) for name in tags} == tags
    with video.open_video(src) as a, video.open_video(dst) as b:
        for x, y in zip(a.frames(), b.frames()):
            # decoded with the file's matrix and range: the colour that was encoded
            assert np.abs(x[4:-4, 4 : W // 2 - 4].astype(int) - (230, 40, 20)).max() <= 3
            want = poolcli.pool(x, "avg", size=2)
            assert np.abs(want[:, 2:-2].astype(int) - y[:, 2:-2]).max() <= 3  # away from the edge


def test_ffv1_in_mp4_and_bad_crf_are_usage_errors(clip, tmp_path):
    with pytest.raises(UsageError, match="FFV1 cannot be stored in MP4"):
        video.pool_video(clip, tmp_path / "x.mp4", lambda f: f, codec="ffv1")
    with pytest.raises(UsageError, match="crf"):
        video.pool_video(clip, tmp_path / "y.mp4", lambda f: f, crf=99)
    assert not list(tmp_path.iterdir())  # no partial file, no temporary left behind


def test_failure_mid_stream_leaves_no_partial_file(clip, tmp_path):
    calls = []

    def pool_fn(f):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("boom")
        return poolcli.pool(f, "avg", size=2)

    with pytest.raises(RuntimeError, match="boom"):
        video.pool_video(clip, tmp_path / "out.mp4", pool_fn)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["out.mp4", "out.npy"])
def test_fewer_frames_than_the_temporal_window_is_an_image_error(clip, tmp_path, name):
    with pytest.raises(ImageError, match="fewer frames than the temporal window"):
        video.pool_video(
            clip, tmp_path / name, lambda c: poolcli.pool(c, "avg", size=(30, 2, 2)), depth=30
        )
    assert not list(tmp_path.iterdir())


def test_not_a_video_is_an_image_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(ImageError, match="bad.mp4"):
        video.info(bad)


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(ImageError, match=r'pip install "poolcli\[video\]"'):
        video.info("whatever.mp4")

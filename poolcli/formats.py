"""The extras' formats in the pipeline: which file is what, and its load -> pool -> save.

``batch.pool_file`` is the one per-file pipeline; for a video, a NIfTI volume, an OME/ImageJ
TIFF stack or a GeoTIFF it calls ``pool_format`` here, which pools through the same
``run`` (``batch``'s locked ``api.run``) and writes with the format module of ``io``:

- ``kind(path)``: ``"video"`` (.mp4 .m4v .mkv .webm .mov .avi), ``"nifti"`` (.nii, .nii.gz),
  ``"geotiff"`` / ``"stack"`` for a .tif/.tiff whose tags say so (ModelTiepoint or
  ModelTransformation; OME-XML or ImageJ's description), else None (Pillow's images, plain
  multi-page TIFFs included). Read from the TIFF header with Pillow, so a GeoTIFF is
  recognised (and its missing extra named) even without tifffile.
- ``pool_format(kind, job, settings, rec, run)``: fills ``rec``; raises on a per-file error.
  Video streams frame by frame (``io.video``; memory: the window's depth in frames); a volume,
  stack or raster is loaded with its metadata and saved with it updated. A ``.npy`` output
  gets the pooled array.
- ``pool_nodata``: a GeoTIFF's nodata handed to the pooling (every mode honours it).
- ``describe(path, kind)``: ``poolcli info``'s row for these formats.

Uneven windows (adaptive, fractional, global, spp) have no single pixel size and origin:
a GeoTIFF or NIfTI refuses them (``UsageError``); a stack's physical sizes follow the
input/output size ratio.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import numpy as np

from .errors import UsageError

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi")
NIFTI_EXTENSIONS = (".nii", ".nii.gz")
TIFF_EXTENSIONS = (".tif", ".tiff")
#: extensions whose output this module writes (beyond Pillow's and .npy)
OUTPUT_EXTENSIONS = VIDEO_EXTENSIONS + NIFTI_EXTENSIONS
_GEO_TAGS = (33922, 34264)  # ModelTiepoint, ModelTransformation
_EVEN = ("sliding",)


def kind(path: str) -> str | None:
    """``video``, ``nifti``, ``geotiff``, ``stack`` or None (an image for Pillow)."""
    low = str(path).lower()
    if low.endswith(VIDEO_EXTENSIONS):
        return "video"
    if low.endswith(NIFTI_EXTENSIONS):
        return "nifti"
    if low.endswith(TIFF_EXTENSIONS):
        return _tiff_kind(path)
    return None


def _tiff_kind(path) -> str | None:
    codes, desc = _first_ifd(path)
    if codes & set(_GEO_TAGS):
        return "geotiff"
    if desc.startswith("ImageJ=") or ("<OME" in desc and desc.lstrip().startswith("<")):
        return "stack"
    return None


def _first_ifd(path) -> tuple[set, str]:
    """The tag codes of a TIFF's first directory and its ImageDescription (standard library:
    classic and BigTIFF); nothing for a file that is not a readable TIFF."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(16)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None:
                return set(), ""
            magic = struct.unpack(order + "H", head[2:4])[0]
            big = magic == 43
            if magic not in (42, 43):
                return set(), ""
            offset = struct.unpack(order + ("Q" if big else "I"),
                                   head[8:16] if big else head[4:8])[0]
            f.seek(offset)
            count_fmt, entry, value_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
            n = struct.unpack(order + count_fmt, f.read(8 if big else 2))[0]
            if n > 4096:
                return set(), ""
            raw = f.read(n * entry)
            codes, desc = set(), ""
            for i in range(n):
                e = raw[i * entry:(i + 1) * entry]
                code, typ = struct.unpack(order + "HH", e[:4])
                codes.add(code)
                if code == 270 and typ == 2:
                    size = struct.unpack(order + value_fmt, e[4:12] if big else e[4:8])[0]
                    inline = 8 if big else 4
                    if size <= inline:
                        text = e[-inline:][:size]
                    else:
                        where = struct.unpack(order + value_fmt, e[-inline:])[0]
                        here = f.tell()
                        f.seek(where)
                        text = f.read(min(size, 1 << 16))
                        f.seek(here)
                    desc = text.decode("utf-8", "replace").strip("\0")
            return codes, desc
    except (OSError, struct.error):
        return set(), ""


# ------------------------------------------------------------------------------------------
# the window, as the metadata needs it


def window3(geometry: dict, shape_dhw=None):
    """The CLI's window (``Settings.geometry``) -> ``io._formats.Window`` over (D, H, W);
    a two-number window has depth 1. Padding 'same' needs ``shape_dhw``."""
    from . import geometry as geo
    from .io._formats import Window

    win = geo.window(**{k: v for k, v in geometry.items() if k != "ceil_mode"})
    if win.padding == "same":
        if shape_dhw is None:
            raise UsageError("padding 'same' depends on the input size")
        same = Window.same(shape_dhw, win.size, win.stride, win.dilation)
        pad = same.padding if win.pools_frames else (0, *same.padding[1:])
        return Window(win.size, win.stride, pad, win.dilation), win.pools_frames
    return Window(win.size, win.stride, win.padding, win.dilation), win.pools_frames


def _even_only(s, what: str) -> None:
    from . import modes

    spec = modes.get(s.mode)
    if spec.windows not in _EVEN or spec.returns != "image":
        raise UsageError(
            f"mode {s.mode!r} pools uneven windows, so its output has no single pixel size "
            f"and origin: {what} cannot be kept; use a sliding mode (max, avg, ...) with -k/-s"
        )


# ------------------------------------------------------------------------------------------
# nodata: the seam


def pool_nodata(x: np.ndarray, nodata: float | None, mode: str, pool_fn: Callable) -> np.ndarray:
    """Pool ``x`` with ``nodata`` cells left out of every window (a window with none valid
    gives ``nodata``), for every mode: the library's own ``nodata`` option.
    ``pool_fn(array, mode, **options) -> pooled`` is the one-window pooling.
    """
    if nodata is None:
        return pool_fn(x, mode)
    return pool_fn(x, mode, nodata=float(nodata))


# ------------------------------------------------------------------------------------------
# the pipeline per format


def pool_format(kind_: str, job, s, rec, run: Callable) -> None:
    """Load, pool and save one file of ``kind_`` into ``job.output``; fill ``rec``.

    ``run(array, **window_and_options) -> api.Result`` pools (with ``s``'s mode, backend,
    window and options; keywords override them).
    """
    if s.vector:
        raise UsageError(f"mode {s.mode!r} returns values, not a {kind_}: use an image mode")
    if job.output in (None, "-"):
        raise UsageError(f"a {kind_} is written to a file, not standard output")
    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    {"video": _video, "nifti": _nifti, "stack": _stack, "geotiff": _geotiff}[kind_](
        job, s, rec, run)
    rec.output_bytes = _size(job.output)


def _size(path) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def _npy_out(path) -> bool:
    return str(path).lower().endswith(".npy")


def _timed(rec, run):
    """``run`` that adds its pooling and compile time to ``rec``."""
    rec.pool_ms, rec.compile_ms = 0.0, 0.0

    def timed(array, **kw):
        res = run(array, **kw)
        comp = res.compile_seconds or 0.0
        rec.compile_ms += comp * 1e3
        rec.pool_ms += max(res.pool_seconds - comp, 0.0) * 1e3
        rec.backend = res.backend
        return res

    return timed


def _video(job, s, rec, run) -> None:
    from .io import video

    t0 = time.perf_counter()
    src = video.info(job.source.path)
    rec.load_ms = (time.perf_counter() - t0) * 1e3
    rec.input_shape = (src.frames, src.height, src.width, 3)
    rec.dtype = "uint8"
    rec.input_bytes = os.path.getsize(job.source.path)
    win, temporal = window3(s.geometry)
    ceil = bool(s.geometry.get("ceil_mode"))
    if temporal and (win.padding[0] or win.dilation[0] != 1 or ceil):
        raise UsageError("a video's temporal window streams without padding, dilation or "
                         "--ceil-mode along time: give those two numbers (HxW)")
    out_ext = os.path.splitext(job.output)[1].lower()
    if not _npy_out(job.output) and out_ext not in VIDEO_EXTENSIONS:
        raise UsageError(f"a video is written as {' '.join(VIDEO_EXTENSIONS)} or .npy, "
                         f"not {out_ext or 'a file without extension'}")
    timed = _timed(rec, run)
    shape: list = []
    spatial = {k: v for k, v in s.geometry.items() if k != "ceil_mode"}

    if temporal:
        kd, sd = win.size[0], win.stride[0]
        geometry = dict(size=win.size, stride=(kd, *win.stride[1:]),
                        padding=(0, *win.padding[1:]), dilation=win.dilation, ceil_mode=ceil)
        if s.geometry.get("padding") == "same":
            geometry["padding"] = (0, *win.padding[1:])

        def pool_fn(chunk):
            y = timed(chunk, **geometry).array
            shape[:] = y.shape[1:]
            return y
    else:
        kd = sd = None

        def pool_fn(frame):
            y = timed(frame, **spatial, ceil_mode=ceil).array
            shape[:] = y.shape
            return y

    t0 = time.perf_counter()
    out = video.pool_video(job.source.path, job.output, pool_fn, depth=kd, stride=sd,
                           codec=s.codec, crf=18 if s.crf is None else s.crf)
    total = time.perf_counter() - t0
    count = out[0] if isinstance(out, tuple) else out.frames
    rec.output_shape = (int(count), *(int(n) for n in shape))
    # decoding and encoding run interleaved with the pooling: save_ms holds both
    rec.save_ms = max(total * 1e3 - rec.pool_ms - rec.compile_ms, 0.0)
    rec.frames = int(src.frames)
    rec.frames_per_s = src.frames / (total + rec.load_ms / 1e3) if total else None
    rec.frame_rate = float(src.fps / (sd or 1))


def _load(rec, path, reader):
    t0 = time.perf_counter()
    data = reader(path)
    rec.load_ms = (time.perf_counter() - t0) * 1e3
    rec.input_bytes = os.path.getsize(path)
    return data


def _save_npy(path, array) -> None:
    from .io.write import save_image

    save_image(path, np.asarray(array), None, format="NPY")


def _nifti(job, s, rec, run) -> None:
    from .io import volume

    _even_only(s, "the affine")
    nii = _load(rec, job.source.path, volume.read_nifti)
    x = nii.array()
    rec.input_shape, rec.dtype = tuple(int(n) for n in x.shape), str(x.dtype)
    win, _ = window3(s.geometry, x.shape[:3])
    res = _timed(rec, run)(x)
    rec.output_shape = tuple(int(n) for n in res.array.shape)
    t0 = time.perf_counter()
    if _npy_out(job.output):
        _save_npy(job.output, res.array)
    elif job.output.lower().endswith(NIFTI_EXTENSIONS):
        volume.write_nifti(job.output, res.array, nii, win)
    else:
        raise UsageError("a NIfTI volume is written as .nii, .nii.gz or .npy")
    rec.save_ms = (time.perf_counter() - t0) * 1e3


def _stack(job, s, rec, run) -> None:
    from .io import volume

    st = _load(rec, job.source.path, volume.read_stack)
    x = st.array
    rec.input_shape, rec.dtype = tuple(int(n) for n in x.shape), str(x.dtype)
    res = _timed(rec, run)(x)
    y = res.array
    rec.output_shape = tuple(int(n) for n in y.shape)
    # the spacing of output pixels: the stride for sliding windows, else in/out (the mean)
    from . import modes

    if modes.get(s.mode).windows == "sliding":
        scale = window3(s.geometry, x.shape[:3])[0].stride
    else:
        scale = tuple(a / b for a, b in zip(x.shape[:3], y.shape[:3]))
    sizes = {axis: (value * scale["ZYX".index(axis)], unit)
             for axis, (value, unit) in st.sizes.items()}
    like = dataclasses.replace(st, sizes=sizes)
    t0 = time.perf_counter()
    if _npy_out(job.output):
        _save_npy(job.output, y)
    elif job.output.lower().endswith(TIFF_EXTENSIONS):
        volume.write_stack(job.output, y, like, 1)
    else:
        raise UsageError("a TIFF stack is written as .tif, .tiff (.ome.tif) or .npy")
    rec.save_ms = (time.perf_counter() - t0) * 1e3


def _geotiff(job, s, rec, run) -> None:
    from .io import geo
    from .io._formats import Window

    _even_only(s, "georeferencing")
    raster = _load(rec, job.source.path, geo.read_geotiff)
    x = raster.array
    rec.input_shape, rec.dtype = tuple(int(n) for n in x.shape), str(x.dtype)
    win3, temporal = window3(s.geometry, (1, *x.shape[:2]))
    if temporal:
        raise UsageError("a GeoTIFF is one raster: give a two-number window (-k HxW)")
    win = Window(win3.size[1:], win3.stride[1:], win3.padding[1:], win3.dilation[1:])
    timed = _timed(rec, run)
    nodata = s.options.get("nodata")  # --nodata wins over the file's GDAL_NODATA
    nodata = raster.nodata if nodata is None else nodata
    y = pool_nodata(x, nodata, s.mode, lambda a, mode, **kw: timed(a, mode=mode, **kw).array)
    rec.output_shape = tuple(int(n) for n in y.shape)
    t0 = time.perf_counter()
    if _npy_out(job.output):
        _save_npy(job.output, y)
    elif job.output.lower().endswith(TIFF_EXTENSIONS):
        geo.write_geotiff(job.output, y, raster, win)
    else:
        raise UsageError("a GeoTIFF is written as .tif, .tiff or .npy")
    rec.save_ms = (time.perf_counter() - t0) * 1e3


# ------------------------------------------------------------------------------------------
# poolcli info


def describe(path: str, kind_: str) -> dict:
    """``poolcli info``'s row: shape, dtype, frames, and the format's own facts."""
    row: dict = {"input": path, "file_bytes": _size(path)}
    if kind_ == "video":
        from .io import video

        v = video.info(path)
        row.update(format=os.path.splitext(path)[1][1:].upper(), mode="RGB",
                   shape=[v.frames, v.height, v.width, 3],
                   dtype="uint8", frames=v.frames, frame_rate=float(v.fps),
                   codec=v.codec, duration=round(v.duration, 6), audio=v.has_audio)
        row["details"] = (f"{v.frames} frames, {float(v.fps):g} fps, {v.codec}, "
                          f"{v.duration:.3f} s" + (", audio" if v.has_audio else ""))
    elif kind_ == "nifti":
        from .io import volume

        n = volume.read_nifti(path)
        zooms = [float(z) for z in n.header.get_zooms()[:3]]
        row.update(format="NIfTI", mode="volume", shape=list(n.data.shape),
                   dtype=str(n.data.dtype), frames=int(n.data.shape[0]),
                   affine=np.round(n.affine, 6).tolist(), voxel_size=zooms,
                   scl_slope=n.slope, scl_inter=n.inter)
        row["details"] = ("voxel " + "x".join(f"{z:g}" for z in zooms) + ", origin "
                          + ",".join(f"{v:g}" for v in n.affine[:3, 3]))
    elif kind_ == "stack":
        from .io import volume

        st = volume.read_stack(path)
        row.update(format=f"TIFF ({st.kind})", mode="stack",
                   shape=[int(n) for n in st.array.shape], dtype=str(st.array.dtype),
                   frames=int(st.array.shape[0]), depth_axis=st.depth_axis,
                   physical_sizes={a: [v, u] for a, (v, u) in st.sizes.items()})
        row["details"] = ", ".join(f"{a} {v:g} {u}" for a, (v, u) in sorted(st.sizes.items()))
    elif kind_ == "geotiff":
        from .io import geo

        r = geo.read_geotiff(path)
        row.update(format="GeoTIFF", mode="raster", shape=[int(n) for n in r.array.shape],
                   dtype=str(r.array.dtype), frames=1, nodata=r.nodata,
                   transform=_geo_transform(r))
        t = row["transform"]
        where = (f"pixel {t[0]:g}x{t[4]:g}, origin {t[2]:g},{t[5]:g}" if t
                 else "georeferenced by GCPs")
        row["details"] = where + (f", nodata {r.nodata:g}" if r.nodata is not None else "")
    return row


def _geo_transform(r) -> list | None:
    """GDAL's (a, b, c, d, e, f) for the raster's corner (as rasterio shows it), or None."""
    from .io import geo

    if geo.TRANSFORMATION in r.tags:
        m = np.asarray(r.tags[geo.TRANSFORMATION], dtype=float).reshape(4, 4)
        a, b, c, d, e, f = m[0, 0], m[0, 1], m[0, 3], m[1, 0], m[1, 1], m[1, 3]
    elif geo.TIEPOINT in r.tags and geo.PIXEL_SCALE in r.tags:
        pts = np.asarray(r.tags[geo.TIEPOINT], dtype=float).reshape(-1, 6)
        if len(pts) != 1:
            return None
        i, j, _, x, y, _ = pts[0]
        px, py, _ = r.tags[geo.PIXEL_SCALE]
        a, b, c, d, e, f = px, 0.0, x - i * px, 0.0, -py, y + j * py
    else:
        return None
    if r.pixel_is_point:  # GDAL's corner: half a pixel up and left of the first centre
        c, f = c - (a + b) / 2, f - (d + e) / 2
    return [float(v) for v in (a, b, c, d, e, f)]

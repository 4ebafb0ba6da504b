"""The extras' formats through the command line: real files made in tmp_path by PyAV, nibabel,
tifffile and rasterio, pooled by ``poolcli`` (CliRunner, and one real process per family),
read back with those independent readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

av = pytest.importorskip("av")
nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")
rasterio = pytest.importorskip("rasterio")
zarr = pytest.importorskip("zarr")

from test_formats_geo import NODATA, ORIGIN, make_geotiff  # noqa: E402
from test_formats_video import FPS, SECONDS, make_video, probe  # noqa: E402
from test_formats_volume import AFFINE, make_nifti  # noqa: E402

import poolcli  # noqa: E402
from poolcli.cli import app  # noqa: E402

runner = CliRunner()
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("POOLCLI_BACKEND", raising=False)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def run_process(*args, cwd):
    """The installed entry point in a real process."""
    env = dict(os.environ, COLUMNS="300")
    env["PYTHONPATH"] = str(Path(poolcli.__file__).parent.parent)
    exe = BIN / "poolcli"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "poolcli"]
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def ome_sizes(path) -> dict:
    with tifffile.TiffFile(path) as tif:
        root = ET.fromstring(tif.ome_metadata)
    pixels = next(e for e in root.iter() if e.tag.endswith("Pixels"))
    return {a: float(pixels.get(f"PhysicalSize{a}")) for a in "XYZ"}


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    make_video(path)
    return path


# ------------------------------------------------------------------------------------------
# video


def test_avg_video_keeps_frames_rate_duration_and_audio(clip, tmp_path):
    r = invoke("avg", clip, "-k", "2", "--json")
    assert r.exit_code == 0, r.output
    out = tmp_path / "clip_avg.mp4"
    frames, info, audio = probe(out)
    src_frames, src_info, src_audio = probe(clip)
    assert len(frames) == FPS * SECONDS and info["rate"] == FPS
    assert info["duration"] == pytest.approx(SECONDS, abs=0.1)
    assert (info["width"], info["height"]) == (32, 24)
    assert audio == src_audio  # copied packet for packet
    # the pooled frames are the 2x2 means of the decoded input frames (H.264 at crf 18)
    expect = poolcli.pool(np.stack(src_frames), "avg", 2)
    assert np.abs(np.stack(frames).astype(int) - expect).mean() < 3
    rec, summary = (json.loads(line) for line in r.stdout.splitlines())
    assert rec["frames"] == FPS * SECONDS and rec["frame_rate"] == FPS
    assert rec["frames_per_s"] > 0 and rec["output_shape"] == [FPS * SECONDS, 24, 32, 3]
    assert summary["frames"] == FPS * SECONDS


def test_temporal_window_halves_the_rate_and_keeps_the_duration(clip, tmp_path):
    r = invoke("max", clip, "-k", "2x2x2", "-o", tmp_path / "t.mkv", "--codec", "ffv1")
    assert r.exit_code == 0, r.output
    frames, info, audio = probe(tmp_path / "t.mkv")
    assert len(frames) == FPS * SECONDS // 2 and info["rate"] == Fraction(FPS, 2)
    assert info["codec"] == "ffv1" and info["duration"] == pytest.approx(SECONDS, abs=0.15)
    src = np.stack(probe(clip)[0])
    assert np.array_equal(np.stack(frames), poolcli.pool(src, "max", (2, 2, 2)))  # lossless
    assert audio is not None


def test_video_to_npy_and_odd_sizes(clip, tmp_path):
    assert invoke("avg", clip, "-k", "3", "-o", tmp_path / "a.npy").exit_code == 0
    a = np.load(tmp_path / "a.npy")
    assert a.shape == (FPS * SECONDS, 16, 21, 3) and a.dtype == np.uint8
    assert invoke("avg", clip, "-k", "3", "-o", tmp_path / "odd.mp4").exit_code == 0
    _, info, _ = probe(tmp_path / "odd.mp4")
    assert (info["width"], info["height"]) == (22, 16)  # the last column repeated (yuv420p)


def test_video_refusals_are_one_line(clip, tmp_path, capsys):
    r = invoke("avg", clip, "-k", "2x2x2", "-p", "1x0x0")
    assert r.exit_code == 1 and "temporal window" in r.output
    r = invoke("avg", clip, "-o", tmp_path / "x.mp4", "--codec", "ffv1")
    assert r.exit_code == 1 and "FFV1 cannot be stored in MP4" in r.output
    r = invoke("avg", clip, "--codec", "theora")
    assert r.exit_code == 2 and "--codec" in r.output
    assert not list(tmp_path.glob(".*poolcli-tmp*"))


def test_video_process_run(clip, tmp_path):
    p = run_process("avg", clip.name, "-k", "2", "--crf", "30", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(probe(tmp_path / "clip_avg.mp4")[0]) == FPS * SECONDS
    p = run_process("info", "--json", "clip.mp4", cwd=tmp_path)
    row = json.loads(p.stdout)
    assert row["frames"] == FPS * SECONDS and row["frame_rate"] == FPS
    assert row["codec"] == "h264" and row["duration"] == pytest.approx(SECONDS, abs=0.1)
    assert row["audio"] is True


# ------------------------------------------------------------------------------------------
# NIfTI


def test_nifti_avg_updates_the_affine(tmp_path):
    data = make_nifti(tmp_path / "brain.nii.gz")
    r = invoke("avg", tmp_path / "brain.nii.gz", "-k", "2x2x2")
    assert r.exit_code == 0, r.output
    out = nib.load(str(tmp_path / "brain_avg.nii.gz"))  # the double suffix kept
    expect = AFFINE.copy()
    expect[:3, :3] *= 2
    expect[:3, 3] += AFFINE[:3, :3] @ [0.5, 0.5, 0.5]  # the centre of the first window
    assert np.allclose(out.affine, expect, atol=1e-5)
    assert out.get_data_dtype() == np.int16 and out.shape == (4, 5, 6)
    assert np.allclose(out.header.get_zooms(), 2 * np.array(nib.load(
        str(tmp_path / "brain.nii.gz")).header.get_zooms()))
    raw = np.asanyarray(out.dataobj.get_unscaled())
    assert np.array_equal(raw, poolcli.pool(data[..., None], "avg", (2, 2, 2))[..., 0])


def test_nifti_uneven_mode_is_refused_and_process_run(tmp_path):
    make_nifti(tmp_path / "brain.nii")
    r = invoke("adaptive", tmp_path / "brain.nii", "--output-size", "3")
    assert r.exit_code == 1 and "affine cannot be kept" in r.output
    p = run_process("max", "brain.nii", "-k", "2x2x2", "-o", "small.nii.gz", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert nib.load(str(tmp_path / "small.nii.gz")).shape == (4, 5, 6)
    row = json.loads(run_process("info", "--json", "brain.nii", cwd=tmp_path).stdout)
    assert np.allclose(row["affine"], AFFINE, atol=1e-6) and len(row["voxel_size"]) == 3


# ------------------------------------------------------------------------------------------
# OME-TIFF stacks


def make_ome(path, dtype=np.uint16):
    data = np.random.default_rng(0).integers(0, 4000, (6, 20, 24)).astype(dtype)
    tifffile.imwrite(path, data, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 2.0})
    return data


def test_ome_stack_physical_sizes_times_stride(tmp_path):
    data = make_ome(tmp_path / "cells.ome.tif")
    r = invoke("max", tmp_path / "cells.ome.tif", "-k", "2x2x2", "-s", "2x2x3")
    assert r.exit_code == 0, r.output
    out = tmp_path / "cells_max.ome.tif"
    assert ome_sizes(out) == {"X": 1.5, "Y": 0.5, "Z": 4.0}
    got = tifffile.imread(out)
    assert got.dtype == np.uint16
    assert np.array_equal(got, poolcli.pool(data[..., None], "max", (2, 2, 2), (2, 2, 3))[..., 0])
    p = run_process("info", "--json", "cells_max.ome.tif", cwd=tmp_path)
    assert json.loads(p.stdout)["physical_sizes"]["X"][0] == 1.5


def test_ome_stack_process_run(tmp_path):
    make_ome(tmp_path / "cells.ome.tif", np.float32)
    p = run_process("avg", "cells.ome.tif", "-k", "2", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert ome_sizes(tmp_path / "cells_avg.ome.tif") == {"X": 1.0, "Y": 0.5, "Z": 2.0}
    assert tifffile.imread(tmp_path / "cells_avg.ome.tif").dtype == np.float32


# ------------------------------------------------------------------------------------------
# GeoTIFF


def test_geotiff_transform_and_nodata(tmp_path):
    data = make_geotiff(tmp_path / "dem.tif")
    r = invoke("avg", tmp_path / "dem.tif", "-k", "2")
    assert r.exit_code == 0, r.output
    with rasterio.open(tmp_path / "dem_avg.tif") as ds:
        assert ds.transform == ORIGIN @ ORIGIN.scale(2)
        assert ds.nodata == NODATA
        got = ds.read()
    assert got[0, 0, 0] == NODATA  # an all-nodata window
    # a mixed window: the mean of its valid cells only
    valid = data[0, 0:2, 2:4][data[0, 0:2, 2:4] != NODATA]
    assert got[0, 0, 1] == int(np.rint(valid.mean()))
    assert (got != NODATA).sum() == got.size - 2  # (bands) x one all-nodata window


def lower_nanmedian_2x2(band: np.ndarray, nodata) -> np.ndarray:
    """Oracle: each 2x2 block's median of its valid cells, the lower middle for an even count
    (numpy.nanmedian of the block's values at or below its median), nodata where none valid."""
    h, w = band.shape[0] // 2, band.shape[1] // 2
    blocks = band[: 2 * h, : 2 * w].astype(np.float64).reshape(h, 2, w, 2).swapaxes(1, 2)
    blocks = np.where(blocks == nodata, np.nan, blocks).reshape(h, w, 4)
    out = np.full((h, w), float(nodata))
    for i, j in np.ndindex(h, w):
        v = blocks[i, j]
        if np.isnan(v).all():
            continue
        med = np.nanmedian(v)  # the mean of the two middles for an even count
        out[i, j] = np.nanmax(np.where(v <= med, v, np.nan))  # -> the lower middle
    return out


def test_geotiff_median_honours_nodata(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.integers(-500, 500, size=(1, 24, 32)).astype(np.int16)
    data[0, :2, :2] = NODATA  # an all-nodata window
    data[rng.random(data.shape) < 0.3] = NODATA  # windows with 1, 2, 3 or 4 valid cells
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", height=24, width=32, count=1,
                       dtype="int16", crs="EPSG:32633", transform=ORIGIN, nodata=NODATA) as ds:
        ds.write(data)
    r = invoke("median", tmp_path / "dem.tif", "-k", "2")
    assert r.exit_code == 0, r.output
    with rasterio.open(tmp_path / "dem_median.tif") as ds:
        assert ds.nodata == NODATA and ds.dtypes == ("int16",)
        assert ds.transform == ORIGIN @ ORIGIN.scale(2)
        got = ds.read(1)
    want = lower_nanmedian_2x2(data[0], NODATA)
    np.testing.assert_array_equal(got, want.astype(np.int16))
    assert got[0, 0] == NODATA and (got == NODATA).sum() >= 1
    any_valid = data[0].reshape(12, 2, 16, 2).max(axis=(1, 3)) != NODATA
    assert not (got[any_valid] == NODATA).any() and (got[~any_valid] == NODATA).all()


def test_geotiff_refusals(tmp_path):
    make_geotiff(tmp_path / "dem.tif")
    r = invoke("fractional", tmp_path / "dem.tif", "--ratio", "0.5", "--seed", "1")
    assert r.exit_code == 1 and "georeferencing cannot be kept" in r.output
    r = invoke("stochastic", tmp_path / "dem.tif", "--seed", "1")
    assert r.exit_code == 1 and "nodata" in r.output
    assert not (tmp_path / "dem_stochastic.tif").exists()


def test_geotiff_process_run_and_info(tmp_path):
    make_geotiff(tmp_path / "dem.tif", bands=1, dtype="float32")
    p = run_process("max", "dem.tif", "-k", "3", "-p", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    with rasterio.open(tmp_path / "dem_max.tif") as ds:
        # pixel size x 3, each output pixel centred on its window: origin moved by -p = -1
        assert ds.transform.almost_equals(
            ORIGIN @ ORIGIN.translation(-1, -1) @ ORIGIN.scale(3))
        assert ds.nodata == NODATA
    row = json.loads(run_process("info", "--json", "dem.tif", cwd=tmp_path).stdout)
    assert row["nodata"] == NODATA and row["transform"] == list(ORIGIN)[:6]


# ------------------------------------------------------------------------------------------
# one-file pyramids


def test_pyramid_ome_zarr_levels_and_scales(tmp_path):
    make_ome(tmp_path / "cells.ome.tif")
    out = tmp_path / "p.ome.zarr"
    r = invoke("pyramid", tmp_path / "cells.ome.tif", "--levels", "2", "-o", out)
    assert r.exit_code == 0, r.output
    root = zarr.open_group(str(out), mode="r")
    ms = root.attrs["multiscales"][0]
    shapes = [root[d["path"]].shape for d in ms["datasets"]]
    assert shapes == [(1, 6, 20, 24), (1, 6, 10, 12), (1, 6, 5, 6)]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[1, 2.0, 0.25, 0.5], [1, 2.0, 0.5, 1.0], [1, 2.0, 1.0, 2.0]]


def test_pyramid_tif_from_a_geotiff_and_a_non_composable_mode(tmp_path):
    make_geotiff(tmp_path / "dem.tif", bands=1)
    p = run_process("pyramid", "dem.tif", "--levels", "2", "-o", "ovr.tif", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    with rasterio.open(tmp_path / "ovr.tif") as ds:
        assert ds.transform == ORIGIN and ds.overviews(1) == [2, 4]
        assert ds.nodata == NODATA and ds.block_shapes[0] == (256, 256)
    img = np.random.default_rng(2).integers(0, 255, (32, 48, 3)).astype(np.uint8)
    np.save(tmp_path / "img.npy", img)
    r = invoke("pyramid", tmp_path / "img.npy", "--levels", "2", "--mode", "mixed",
               "-o", tmp_path / "m.tif")
    assert r.exit_code == 0, r.output
    with tifffile.TiffFile(tmp_path / "m.tif") as tif:
        levels = [lv.asarray() for lv in tif.series[0].levels]
    assert [lv.shape for lv in levels] == [(3, 32, 48), (3, 16, 24), (3, 8, 12)]
    # mixed is not composable: level 2 is the 4x4 pooling of the full resolution
    assert np.array_equal(np.moveaxis(levels[2], 0, -1), poolcli.pool(img, "mixed", 4))


def test_pyramid_of_a_geotiff_refuses_uneven_modes(tmp_path):
    make_geotiff(tmp_path / "dem.tif")
    r = invoke("pyramid", tmp_path / "dem.tif", "--mode", "fractional", "-o", tmp_path / "f.tif")
    assert r.exit_code == 1 and "georeferencing" in r.output


# ------------------------------------------------------------------------------------------
# missing extras


@pytest.mark.parametrize(("module", "extra", "maker"), [
    ("av", "video", lambda p: make_video(p / "c.mp4", frames=2) or p / "c.mp4"),
    ("nibabel", "science", lambda p: make_nifti(p / "b.nii.gz") is None or p / "b.nii.gz"),
    ("tifffile", "science", lambda p: make_geotiff(p / "g.tif") is None or p / "g.tif"),
])
def test_missing_extra_is_one_line_naming_it(module, extra, maker, tmp_path, monkeypatch):
    path = maker(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)
    r = invoke("avg", path, "-k", "2")
    assert r.exit_code == 1
    line = f"{path}: this format needs the '{module}' package: pip install \"poolcli[{extra}]\""
    assert line in r.output
    r = invoke("info", path)
    assert r.exit_code == 1 and f'pip install "poolcli[{extra}]"' in r.output


def test_folders_find_the_formats_and_names_keep_double_suffixes(tmp_path):
    from poolcli import inputs

    src = tmp_path / "scans"
    src.mkdir()
    make_nifti(src / "brain.nii.gz")
    make_ome(src / "cells.ome.tif")
    (src / "notes.gz").write_bytes(b"x")
    found = [s.rel for s in inputs.find_inputs([str(src)])]
    assert found == ["brain.nii.gz", "cells.ome.tif"]
    assert inputs.split_ext("a/brain.nii.gz") == ("a/brain", ".nii.gz")
    assert inputs.split_ext("x.OME.TIF") == ("x", ".OME.TIF")
    assert inputs.split_ext(".nii.gz") == (".nii", ".gz")
    r = invoke("max", src, "-k", "2x2x2", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert nib.load(str(tmp_path / "out" / "brain.nii.gz")).shape == (4, 5, 6)
    assert ome_sizes(tmp_path / "out" / "cells.ome.tif")["Z"] == 4.0

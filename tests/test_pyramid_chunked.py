"""Pyramids larger than memory: the Dask path (forced here by a tiny memory figure and tiny
chunks) writes the same levels as the in-memory path, bit for bit; a real 448 MiB zarr
volume is pyramided by a child process whose peak resident memory stays far below it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")
pytest.importorskip("dask")
from poolcli import pyramids  # noqa: E402
from poolcli.errors import UsageError  # noqa: E402

#: one mode of each family: composable (level from level) and not (from the full resolution,
#: median picks a cell, stochastic draws with a seed, lp is a float mean)
MODES = ["avg", "max", "min", "median", "stochastic", "lp"]


def zarr_levels(path) -> list[np.ndarray]:
    root = zarr.open_group(str(path), mode="r")
    return [root[d["path"]][...] for d in root.attrs["multiscales"][0]["datasets"]]


def tiff_levels(path) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tif:
        levels = tif.series[0].levels
        if len(levels) > 1:  # OME-TIFF: SubIFDs
            return [level.asarray() for level in levels]
        return [page.asarray() for page in tif.pages]  # GeoTIFF: overviews as IFDs


def both(src, tmp_path, mode, ext, levels=3, size="2", stride=None):
    """The in-memory and the Dask pyramid of ``src``: (shapes, levels) for each."""
    mem, lazy = tmp_path / f"mem_{mode}{ext}", tmp_path / f"dask_{mode}{ext}"
    a = pyramids.one_file_pyramid(str(src), str(mem), levels, mode, size, stride, "auto")
    b = pyramids.one_file_pyramid(str(src), str(lazy), levels, mode, size, stride, "auto",
                                  memory=1, chunk=16)
    read = zarr_levels if ext.endswith(".zarr") else tiff_levels
    return (a, read(mem)), (b, read(lazy))


def assert_same(mem, lazy):
    (sa, la), (sb, lb) = mem, lazy
    assert sa == sb
    assert len(la) == len(lb) == len(sa)
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("mode", MODES)
def test_dask_path_is_bit_identical_zarr_output(tmp_path, mode):
    rng = np.random.default_rng(1)
    src = tmp_path / "a.npy"
    np.save(src, rng.integers(0, 65535, (75, 61, 2), dtype=np.uint16))  # odd sizes, 2 channels
    mem, lazy = both(src, tmp_path, mode, ".ome.zarr")
    assert_same(mem, lazy)
    assert mem[0][-1] == (9, 7, 2)


@pytest.mark.parametrize("mode", ["avg", "median"])
def test_dask_path_is_bit_identical_tiff_output(tmp_path, mode):
    rng = np.random.default_rng(2)
    src = tmp_path / "a.npy"
    np.save(src, rng.standard_normal((70, 90)).astype(np.float32))
    mem, lazy = both(src, tmp_path, mode, ".tif")
    assert_same(mem, lazy)


def test_dask_path_overlapping_windows_and_a_stack(tmp_path):
    """k=3 s=2 (windows straddle chunks) on an OME-TIFF stack read through tifffile's zarr."""
    rng = np.random.default_rng(3)
    src = tmp_path / "s.ome.tif"
    data = rng.integers(0, 255, (3, 50, 47), dtype=np.uint8)
    tifffile.imwrite(src, data, metadata={"axes": "ZYX", "PhysicalSizeX": 0.5,
                                          "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0})
    for mode in ("max", "median"):
        mem, lazy = both(src, tmp_path, mode, ".ome.zarr", levels=2, size="3", stride="2")
        assert_same(mem, lazy)
    root = zarr.open_group(str(tmp_path / "dask_max.ome.zarr"), mode="r")
    scale = root.attrs["multiscales"][0]["datasets"][1]["coordinateTransformations"][0]
    assert scale["scale"] == [1.0, 2.0, 1.0, 1.0]  # c, z (kept), y and x: 0.5 x stride 2


def test_dask_path_geotiff_keeps_georeferencing(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    src = tmp_path / "g.tif"
    t = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)
    data = np.random.default_rng(4).integers(0, 1000, (1, 64, 96)).astype(np.int16)
    data[0, :5, :7] = -9999
    with rasterio.open(src, "w", driver="GTiff", height=64, width=96, count=1, dtype="int16",
                       crs="EPSG:32633", transform=t, nodata=-9999) as ds:
        ds.write(data)
    mem, lazy = both(src, tmp_path, "avg", ".tif", levels=2)
    assert_same(mem, lazy)
    with rasterio.open(tmp_path / "dask_avg.tif") as ds:
        assert ds.transform == t and ds.nodata == -9999 and ds.crs.to_epsg() == 32633
        assert ds.overviews(1) == [2, 4]


def test_zarr_input_always_streams_and_matches_numpy(tmp_path):
    """A zarr store (chunked by nature) takes the Dask path whatever the memory; its levels
    equal poolcli.pool on the NumPy array."""
    import poolcli

    x = np.random.default_rng(5).integers(0, 255, (40, 36, 3), dtype=np.uint8)
    z = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=x.shape, chunks=(16, 16, 3),
                        dtype=x.dtype, zarr_format=2)
    z[...] = x
    assert pyramids.chunked(tmp_path / "in.zarr", "zarr", memory=2**60)
    out = tmp_path / "out.zarr"
    shapes = pyramids.one_file_pyramid(str(tmp_path / "in.zarr"), str(out), 2, "avg", "2",
                                       None)
    assert shapes == [(40, 36, 3), (20, 18, 3), (10, 9, 3)]
    got = zarr_levels(out)
    want = poolcli.pool(poolcli.pool(x, "avg"), "avg")
    np.testing.assert_array_equal(got[2], np.moveaxis(want, -1, 0))


def test_nifti_pyramid_takes_voxel_sizes(tmp_path):
    nib = pytest.importorskip("nibabel")
    vol = np.random.default_rng(6).integers(0, 4000, (5, 32, 24)).astype(np.int16)
    affine = np.diag([1.5, 0.8, 0.8, 1.0])
    img = nib.Nifti1Image(vol, affine)
    img.header.set_xyzt_units("mm")
    src = tmp_path / "v.nii.gz"
    nib.save(img, src)
    mem, lazy = both(src, tmp_path, "max", ".ome.zarr", levels=2)
    assert_same(mem, lazy)
    assert mem[0] == [(5, 32, 24, 1), (5, 16, 12, 1), (5, 8, 6, 1)]
    # the level-1 values are the 2x2 maxima of each i-slice (j, k pooled, i kept)
    np.testing.assert_array_equal(mem[1][1][0], vol.reshape(5, 16, 2, 12, 2).max(axis=(2, 4)))
    root = zarr.open_group(str(tmp_path / "dask_max.ome.zarr"), mode="r")
    ms = root.attrs["multiscales"][0]
    assert ms["axes"][1] == {"name": "z", "type": "space", "unit": "millimeter"}
    scale = ms["datasets"][1]["coordinateTransformations"][0]["scale"]
    np.testing.assert_allclose(scale, [1.0, 1.5, 1.6, 1.6])


def test_video_pyramid_is_a_clear_usage_error(tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"")
    with pytest.raises(UsageError, match="video pyramid is not supported"):
        pyramids.one_file_pyramid(str(src), str(tmp_path / "o.zarr"), 2, "avg", "2", None)


#: the child's peak resident set: VmHWM, the high-water mark of its own address space (Linux);
#: getrusage's ru_maxrss where /proc is missing -- on Linux that one keeps the parent's
#: resident set across fork and exec, so it would count pytest's memory too
PROBE = """import resource, sys
from poolcli.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
else:
    code = 0
try:
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print("PEAK", peak, file=sys.stderr)
sys.exit(code)
"""


def volume_zarr(path, d, h, w):
    """A (D, H, W, 1) uint16 zarr array (poolcli's layout for a plain zarr array), written
    plane by plane: the test never holds the volume either."""
    z = zarr.open_array(str(path), mode="w", shape=(d, h, w, 1), chunks=(1, 1024, 1024, 1),
                        dtype="uint16", zarr_format=2, compressor=None)
    rng = np.random.default_rng(7)
    for i in range(d):
        z[i] = rng.integers(0, 65535, (h, w, 1), dtype=np.uint16)
    return z


def peak_of_pyramid(src, out) -> int:
    """``poolcli pyramid SRC --levels 3 -o OUT`` in a child process (two Dask threads, two
    Numba threads) -> its peak resident set in bytes."""
    env = dict(os.environ, DASK_NUM_WORKERS="2", NUMBA_NUM_THREADS="2",
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "pyramid", str(src), "--levels", "3", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.split("PEAK")[1].split()[0])


@pytest.mark.slow
def test_peak_memory_is_bounded_by_chunks_not_by_the_volume(tmp_path):
    """A 448 MiB uint16 zarr volume -> a 3-level OME-Zarr pyramid by ``poolcli pyramid`` in a
    child process: its peak resident set (VmHWM) exceeds that of the same pyramid of a
    one-plane 1 MiB volume (run first) by far less than the input (about 65 MiB more, 190 MiB
    in all, measured on 2 cores with the default backend)."""
    small = volume_zarr(tmp_path / "small.zarr", 1, 512, 1024)
    del small
    base = peak_of_pyramid(tmp_path / "small.zarr", tmp_path / "small_out.ome.zarr")
    d, h, w = 7, 4096, 8192
    z = volume_zarr(tmp_path / "big.zarr", d, h, w)
    size = d * h * w * 2
    out = tmp_path / "out.ome.zarr"
    peak = peak_of_pyramid(tmp_path / "big.zarr", out)
    print(f"peak resident set: {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB input, "
          f"{base / 2**20:.0f} MiB for a 1 MiB one")
    assert peak - base < size / 4, f"{(peak - base) / 2**20:.0f} MiB more than a tiny input"
    assert peak < size / 2
    root = zarr.open_group(str(out), mode="r")
    assert [root[str(i)].shape for i in range(4)] == [
        (1, d, h, w), (1, d, h // 2, w // 2), (1, d, h // 4, w // 4), (1, d, h // 8, w // 8)]
    # spot check: level 3's corner is three 2x2 means in a row (each rounded half to even)
    p = z[0, :64, :64, 0].astype(np.float64)
    for _ in range(3):
        n = p.shape[0] // 2
        p = np.round(p.reshape(n, 2, n, 2).mean(axis=(1, 3)))
    np.testing.assert_array_equal(root["3"][0, 0, :8, :8], p)
    assert not [f for f in os.listdir(tmp_path) if "poolcli-tmp" in f]  # scratch removed

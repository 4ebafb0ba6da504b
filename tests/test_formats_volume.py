"""NIfTI (nibabel) and TIFF stacks (tifffile): files made by those libraries, read back by them."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import poolcli
from poolcli.errors import ImageError, UsageError

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")
from poolcli.io import volume  # noqa: E402
from poolcli.io._formats import Window  # noqa: E402

# an oblique affine: rotation + shear + anisotropic voxels + an offset
AFFINE = np.array(
    [[0.9, 0.1, 0.0, -10.0], [0.0, 1.2, 0.2, 5.0], [0.1, 0.0, 2.5, 3.0], [0.0, 0.0, 0.0, 1.0]]
)


def make_nifti(path, shape=(8, 10, 12), dtype=np.int16, slope=0.5, inter=-3.0):
    data = np.random.default_rng(1).integers(0, 1000, shape).astype(dtype)
    img = nib.Nifti1Image(data, AFFINE)
    img.header.set_data_dtype(dtype)
    img.header.set_slope_inter(slope, inter)
    img.to_filename(str(path))
    return data


def world(affine, ijk):
    return affine[:3, :3] @ np.asarray(ijk, dtype=float) + affine[:3, 3]


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_nifti_affine_dtype_and_scaling(tmp_path, name):
    src, dst = tmp_path / name, tmp_path / ("out_" + name)
    stored = make_nifti(src)
    vol = volume.read_nifti(src)
    assert (vol.slope, vol.inter) == (0.5, -3.0)
    np.testing.assert_array_equal(vol.data, stored)
    y = poolcli.pool(vol.array(), "max", size=(2, 2, 2))
    volume.write_nifti(dst, y, vol, Window.of(3, 2))

    out = nib.load(str(dst))
    assert out.shape == (4, 5, 6)
    assert out.get_data_dtype() == np.int16
    assert (out.dataobj.slope, out.dataobj.inter) == (0.5, -3.0)
    # the real values are the pooled real values (scaling is positive: max commutes)
    real = nib.load(str(src)).get_fdata()
    expected = poolcli.pool(real[..., None], "max", size=(2, 2, 2))[..., 0]
    np.testing.assert_allclose(out.get_fdata(), expected)
    # voxel (0, 0, 0) of the output sits at the centre of input voxels 0..1 on each axis
    np.testing.assert_allclose(
        world(out.affine, [0, 0, 0]), world(AFFINE, [0.5, 0.5, 0.5]), atol=1e-5
    )
    # one output voxel step = two input voxel steps
    np.testing.assert_allclose(
        world(out.affine, [1, 2, 3]), world(AFFINE, [2.5, 4.5, 6.5]), atol=1e-5
    )
    np.testing.assert_allclose(
        out.header.get_zooms(), np.array(nib.load(str(src)).header.get_zooms()) * 2, rtol=1e-6
    )


def test_nifti_padding_and_uneven_window_move_the_origin(tmp_path):
    src, dst = tmp_path / "v.nii.gz", tmp_path / "o.nii.gz"
    make_nifti(src, shape=(9, 10, 11))
    vol = volume.read_nifti(src)
    size, stride, padding = (3, 2, 3), (2, 2, 1), (1, 0, 1)
    y = poolcli.pool(vol.array(), "avg", size=size, stride=stride, padding=padding)
    volume.write_nifti(dst, y, vol, Window.of(3, size, stride, padding))
    out = nib.load(str(dst))
    assert out.shape == y.shape[:3]
    # window 0 spans input voxels [-p, -p + k - 1]: its centre is (k - 1)/2 - p
    centre = [(k - 1) / 2 - p for k, p in zip(size, padding)]  # [0, 0.5, 0]
    np.testing.assert_allclose(world(out.affine, [0, 0, 0]), world(AFFINE, centre), atol=1e-5)
    np.testing.assert_allclose(
        world(out.affine, [1, 1, 1]), world(AFFINE, np.add(centre, stride)), atol=1e-5
    )


def test_nifti_series_pools_each_time_point(tmp_path):
    src, dst = tmp_path / "s.nii.gz", tmp_path / "o.nii.gz"
    stored = make_nifti(src, shape=(6, 6, 4, 3), dtype=np.float32, slope=1.0, inter=0.0)
    vol = volume.read_nifti(src)
    assert vol.array().shape == (6, 6, 4, 3)
    volume.write_nifti(dst, poolcli.pool(vol.array(), "avg", size=(2, 2, 2)), vol, Window.of(3, 2))
    out = nib.load(str(dst))
    assert out.shape == (3, 3, 2, 3) and out.get_data_dtype() == np.float32
    for t in range(3):
        np.testing.assert_allclose(
            out.get_fdata()[..., t],
            poolcli.pool(stored[..., t, None], "avg", size=(2, 2, 2))[..., 0],
            rtol=1e-6,
        )


def test_pooled_affine_needs_three_numbers():
    with pytest.raises(UsageError, match="three-number window"):
        volume.pooled_affine(AFFINE, Window.of(2, 2))


def ome_sizes(path):
    with tifffile.TiffFile(str(path)) as tif:
        root = ET.fromstring(tif.ome_metadata)
    pixels = next(e for e in root.iter() if e.tag.endswith("Pixels"))
    return {a: float(pixels.get(f"PhysicalSize{a}")) for a in "XYZ"}, pixels


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_ome_tiff_physical_sizes_times_stride(tmp_path, dtype):
    src, dst = tmp_path / "s.ome.tif", tmp_path / "o.ome.tif"
    data = np.random.default_rng(2).integers(0, 4000, (6, 2, 16, 20)).astype(dtype)  # Z C Y X
    tifffile.imwrite(
        src,
        data,
        ome=True,
        metadata={
            "axes": "ZCYX",
            "PhysicalSizeX": 0.5,
            "PhysicalSizeY": 0.25,
            "PhysicalSizeZ": 2.0,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeYUnit": "µm",
            "PhysicalSizeZUnit": "µm",
        },
    )
    stack = volume.read_stack(src)
    assert stack.kind == "ome" and stack.array.shape == (6, 16, 20, 2) and stack.channels
    np.testing.assert_array_equal(stack.array, data.transpose(0, 2, 3, 1))
    y = poolcli.pool(stack.array, "max", size=(3, 2, 4))
    volume.write_stack(dst, y, stack, (3, 2, 4))
    sizes, _ = ome_sizes(dst)
    assert sizes == {"X": 2.0, "Y": 0.5, "Z": 6.0}
    with tifffile.TiffFile(dst) as tif:
        assert tif.series[0].axes == "ZCYX" and tif.series[0].dtype == dtype
        np.testing.assert_array_equal(tif.series[0].asarray(), y.transpose(0, 3, 1, 2))


def test_imagej_hyperstack_spacing_and_resolution(tmp_path):
    src, dst = tmp_path / "ij.tif", tmp_path / "o.tif"
    data = np.random.default_rng(3).integers(0, 65535, (4, 3, 16, 20)).astype(np.uint16)
    tifffile.imwrite(
        src,
        data,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.25),
        metadata={"spacing": 2.0, "unit": "um", "axes": "ZCYX"},
    )
    stack = volume.read_stack(src)
    assert stack.kind == "imagej" and stack.array.shape == (4, 16, 20, 3)
    assert stack.sizes == {"X": (0.5, "µm"), "Y": (0.25, "µm"), "Z": (2.0, "µm")}
    y = poolcli.pool(stack.array, "avg", size=(2, 2, 2))
    volume.write_stack(dst, y, stack, 2)
    with tifffile.TiffFile(dst) as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZCYX"
        assert tif.imagej_metadata["spacing"] == pytest.approx(4.0)
        xres, yres = tif.pages[0].tags["XResolution"].value, tif.pages[0].tags["YResolution"].value
        assert xres[1] / xres[0] == pytest.approx(1.0) and yres[1] / yres[0] == pytest.approx(0.5)
        np.testing.assert_array_equal(tif.series[0].asarray(), y.transpose(0, 3, 1, 2))
        assert tif.series[0].dtype == np.uint16


def test_plain_multipage_tiff_is_a_volume(tmp_path):
    src, dst = tmp_path / "mp.tif", tmp_path / "o.tif"
    data = np.random.default_rng(4).random((5, 8, 10)).astype(np.float32)
    tifffile.imwrite(src, data)
    stack = volume.read_stack(src)
    assert stack.array.shape == (5, 8, 10, 1) and not stack.channels
    y = poolcli.pool(stack.array, "min", size=(2, 2, 2))
    volume.write_stack(dst, y, stack, 2)
    np.testing.assert_array_equal(tifffile.imread(dst), y[..., 0])


def test_time_lapse_and_z_together_are_refused(tmp_path):
    src = tmp_path / "tz.tif"
    tifffile.imwrite(src, np.zeros((2, 3, 8, 8), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(ImageError, match="more than one stack axis"):
        volume.read_stack(src)


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(ImageError, match=r'pip install "poolcli\[science\]"'):
        volume.read_nifti(tmp_path / "x.nii")

"""Volumes: NIfTI through nibabel and microscopy stacks through tifffile (the ``science`` extra).

Interface
---------
NIfTI (``.nii``, ``.nii.gz``):

- ``read_nifti(path) -> Nifti``: ``.data`` the stored (unscaled) array in the file's own dtype and
  axis order (i, j, k[, t]), ``.affine`` (voxel -> world, 4x4), ``.header``, ``.slope``/``.inter``
  (``scl_slope``/``scl_inter``; the real value is ``data * slope + inter``).
  ``.array()`` gives it as poolcli's (D, H, W, C): the three spatial axes (i, j, k) as (D, H, W)
  and a 4-D series' time points as channels, so a three-number window pools each time point.
- ``pooled_affine(affine, window) -> affine``: voxel size x stride (each column of the 3x3 part
  times its axis's stride), origin moved to the centre of the first output window:
  ``origin + A @ ((k - 1) * d / 2 - p)`` with ``A = affine[:3, :3]`` (padding and dilation
  accounted for). With k = s = 2 and no padding the new origin is half an input voxel inwards.
- ``write_nifti(path, pooled, like, window)``: ``pooled`` in the layout of ``Nifti.array()``
  (or of ``.data``); written in ``like``'s dtype with its ``scl_slope``/``scl_inter`` unchanged
  (the stored integers are pooled, so the scaling still applies), sform/qform codes and the
  other header fields kept, pixdim scaled. Pool the stored values with a mode whose result is
  linear in them (every mode is, except that max and min swap where ``slope < 0``).

Microscopy TIFF (multi-page, ImageJ hyperstack, OME-TIFF):

- ``read_stack(path) -> Stack``: ``.array`` (D, H, W, C) from the file's axes metadata (the
  depth axis is Z, or T, or any other single non-planar axis; C is the channel or sample axis;
  axes of length 1 are dropped; two axes of length > 1 besides Y, X and C are refused; C = 1
  and ``.channels`` false when the file has no channel axis, so the array is always what
  ``poolcli.pool`` reads as a volume),
  ``.kind`` ("ome", "imagej" or "tiff"), ``.sizes`` the physical size per axis
  {"X": (value, unit), "Y": ..., "Z": ...} (OME ``PhysicalSize*``; ImageJ ``spacing`` and the
  X/YResolution tags; plain TIFF resolution tags), ``.depth_axis`` ("Z", "T", ...).
- ``write_stack(path, pooled, like, stride)``: the same kind of file as ``like`` (OME-TIFF when
  the name ends in ``.ome.tif[f]``), axes in ImageJ's order (depth, C, Y, X), dtype as given
  (16-bit and float kept), physical sizes multiplied by the strides (D, H, W) -> (Z, Y, X).

Every output is written to a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError, UsageError
from ._formats import Window, need, replace_atomically


def _nib():
    return need("nibabel", "science")


def _tifffile():
    return need("tifffile", "science")


# ---------------------------------------------------------------------------------------------
# NIfTI


@dataclass
class Nifti:
    """A NIfTI file's stored voxels and what gives them meaning."""

    data: np.ndarray
    affine: np.ndarray
    header: object
    slope: float = 1.0
    inter: float = 0.0

    def array(self) -> np.ndarray:
        """(D, H, W, C): the spatial axes (i, j, k) and the time points (or 1) as channels."""
        data = self.data
        if data.ndim == 2:
            data = data[:, :, None]
        if data.ndim == 3:
            return data[..., None]
        if data.ndim == 4:
            return data
        raise ImageError(f"a NIfTI of {data.ndim} dimensions is not supported (2 to 4)")


def read_nifti(path) -> Nifti:
    """The stored voxels, affine, header and scaling of a NIfTI-1/2 file."""
    nib = _nib()
    try:
        img = nib.load(os.fspath(path))
        data = np.asanyarray(img.dataobj.get_unscaled())
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise ImageError(f"{path}: cannot read as NIfTI: {exc}") from None
    slope = getattr(img.dataobj, "slope", 1.0)
    inter = getattr(img.dataobj, "inter", 0.0)
    return Nifti(
        data=data,
        affine=np.array(img.affine, dtype=np.float64),
        header=img.header,
        slope=float(slope),
        inter=float(inter),
    )


def pooled_affine(affine, window: Window) -> np.ndarray:
    """The affine of the pooled volume (see the module doc); ``window`` over (i, j, k)."""
    affine = np.asarray(affine, dtype=np.float64)
    if len(window.size) != 3:
        raise UsageError(f"a volume needs a three-number window, got {len(window.size)} numbers")
    out = affine.copy()
    out[:3, :3] = affine[:3, :3] * np.asarray(window.stride, dtype=np.float64)
    out[:3, 3] = affine[:3, 3] + affine[:3, :3] @ np.asarray(window.centre(), dtype=np.float64)
    return out


def write_nifti(path, pooled: np.ndarray, like: Nifti, window: Window) -> None:
    """Write ``pooled`` (``Nifti.array()`` or ``.data`` layout) with ``like``'s metadata updated."""
    nib = _nib()
    from nibabel.openers import ImageOpener
    from nibabel.volumeutils import array_to_file

    pooled = np.asarray(pooled)
    if pooled.ndim == 4 and like.data.ndim < 4:
        pooled = pooled[..., 0]  # back from (D, H, W, 1)
    if like.data.ndim == 2 and pooled.ndim == 3:
        pooled = pooled[:, :, 0]
    raw = pooled.astype(like.data.dtype, copy=False)
    affine = pooled_affine(like.affine, window)
    hdr = like.header.copy()
    hdr.set_data_dtype(raw.dtype)
    hdr.set_data_shape(raw.shape)
    zooms = list(hdr.get_zooms())
    for axis in range(min(3, len(zooms))):
        zooms[axis] = zooms[axis] * window.stride[axis]
    hdr.set_zooms(zooms)
    sform_code, qform_code = int(hdr["sform_code"]), int(hdr["qform_code"])
    hdr.set_sform(affine, code=sform_code or (0 if qform_code else 2))
    if qform_code:
        hdr.set_qform(affine, code=qform_code)
    hdr["scl_slope"], hdr["scl_inter"] = like.slope, like.inter
    if isinstance(hdr, nib.Nifti1Header):
        offset = int(hdr.single_vox_offset) + int(hdr.extensions.get_sizeondisk())
        offset = -(-offset // 16) * 16
        hdr["vox_offset"] = offset
    else:
        offset = int(hdr.get_data_offset())
    with replace_atomically(path) as tmp, ImageOpener(tmp, "wb") as f:
        hdr.write_to(f)
        f.write(b"\0" * (offset - int(f.tell())))
        array_to_file(raw, f, raw.dtype, offset=offset, order="F")


# ---------------------------------------------------------------------------------------------
# Microscopy stacks


@dataclass
class Stack:
    """A stack of planes as (D, H, W, C) (C = 1 without a channel axis) with its physical sizes."""

    array: np.ndarray
    kind: str
    sizes: dict = field(default_factory=dict)
    depth_axis: str = "Z"
    channels: bool = False  # whether the file has a channel (or sample) axis


def _ome_sizes(xml: str) -> dict:
    sizes = {}
    pixels = re.search(r"<(?:\w+:)?Pixels\b[^>]*>", xml)
    if not pixels:
        return sizes
    tag = pixels.group(0)
    for axis in "XYZ":
        value = re.search(rf'\bPhysicalSize{axis}="([^"]+)"', tag)
        if value:
            unit = re.search(rf'\bPhysicalSize{axis}Unit="([^"]+)"', tag)
            sizes[axis] = (float(value.group(1)), unit.group(1) if unit else "µm")
    return sizes


def _resolution_sizes(page, unit: str | None) -> dict:
    """Pixel sizes from X/YResolution (pixels per unit); 1/1 without a unit is no information."""
    sizes = {}
    units = {2: "inch", 3: "cm"}
    res_unit = page.tags.get("ResolutionUnit")
    res_unit = int(res_unit.value) if res_unit is not None else 2
    explicit = unit is not None
    unit = unit or units.get(res_unit)
    for axis, name in (("X", "XResolution"), ("Y", "YResolution")):
        tag = page.tags.get(name)
        if tag is None:
            continue
        num, den = tag.value
        if num and den and unit and (explicit or num != den):
            sizes[axis] = (den / num, unit)  # the tag is pixels per unit
    return sizes


def read_stack(path) -> Stack:
    """A multi-page, ImageJ or OME TIFF as (D, H, W[, C]) with its physical sizes."""
    tifffile = _tifffile()
    try:
        with tifffile.TiffFile(os.fspath(path)) as tif:
            series = tif.series[0]
            axes = series.axes
            data = series.asarray()
            if tif.is_ome:
                kind, sizes = "ome", _ome_sizes(tif.ome_metadata or "")
            elif tif.is_imagej:
                meta = tif.imagej_metadata or {}
                unit = meta.get("unit")
                unit = "µm" if unit in ("micron", "um", "\\u00B5m") else unit
                kind, sizes = "imagej", _resolution_sizes(tif.pages[0], unit)
                if "spacing" in meta:
                    sizes["Z"] = (float(meta["spacing"]), unit or "pixel")
            else:
                kind, sizes = "tiff", _resolution_sizes(tif.pages[0], None)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise ImageError(f"{path}: cannot read as a TIFF stack: {exc}") from None
    return _stack(data, axes, path, kind, sizes)


def _stack(data, axes: str, path, kind: str, sizes: dict) -> Stack:
    axes = list(axes)
    if "Y" not in axes or "X" not in axes:
        raise ImageError(f"{path}: the stack's axes {''.join(axes)} have no Y and X")
    keep = [i for i, a in enumerate(axes) if data.shape[i] > 1 or a in "YX"]
    data = data.reshape([data.shape[i] for i in keep])
    axes = [axes[i] for i in keep]
    channel = "C" if "C" in axes else ("S" if "S" in axes and axes[-1] == "S" else None)
    others = [a for a in axes if a not in ("Y", "X", channel)]
    if len(others) > 1:
        raise ImageError(
            f"{path}: axes {''.join(axes)} have more than one stack axis "
            f"({', '.join(others)}); poolcli pools one (Z or T) at a time"
        )
    depth = others[0] if others else "Z"
    order = ([axes.index(depth)] if others else []) + [axes.index("Y"), axes.index("X")]
    if channel:
        order.append(axes.index(channel))
    data = np.transpose(data, order)
    if not others:
        data = data[None]
    if not channel:
        data = data[..., None]
    if depth not in "ZT":
        depth = "Z"
    return Stack(array=data, kind=kind, sizes=sizes, depth_axis=depth, channels=bool(channel))


def write_stack(path, pooled: np.ndarray, like: Stack, stride) -> None:
    """Write the pooled (D, H, W[, C]) stack as ``like``'s kind, physical sizes x stride."""
    tifffile = _tifffile()
    pooled = np.asarray(pooled)
    if pooled.ndim not in (3, 4):
        raise UsageError(f"a stack is (D, H, W[, C]), got {pooled.shape}")
    sd, sh, sw = Window.of(3, stride).stride
    scale = {"Z": sd, "Y": sh, "X": sw}
    sizes = {axis: (value * scale[axis], unit) for axis, (value, unit) in like.sizes.items()}
    depth = like.depth_axis
    if pooled.ndim == 4 and pooled.shape[3] == 1 and not like.channels:
        pooled = pooled[..., 0]
    if pooled.ndim == 4:
        data = np.transpose(pooled, (0, 3, 1, 2))
        axes = f"{depth}CYX"
    else:
        data, axes = pooled, f"{depth}YX"
    kind = "ome" if re.search(r"\.ome\.tiff?$", str(path), re.I) else like.kind
    kwargs: dict = {}
    if kind == "ome":
        meta = {"axes": axes}
        for axis, (value, unit) in sizes.items():
            meta[f"PhysicalSize{axis}"] = value
            meta[f"PhysicalSize{axis}Unit"] = unit
        kwargs.update(ome=True, metadata=meta)
    elif kind == "imagej":
        meta = {"axes": axes}
        if "Z" in sizes:
            meta["spacing"] = sizes["Z"][0]
        unit = next((u for _, u in sizes.values()), None)
        if unit:
            meta["unit"] = "um" if unit == "µm" else unit
        kwargs.update(imagej=True, metadata=meta)
        if "X" in sizes and "Y" in sizes:
            kwargs["resolution"] = (1 / sizes["X"][0], 1 / sizes["Y"][0])
    else:
        kwargs["metadata"] = {"axes": axes}
        if "X" in sizes and "Y" in sizes:
            unit = {"inch": "INCH", "cm": "CENTIMETER"}.get(sizes["X"][1])
            kwargs["resolution"] = (1 / sizes["X"][0], 1 / sizes["Y"][0])
            if unit:
                kwargs["resolutionunit"] = unit
    suffix = "".join(Path(path).suffixes[-2:]) if kind == "ome" else Path(path).suffix
    try:
        with replace_atomically(path, suffix=suffix) as tmp:
            tifffile.imwrite(tmp, data, **kwargs)
    except ValueError as exc:  # e.g. ImageJ cannot hold int32 or float64
        raise ImageError(f"{path}: cannot write as {kind} TIFF: {exc}") from None

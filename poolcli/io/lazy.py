"""Inputs opened as Dask arrays without reading their pixels (pyramids larger than memory).

Interface
---------
- ``open_lazy(path, kind, chunk) -> Lazy``: ``.array`` a Dask array in poolcli's channels-last
  layout ((H, W), (H, W, C) or (D, H, W, C)), ``.axes`` its OME names ("YX", "YXC",
  "ZYXC"), ``.meta`` what the pyramid's metadata needs (``pixel_size`` Z, Y, X and ``unit``
  for stacks, OME-Zarr and NIfTI; ``geo`` a ``geo.Raster`` whose ``array`` is the Dask array
  for a GeoTIFF; ``alpha`` True for a TIFF with an alpha sample), and ``close()`` (file handles).
  ``kind``: ``formats.kind``'s answer for the path (``"geotiff"``, ``"stack"``, ``"nifti"``,
  None), or ``"zarr"``.

  - ``.zarr`` store: an OME-Zarr image (its first dataset, axes from the multiscales
    metadata, pixel size from its scale) or a plain zarr array in poolcli's layout.
  - ``.npy``: C-ordered data is read band of rows by band of rows with plain file reads
    (``pread``), so neither the heap nor the resident set grows with the file (a memmap's
    pages would count in the resident set); other layouts through ``np.load(mmap_mode="r")``.
  - TIFF (plain, OME/ImageJ stack, GeoTIFF): tifffile's ``aszarr`` store, tile by tile or
    strip by strip.
  - NIfTI: nibabel's array proxy, slab by slab, stored (unscaled) values; an uncompressed
    ``.nii`` is read by slices, a ``.nii.gz`` is decompressed as each slab is read.

  Chunks: about ``chunk`` cells along each of Y and X, one plane deep; channels whole.
- ``decoded_bytes(path, kind) -> int | None``: the input's size once decoded, from its header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import ImageError, UsageError
from ._formats import need


@dataclass
class Lazy:
    """A lazily read input: the Dask array, its axes and the metadata of the pyramid."""

    array: object
    axes: str
    meta: dict = field(default_factory=dict)
    closers: list = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort: the pixels are written already
                pass


def _axes_of(ndim: int) -> str:
    axes = {2: "YX", 3: "YXC", 4: "ZYXC"}.get(ndim)
    if axes is None:
        raise ImageError(f"a pyramid input is (H, W), (H, W, C) or (D, H, W, C), got {ndim} "
                         "dimensions")
    return axes


def _chunks(shape: tuple[int, ...], axes: str, chunk: int) -> tuple[int, ...]:
    return tuple({"Z": 1, "C": n}.get(a, min(n, chunk)) for a, n in zip(axes, shape))


def open_lazy(path, kind: str | None, chunk: int = 1024) -> Lazy:
    """``path`` as a Dask array in channels-last layout (see the module doc)."""
    need("dask", "science")
    low = str(path).lower().rstrip("/")
    if kind == "zarr" or low.endswith(".zarr"):
        return _zarr(path, chunk)
    if low.endswith(".npy"):
        return _npy(path, chunk)
    if kind == "nifti":
        return _nifti(path, chunk)
    if low.endswith((".tif", ".tiff")):
        return _tiff(path, kind, chunk)
    raise UsageError(f"{path}: only .zarr, .npy, TIFF and NIfTI inputs are read chunk by chunk")


# ---------------------------------------------------------------------------------------------
# zarr


def _zarr(path, chunk: int) -> Lazy:
    import dask.array as da

    zarr = need("zarr", "science")
    try:
        node = zarr.open(os.fspath(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many kinds
        raise ImageError(f"{path}: cannot open as a zarr store: {exc}") from None
    meta: dict = {}
    multiscales = None if not hasattr(node, "attrs") else node.attrs.get("multiscales")
    if hasattr(node, "shape"):  # a plain array
        arr = da.from_zarr(node)
        axes = _axes_of(arr.ndim)
    elif multiscales:
        ms = multiscales[0]
        first = ms["datasets"][0]
        arr = da.from_zarr(node[first["path"]])
        names = [a["name"].upper() if isinstance(a, dict) else str(a).upper()
                 for a in ms.get("axes", [])]
        if len(names) != arr.ndim:
            raise ImageError(f"{path}: its multiscales axes do not match its first dataset")
        # drop length-1 T (and any other length-1 non-spatial axis); channels last
        keep = [i for i, a in enumerate(names) if a in "ZYXC" or arr.shape[i] != 1]
        if any(names[i] not in "ZYXC" for i in keep):
            raise ImageError(f"{path}: axes {''.join(names)}: only one time point is pooled")
        arr = arr[tuple(slice(None) if i in keep else 0 for i in range(arr.ndim))]
        names = [names[i] for i in keep]
        order = [names.index(a) for a in "ZYXC" if a in names]
        arr = arr.transpose(order)
        names = [names[i] for i in order]
        scale = next((t["scale"] for t in first.get("coordinateTransformations", [])
                      if t.get("type") == "scale"), None)
        if scale is not None:
            scale = [scale[keep[i]] for i in order]
            meta["pixel_size"] = tuple(float(scale[names.index(a)]) if a in names else 1.0
                                       for a in "ZYX")
        units = [a.get("unit") for a in ms.get("axes", []) if isinstance(a, dict)
                 and a.get("type") == "space" and a.get("unit")]
        if units:
            meta["unit"] = units[0]
        if "Z" not in names:
            arr = arr[None]
            names.insert(0, "Z")
        if "C" not in names:
            arr = arr[..., None]
        axes = "ZYXC"
        meta["pixel_size"] = meta.get("pixel_size", (1.0, 1.0, 1.0))
    else:
        raise ImageError(f"{path}: a zarr group without OME-Zarr multiscales metadata")
    if arr.ndim == 4 and axes != "ZYXC":
        axes = "ZYXC"
    return Lazy(arr.rechunk(_chunks(arr.shape, axes, chunk)), axes, meta)


# ---------------------------------------------------------------------------------------------
# .npy


class _Rows:
    """C-ordered .npy data read by region with ``os.pread``: a (rows, ...) band per call."""

    def __init__(self, path, shape, dtype, offset):
        self.path, self.shape, self.offset = os.fspath(path), tuple(shape), int(offset)
        self.file_dtype = np.dtype(dtype)
        self.dtype = self.file_dtype.newbyteorder("=")
        self.ndim = len(self.shape)
        self.fd = os.open(self.path, os.O_RDONLY)

    def __getitem__(self, key):
        """``key``: a tuple of slices, the first (D or H) chosen by the chunks, the rest whole
        for a C-ordered band (the chunks make them so)."""
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        first = range(*key[0].indices(self.shape[0]))
        inner = int(np.prod(self.shape[1:], dtype=np.int64)) * self.file_dtype.itemsize
        rows = [self._read(i, inner) for i in first]
        band = np.stack(rows) if rows else np.empty((0,) + self.shape[1:], self.file_dtype)
        band = band[(slice(None),) + tuple(key[1:])]
        return band.astype(self.dtype, copy=False)

    def _read(self, i: int, inner: int) -> np.ndarray:
        buf = os.pread(self.fd, inner, self.offset + i * inner)
        if len(buf) != inner:
            raise ImageError(f"{self.path}: the file is shorter than its header says")
        return np.frombuffer(buf, dtype=self.file_dtype).reshape(self.shape[1:])

    def close(self) -> None:
        os.close(self.fd)


def _npy(path, chunk: int) -> Lazy:
    import dask.array as da

    try:
        mm = np.load(os.fspath(path), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read as .npy: {exc}") from None
    axes = _axes_of(mm.ndim)
    closers = []
    if isinstance(mm, np.memmap) and mm.flags.c_contiguous and mm.size:
        src = _Rows(path, mm.shape, mm.dtype, mm.offset)
        closers.append(src.close)
        del mm
        if axes == "ZYXC":  # one plane per chunk
            chunks = (1,) + src.shape[1:]
        else:  # a band of whole rows, about chunk x chunk cells
            rows = max(1, (chunk * chunk) // src.shape[1])
            chunks = (min(src.shape[0], rows),) + src.shape[1:]
        arr = da.from_array(src, chunks=chunks, asarray=False, lock=False, fancy=False,
                            meta=np.empty((0,) * src.ndim, src.dtype))
    else:
        arr = da.from_array(mm, chunks=_chunks(mm.shape, axes, chunk), lock=False)
    return Lazy(arr, axes, {}, closers)


# ---------------------------------------------------------------------------------------------
# TIFF


def _tiff(path, kind: str | None, chunk: int) -> Lazy:
    import dask.array as da

    tifffile = need("tifffile", "science")
    zarr = need("zarr", "science")
    try:
        tif = tifffile.TiffFile(os.fspath(path))
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise ImageError(f"{path}: cannot read as a TIFF: {exc}") from None
    closers = [tif.close]
    try:
        series = tif.series[0]
        page = tif.pages[0]
        meta: dict = {}
        if kind == "geotiff":
            from .geo import read_geotiff

            store = page.aszarr()
            closers.insert(0, store.close)
            arr = da.from_zarr(zarr.open(store, mode="r"))
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and arr.ndim == 3:
                arr = arr.transpose(1, 2, 0)
            raster = read_geotiff(path, pixels=False)
            raster.array = arr
            meta["geo"] = raster
            axes = "YX" if arr.ndim == 2 else "YXC"
        else:
            store = series.aszarr()
            closers.insert(0, store.close)
            arr = da.from_zarr(zarr.open(store, mode="r"))
            if kind == "stack":
                from .volume import _stack

                kind_, sizes = _stack_sizes(tif)
                st = _stack(arr, series.axes, path, kind_, sizes)
                arr, axes = st.array, "ZYXC"
                meta["pixel_size"] = tuple(sizes.get(a, (1.0, None))[0] for a in "ZYX")
                unit = next((u for _, u in sizes.values()), None)
                if unit:
                    meta["unit"] = unit
            else:
                samples = page.samplesperpixel
                if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and samples > 1:
                    arr = da.moveaxis(arr, -3, -1)
                if arr.ndim == 4 or (arr.ndim == 3 and samples == 1):
                    raise UsageError("a multi-frame image's pyramid: use an OME-TIFF stack input")
                axes = _axes_of(arr.ndim)
                extra = page.extrasamples
                meta["alpha"] = bool(extra) and int(extra[-1]) in (1, 2)
                if page.photometric == tifffile.PHOTOMETRIC.PALETTE:
                    raise UsageError(f"{path}: a palette TIFF is converted to RGB only in memory")
    except BaseException:
        for close in closers:
            close()
        raise
    return Lazy(arr.rechunk(_chunks(arr.shape, axes, chunk)), axes, meta, closers)


def _stack_sizes(tif) -> tuple[str, dict]:
    """A stack's kind and physical sizes, as ``volume.read_stack`` reads them."""
    from .volume import _ome_sizes, _resolution_sizes

    if tif.is_ome:
        return "ome", _ome_sizes(tif.ome_metadata or "")
    if tif.is_imagej:
        meta = tif.imagej_metadata or {}
        unit = meta.get("unit")
        unit = "µm" if unit in ("micron", "um", "\\u00B5m") else unit
        sizes = _resolution_sizes(tif.pages[0], unit)
        if "spacing" in meta:
            sizes["Z"] = (float(meta["spacing"]), unit or "pixel")
        return "imagej", sizes
    return "tiff", _resolution_sizes(tif.pages[0], None)


# ---------------------------------------------------------------------------------------------
# NIfTI


class _Unscaled:
    """nibabel's array proxy read by slices, stored values (``scl_slope``/``scl_inter`` not
    applied: the pyramid keeps the file's data type)."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.shape = tuple(proxy.shape)
        self.dtype = np.dtype(proxy.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        get = getattr(self.proxy, "_get_unscaled", None)
        if get is not None:
            return np.asarray(get(key))
        return np.asarray(self.proxy.get_unscaled())[key]  # pragma: no cover - old nibabel


def _nifti(path, chunk: int) -> Lazy:
    import dask.array as da

    nib = need("nibabel", "science")
    try:
        img = nib.load(os.fspath(path))
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise ImageError(f"{path}: cannot read as NIfTI: {exc}") from None
    src = _Unscaled(img.dataobj)
    if src.ndim not in (2, 3, 4):
        raise ImageError(f"a NIfTI of {src.ndim} dimensions is not supported (2 to 4)")
    # (i, j, k[, t]) -> (D, H, W, C) as ``volume.Nifti.array``: i the depth, t the channels
    chunks = (1,) + tuple(min(n, chunk) for n in src.shape[1:3]) + src.shape[3:]
    arr = da.from_array(src, chunks=chunks[: src.ndim], asarray=False, lock=True, fancy=False,
                        meta=np.empty((0,) * src.ndim, src.dtype))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim == 3:
        arr = arr[..., None]
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    zooms += [1.0] * (3 - len(zooms))
    unit = img.header.get_xyzt_units()[0]
    meta = {"pixel_size": tuple(zooms), "unit": {"mm": "millimeter", "micron": "micrometer",
                                                 "meter": "meter"}.get(unit)}
    return Lazy(arr, "ZYXC", {k: v for k, v in meta.items() if v is not None})


def decoded_bytes(path, kind: str | None) -> int | None:
    """The input's pixels in bytes once decoded, from its header (None when unknown)."""
    low = str(path).lower().rstrip("/")
    try:
        if low.endswith(".npy"):
            mm = np.load(os.fspath(path), mmap_mode="r", allow_pickle=False)
            return int(mm.size) * mm.dtype.itemsize
        if kind == "nifti":
            img = need("nibabel", "science").load(os.fspath(path))
            return int(np.prod(img.shape)) * np.dtype(img.get_data_dtype()).itemsize
        if low.endswith((".tif", ".tiff")):
            tifffile = need("tifffile", "science")
            with tifffile.TiffFile(os.fspath(path)) as tif:
                s = tif.series[0]
                return int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize
    except (OSError, ValueError, ImageError):
        return None
    return None

"""Image and array files in and out, one module per job; import the one you need.

- ``read``: ``load_image``, ``load_bytes``, ``header``, ``DEFAULT_MAX_PIXELS`` (Pillow and
  ``.npy``, the pixel limit checked from the header, the TIFF directory guard, EXIF
  orientation, frames and modes)
- ``write``: ``save_image``, ``output_format`` (the Pillow mode fitted to the data and the
  format, save parameters, ICC and DPI, frames; ``pngwrite`` for plain PNGs)
- ``pngwrite``: the fast single-frame PNG writer (8-bit, and 16-bit grey and colour)
- ``npyfile``: ``.npy`` arrays (header, checks, ``allow_pickle=False``) and ``check_pixels``,
  the ``--max-pixels`` limit every reader checks from a header before decoding
- ``deep``: 16-bit colour and the TIFFs Pillow cannot read (imagecodecs, tifffile;
  ``poolcli[depth]``)
- ``meta``: EXIF, XMP and PNG text read, then adapted for the output (orientation reset,
  dimensions updated) or dropped with ``--strip``
- ``fsio``: ``atomic_write`` (temporary name + rename, umask), ``open_input`` (``-`` is
  standard input), ``one_line`` (the reason for an I/O error)
- ``types``: ``Image``, ``Header`` and the mode names shared by reading and writing
- ``prefetch``: Pillow's decompression-bomb check lifted in poolcli's reading threads only,
  and the one file of a one-file run decoded in a thread while the command line starts
- formats behind optional extras, each with its interface in its docstring: ``video``
  (PyAV, streamed frames; ``poolcli[video]``), ``volume`` (NIfTI through nibabel, OME/ImageJ
  TIFF stacks through tifffile), ``geo`` (GeoTIFF tags and nodata), ``pyramid`` (OME-Zarr,
  pyramidal TIFF) (``poolcli[science]``); ``_formats`` holds what they share

Errors are ``poolcli.errors.ImageError``. This package re-exports nothing, so that each
name has one home (and one place to patch in tests); ``poolcli.load_image`` and
``poolcli.save_image`` are the public shortcuts. Importing it loads neither NumPy nor
Pillow.
"""

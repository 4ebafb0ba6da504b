"""Metadata: what the input's EXIF, XMP and PNG text chunks become in the output.

Reading keeps them in ``Image.info`` (``read_metadata``); writing adapts them to the output
(``output_metadata``: the EXIF orientation reset to 1, since the rotation was applied on
reading, and the stored pixel dimensions set to the output's; XMP as is; text chunks for
PNG) and says in ``warn`` what a format cannot hold; ``pil_params`` turns that into
Pillow's save parameters. ``--strip`` keeps none of it. Pillow is imported inside functions.
"""

from __future__ import annotations

from .types import Image

#: formats whose files can hold EXIF and XMP
EXIF_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "WEBP"})


def read_metadata(im, info: dict, fmt: str) -> None:
    """EXIF, XMP and PNG text chunks of the file, kept for the output (``write`` adapts them)."""
    exif = im.info.get("exif")
    if isinstance(exif, bytes) and exif and fmt != "TIFF":  # a TIFF's EXIF is its own tags
        info["exif"] = exif
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, (bytes, bytearray)) and xmp:
        info["xmp"] = bytes(xmp)
    if fmt == "PNG":
        try:
            text = {str(k): str(v) for k, v in (getattr(im, "text", None) or {}).items()
                    if k != "XML:com.adobe.xmp"}
        except Exception:  # noqa: BLE001 - a damaged text chunk does not spoil the pixels
            text = {}
        if text:
            info["text"] = text




#: TIFF tags that describe the pixels' layout: never copied from an EXIF block into a TIFF
_TIFF_LAYOUT_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278,
                               279, 280, 281, 284, 317, 320, 322, 323, 324, 325, 338, 339,
                               513, 514, 530, 531, 532})


def _exif(raw: bytes, size: tuple[int, int], warn: list):
    """The input's EXIF block for an output of ``size`` (w, h) -> ``PIL.Image.Exif``: the
    orientation reset to 1 (the rotation was applied on reading) and the pixel dimensions
    (ExifImageWidth/Height, ImageWidth/Length where present) set to the output's. None
    (with a warning) when the block cannot be parsed."""
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    try:
        exif.load(raw)
        if 0x0112 in exif:
            exif[0x0112] = 1
        for tag, value in ((0x0100, size[0]), (0x0101, size[1])):
            if tag in exif:
                exif[tag] = value
        sub = exif.get_ifd(0x8769)
        for tag, value in ((0xA002, size[0]), (0xA003, size[1])):
            if tag in sub:
                sub[tag] = value
    except Exception:  # noqa: BLE001 - a damaged block: said, not copied
        warn.append("EXIF not kept (the input's EXIF block is damaged)")
        return None
    return exif


def _png_text_chunks(text: dict, xmp: bytes | None) -> list[tuple[bytes, bytes]]:
    """PNG text chunks: tEXt where the text is Latin-1, else iTXt (UTF-8); XMP as the iTXt
    ``XML:com.adobe.xmp``."""
    chunks = []
    for key, value in text.items():
        k = key.encode("latin-1", "replace")[:79]
        try:
            chunks.append((b"tEXt", k + b"\0" + value.encode("latin-1")))
        except UnicodeEncodeError:
            chunks.append((b"iTXt", k + b"\0\0\0\0\0" + value.encode("utf-8")))
    if xmp:
        chunks.append((b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp))
    return chunks


def output_metadata(fmt: str, like: Image | None, size: tuple[int, int], strip: bool,
              warn: list) -> dict:
    """What the output keeps of the input's EXIF, XMP and text chunks, by format:
    ``exif`` (``PIL.Image.Exif``), ``xmp`` (bytes), ``png_chunks`` (PNG: [(type, data)])."""
    info = like.info if like is not None else {}
    raw_exif, xmp, text = info.get("exif"), info.get("xmp"), info.get("text") or {}
    if strip or not (raw_exif or xmp or text):
        return {}
    lost = []
    if fmt not in EXIF_FORMATS:
        lost = [name for name, v in (("EXIF", raw_exif), ("XMP", xmp), ("text", text)) if v]
        warn.append(f"metadata not kept: {', '.join(lost)} ({fmt} cannot hold it)")
        return {}
    out: dict = {}
    if raw_exif:
        exif = _exif(raw_exif, size, warn)
        if exif is not None:
            out["exif"] = exif
    if xmp and fmt == "JPEG" and len(xmp) > 65504:
        warn.append("XMP not kept (over the 64 KB a JPEG segment holds)")
        xmp = None
    if xmp:
        out["xmp"] = bytes(xmp)
    if fmt == "PNG":
        out["png_chunks"] = _png_text_chunks(text, out.pop("xmp", None))
    elif text:
        warn.append(f"PNG text chunks not kept ({fmt} has no text chunks)")
    return out


def pil_params(fmt: str, meta: dict) -> dict:
    """``output_metadata`` as Pillow's save parameters."""
    params: dict = {}
    exif = meta.get("exif")
    if fmt == "TIFF":
        if exif is not None or meta.get("xmp"):
            from PIL import Image as PILImage

            tags = PILImage.Exif()
            if exif is not None:
                tags.load(exif.tobytes())  # a loaded copy: Pillow's TIFF writer reads its IFDs
                for tag in _TIFF_LAYOUT_TAGS & set(tags):
                    del tags[tag]
            if meta.get("xmp"):
                tags[700] = meta["xmp"]
            params["exif"] = tags
        return params
    if exif is not None:
        params["exif"] = exif.tobytes()
    if meta.get("xmp"):
        params["xmp"] = meta["xmp"]
    if meta.get("png_chunks"):
        from PIL.PngImagePlugin import PngInfo

        pnginfo = PngInfo()
        for kind, data in meta["png_chunks"]:
            pnginfo.add(kind, data)
        params["pnginfo"] = pnginfo
    return params


def exif_body(data: bytes) -> bytes:
    return data[6:] if data.startswith(b"Exif\0\0") else data

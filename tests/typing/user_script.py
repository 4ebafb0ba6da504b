"""A user's script, checked by ``mypy --strict`` in tests/test_layouts.py (never run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

import poolcli


def shrink(path: Path, out: Path) -> int:
    img = poolcli.load_image(str(path))
    y: npt.NDArray[np.uint8] = poolcli.pool(img.array, "max", size=2, stride=(2, 2))
    return poolcli.save_image(str(out), y, like=img)


def batch(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return poolcli.pool(x, "avg", size=(2, 3), layout="NCHW", count_include_pad=True)


def result_shape(r: poolcli.Result) -> tuple[int, ...]:
    return r.array.shape


modes: list[str] = list(poolcli.MODES)

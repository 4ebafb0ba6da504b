"""poolcli: the pooling operations of CNNs applied to real images and arrays.

>>> import poolcli, numpy as np
>>> poolcli.pool(np.arange(16, dtype=np.uint8).reshape(4, 4), "max").tolist()
[[5, 7], [13, 15]]

Importing the package is cheap: NumPy, Pillow and Numba load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers see behind the lazy __getattr__ below
    from .api import pool as pool
    from .io.read import load_image as load_image
    from .io.write import save_image as save_image
    from .modes import MODES as MODES
    from .plan import Result as Result

__version__ = "0.1.0"
__all__ = ["pool", "unpool", "load_image", "save_image", "MODES", "Result", "__version__"]


def __getattr__(name: str) -> object:
    if name == "pool":
        from .api import pool

        return pool
    if name == "unpool":
        from .api import unpool

        return unpool
    if name == "load_image":
        from .io.read import load_image

        return load_image
    if name == "save_image":
        from .io.write import save_image

        return save_image
    if name == "Result":
        from .plan import Result

        return Result
    if name == "MODES":
        from .modes import MODES

        return MODES
    raise AttributeError(f"module 'poolcli' has no attribute {name!r}")

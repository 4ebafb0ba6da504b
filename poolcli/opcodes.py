"""The op codes of the window reductions, declared once, and the numbers that go with them.

Plain data (no NumPy): ``plan`` re-exports every name, the option checks (``validate``) and
the backends read them; ``kernels._ops`` re-exports them as module-level ints, which Numba
freezes into the compiled kernels (so the kernel cache is keyed on this file too:
``kernels._sources_key``).
"""

#: op codes shared by every backend's window-reduction kernel (declared once)
OP_MAX, OP_MIN, OP_AVG, OP_LP, OP_MIXED, OP_SOFT, OP_STOCH, OP_WEIGHTED = range(8)
#: the selection kernels' op codes (``select_windows``): majority pixel, median, quantile
OP_MODE, OP_MEDIAN, OP_QUANTILE = 8, 9, 10
#: the op code of each reduction name (a mode's name, or an ``--op`` value); blurpool is
#: weighted pooling of the reflect-padded input with the binomial filter
OP_CODES = {"max": OP_MAX, "fractional": OP_MAX, "min": OP_MIN, "avg": OP_AVG, "lp": OP_LP,
            "mixed": OP_MIXED, "softpool": OP_SOFT, "stochastic": OP_STOCH,
            "weighted": OP_WEIGHTED, "blurpool": OP_WEIGHTED}
OP_CODES.update({"mode": OP_MODE, "median": OP_MEDIAN, "quantile": OP_QUANTILE})
#: the op codes computed by ``select_windows`` (gather each window's cells, sort, pick)
SELECT_OPS = (OP_MODE, OP_MEDIAN, OP_QUANTILE)
#: the most cells of one window the CUDA selection kernel holds (a per-thread buffer)
SELECT_MAX_CELLS = 256

#: lp sums |x|^p as it is when the largest term m^p is in [LP_TINY, LP_HUGE / cells] (no
#: overflow, no loss to underflow, and the plain formula's numbers to the bit); otherwise
#: with the window's largest |x| factored out: m * (mean (|x|/m)^p)^(1/p)
LP_TINY, LP_HUGE = 2.0**-900, 2.0**900

#: dtypes the kernels compute in; others are converted to these and back
KERNEL_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "float32",
                 "float64")

"""A small ctypes binding to oneDNN, the library the paddlepaddle wheel ships as ``paddle/libs/libdnnl.so.3``.

Why ctypes and not a compiled operator: the wheel ships the library but not its real headers
(``paddle/include/third_party/install/onednn/include/dnnl.hpp`` only includes
``oneapi/dnnl/dnnl.hpp``, which is not there), so a C++ extension would need its own
declarations anyway, plus a compiler and a build cache on every machine. oneDNN's C API is
stable within a major version (3.x), and the few functions, enum values and argument numbers
used here are declared below, from the oneDNN 3.x C API (``dnnl.h``, ``dnnl_types.h``).
Calling it through ctypes costs about a microsecond per call, a few dozen calls per training
step, against milliseconds of convolution.

Everything runs on the CPU engine with the library's own OpenMP threads: the same
``omp_set_num_threads``/``OMP_NUM_THREADS`` that Paddle's CPU kernels follow.
"""
from __future__ import annotations

import ctypes
import os

# --- constants of the oneDNN 3.x C API (dnnl_types.h, dnnl_common_types.h) -------------------
F32 = 3                      # dnnl_f32
TAG_ANY, TAG_A, TAG_ABCD, TAG_ABCDE = 1, 2, 5, 6   # dnnl_format_tag_any, dnnl_a, dnnl_abcd, ...
FORWARD_TRAINING, FORWARD_INFERENCE = 64, 96       # dnnl_prop_kind_t
CONVOLUTION_DIRECT, ELTWISE_RELU, RELU_USE_DST, POOLING_MAX = 0x1, 0x20, 0x100, 0x1ff  # alg_kind
QUERY_SRC_MD, QUERY_DIFF_SRC_MD, QUERY_WEIGHTS_MD, QUERY_DIFF_WEIGHTS_MD = 129, 130, 131, 132
QUERY_DST_MD, QUERY_DIFF_DST_MD, QUERY_WORKSPACE_MD = 133, 134, 135
ARG_SRC, ARG_DST, ARG_WEIGHTS, ARG_BIAS = 1, 17, 33, 41
ARG_DIFF_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS, ARG_DIFF_BIAS = 129, 145, 161, 169
ARG_FROM, ARG_TO, ARG_WORKSPACE = ARG_SRC, ARG_DST, 64
_QUERY_IMPL_INFO_STR = 8    # dnnl_query_impl_info_str
_ENGINE_CPU = 1              # dnnl_cpu
_STREAM_DEFAULT = 0x1        # dnnl_stream_default_flags
_MAX_NDIMS = 12              # DNNL_MAX_NDIMS
_Dims = ctypes.c_int64 * _MAX_NDIMS
_DimsP = ctypes.POINTER(ctypes.c_int64)   # a dnnl_dims_t argument decays to int64_t*
_vp = ctypes.c_void_p


class DnnlError(RuntimeError):
    """A oneDNN call failed, or the library cannot be used here."""


class _ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _vp)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                ("gpu_runtime", ctypes.c_uint)]


_SIGNATURES = {   # name: argument types (all return dnnl_status_t unless listed in _RESTYPES)
    "dnnl_version": [],
    "dnnl_engine_create": [_vp, ctypes.c_int, ctypes.c_size_t],
    "dnnl_stream_create": [_vp, _vp, ctypes.c_uint],
    "dnnl_memory_desc_create_with_tag": [_vp, ctypes.c_int, _DimsP, ctypes.c_int, ctypes.c_int],
    "dnnl_memory_desc_equal": [_vp, _vp],
    "dnnl_memory_desc_get_size": [_vp],
    "dnnl_memory_create": [_vp, _vp, _vp, _vp],
    "dnnl_memory_set_data_handle": [_vp, _vp],
    "dnnl_primitive_desc_query_md": [_vp, ctypes.c_int, ctypes.c_int],
    "dnnl_primitive_desc_query": [_vp, ctypes.c_int, ctypes.c_int, _vp],
    "dnnl_primitive_create": [_vp, _vp],
    "dnnl_primitive_execute": [_vp, _vp, ctypes.c_int, ctypes.POINTER(_ExecArg)],
    "dnnl_reorder_primitive_desc_create": [_vp, _vp, _vp, _vp, _vp, _vp],
    "dnnl_convolution_forward_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, _vp, _vp, _DimsP, _DimsP, _DimsP, _DimsP, _vp],
    "dnnl_convolution_backward_data_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, _vp, _vp, _vp, _DimsP, _DimsP, _DimsP, _DimsP, _vp, _vp],
    "dnnl_convolution_backward_weights_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, _vp, _vp, _vp, _vp, _DimsP, _DimsP, _DimsP, _DimsP, _vp, _vp],
    "dnnl_pooling_forward_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, ctypes.c_int, _vp, _vp] + [_DimsP] * 5 + [_vp],
    "dnnl_pooling_backward_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, _vp, _vp] + [_DimsP] * 5 + [_vp, _vp],
    "dnnl_eltwise_forward_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, ctypes.c_int, _vp, _vp, ctypes.c_float, ctypes.c_float, _vp],
    "dnnl_eltwise_backward_primitive_desc_create":
        [_vp, _vp, ctypes.c_int, _vp, _vp, _vp, ctypes.c_float, ctypes.c_float, _vp, _vp],
    "dnnl_post_ops_create": [_vp],
    "dnnl_post_ops_append_eltwise": [_vp, ctypes.c_int, ctypes.c_float, ctypes.c_float],
    "dnnl_primitive_attr_create": [_vp],
    "dnnl_primitive_attr_set_post_ops": [_vp, _vp],
}
_RESTYPES = {"dnnl_version": ctypes.POINTER(_Version), "dnnl_memory_desc_equal": ctypes.c_int,
             "dnnl_memory_desc_get_size": ctypes.c_size_t, "dnnl_primitive_desc_query_md": _vp}


def library_path() -> str:
    """Where the paddlepaddle wheel keeps its oneDNN library."""
    import paddle

    return os.path.join(os.path.dirname(paddle.__file__), "libs", "libdnnl.so.3")


def _load():
    path = library_path()
    if not os.path.exists(path):
        raise DnnlError(f"{path} not found (a paddlepaddle build without oneDNN)")
    lib = ctypes.CDLL(path)
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = _RESTYPES.get(name, ctypes.c_int)
    version = lib.dnnl_version().contents
    if version.major != 3:
        raise DnnlError(f"oneDNN {version.major}.{version.minor} found; this binding needs 3.x")
    return lib, f"{version.major}.{version.minor}.{version.patch}"


class _Library:
    """The loaded library, its CPU engine and stream (one per process)."""

    def __init__(self):
        self.lib, self.version = _load()
        self.engine, self.stream = _vp(), _vp()
        self.check(self.lib.dnnl_engine_create(ctypes.byref(self.engine), _ENGINE_CPU, 0),
                   "engine_create")
        self.check(self.lib.dnnl_stream_create(ctypes.byref(self.stream), self.engine,
                                               _STREAM_DEFAULT), "stream_create")

    @staticmethod
    def check(status: int, what: str) -> None:
        """Raise DnnlError when a call did not return dnnl_success (0)."""
        if status != 0:
            raise DnnlError(f"oneDNN {what} failed with status {status}")


_LIBRARY = None


def library() -> _Library:
    """The process's oneDNN library, loaded on first use (raises DnnlError if it cannot be)."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = _Library()
    return _LIBRARY


def relu_attr():
    """Primitive attributes that apply ReLU to a primitive's output (a fused post-op)."""
    lib = library()
    post_ops, attr = _vp(), _vp()
    lib.check(lib.lib.dnnl_post_ops_create(ctypes.byref(post_ops)), "post_ops_create")
    lib.check(lib.lib.dnnl_post_ops_append_eltwise(post_ops, ELTWISE_RELU, 0.0, 0.0), "post-op")
    lib.check(lib.lib.dnnl_primitive_attr_create(ctypes.byref(attr)), "attr_create")
    lib.check(lib.lib.dnnl_primitive_attr_set_post_ops(attr, post_ops), "attr post-ops")
    return attr


def dims(values) -> _Dims:
    """A dnnl_dims_t holding ``values``."""
    out = _Dims()
    for i, v in enumerate(values):
        out[i] = int(v)
    return out


def memory_desc(shape, tag: int):
    """A f32 memory descriptor of logical ``shape`` in format ``tag`` (TAG_ANY lets a primitive choose)."""
    lib = library()
    md = _vp()
    lib.check(lib.lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), dims(shape),
                                                        F32, tag), "memory_desc_create")
    return md


def plain_desc(shape):
    """The descriptor of a dense, row-major (C-order) f32 tensor of ``shape``: Paddle's layout."""
    return memory_desc(shape, {1: TAG_A, 4: TAG_ABCD, 5: TAG_ABCDE}[len(shape)])


def same_desc(a, b) -> bool:
    """True if two memory descriptors describe the same layout."""
    return bool(library().lib.dnnl_memory_desc_equal(a, b))


def desc_size(md) -> int:
    """Bytes a buffer of descriptor ``md`` takes (blocked layouts are padded)."""
    return int(library().lib.dnnl_memory_desc_get_size(md))


def query_desc(pd, what: int):
    """The memory descriptor a primitive descriptor chose for ``what`` (a QUERY_* value)."""
    md = library().lib.dnnl_primitive_desc_query_md(pd, what, 0)
    if not md:
        raise DnnlError(f"oneDNN primitive has no memory descriptor {what}")
    return md


def impl_name(pd) -> str:
    """The implementation oneDNN chose for a primitive descriptor, e.g. 'jit:avx2' or 'ref:any'."""
    name = ctypes.c_char_p()
    library().check(library().lib.dnnl_primitive_desc_query(pd, _QUERY_IMPL_INFO_STR, 0,
                                                           ctypes.byref(name)), "query impl")
    return (name.value or b"").decode()


def create_pd(fn_name: str, *args):
    """Call ``dnnl_<fn_name>_primitive_desc_create(&pd, engine, *args)`` and return pd."""
    lib = library()
    pd = _vp()
    fn = getattr(lib.lib, f"dnnl_{fn_name}_primitive_desc_create")
    lib.check(fn(ctypes.byref(pd), lib.engine, *args), fn_name)
    return pd


class Primitive:
    """A oneDNN primitive with one memory object per argument; ``run`` points them at buffers.

    Args:
        pd: its primitive descriptor.
        args: ``{ARG_*: memory descriptor}``, the arguments ``run`` takes, in that order.
    """

    def __init__(self, pd, args: dict):
        lib = library()
        self._lib = lib.lib
        self._stream = lib.stream
        self.primitive = _vp()
        lib.check(self._lib.dnnl_primitive_create(ctypes.byref(self.primitive), pd),
                  "primitive_create")
        self._exec = (_ExecArg * len(args))()
        self._memories = []
        for i, (arg, md) in enumerate(args.items()):
            mem = _vp()
            lib.check(self._lib.dnnl_memory_create(ctypes.byref(mem), md, lib.engine, None),
                      "memory_create")
            self._exec[i].arg, self._exec[i].memory = arg, mem
            self._memories.append(mem)

    def run(self, *pointers: int) -> None:
        """Execute on the buffers at these addresses, one per argument, in the order given."""
        set_handle = self._lib.dnnl_memory_set_data_handle
        for mem, pointer in zip(self._memories, pointers):
            set_handle(mem, pointer)
        status = self._lib.dnnl_primitive_execute(self.primitive, self._stream,
                                                  len(self._memories), self._exec)
        if status != 0:
            raise DnnlError(f"oneDNN primitive_execute failed with status {status}")


def reorder(src_md, dst_md) -> Primitive | None:
    """A primitive copying ``src_md`` into ``dst_md``'s layout, or None if they are the same."""
    if same_desc(src_md, dst_md):
        return None
    lib = library()
    pd = _vp()
    lib.check(lib.lib.dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src_md, lib.engine,
                                                         dst_md, lib.engine, None), "reorder")
    return Primitive(pd, {ARG_FROM: src_md, ARG_TO: dst_md})

"""conv + bias + ReLU + max-pool, LeNet's block, as one oneDNN autograd function.

Run as three Paddle ops after the convolution, ReLU and max-pooling cost LeNet a quarter of its
step (Paddle's CPU pool-gradient kernel alone ~20%), run on one thread whatever Paddle is set
to, and make the convolution's output travel from oneDNN's blocked layout to NCHW and back.
Fused here: the pooling reads the convolution's blocked output directly, keeps the argmax in a
workspace and applies ReLU as its post-op, and only the 4x smaller pooled map is reordered to
NCHW. ReLU after the max-pooling instead of before it gives the same numbers, forward and
backward (ReLU and max commute: max(relu(a), relu(b)) = relu(max(a, b)), and where the pooled
maximum is <= 0 both orders pass no gradient), and puts ReLU's backward on the pooled map, a
quarter of the convolution's output (LeNet, one thread: 4-5% of a step). Backward: ReLU's
backward on the gradient of the pooled map (from the saved pooled output), the pooling's
backward into the blocked layout, then the convolution's backward on that without a reorder.
Every step uses oneDNN's threads.
"""
from __future__ import annotations

import ctypes

from .conv import ConvPlan, _ptr, empty
from .dnnl import (
    ARG_DIFF_DST, ARG_DIFF_SRC, ARG_DST, ARG_SRC, ARG_WORKSPACE, FORWARD_TRAINING, POOLING_MAX,
    QUERY_DIFF_DST_MD, QUERY_DST_MD, QUERY_WORKSPACE_MD, RELU_USE_DST, TAG_ANY, DnnlError,
    Primitive, create_pd, desc_size, dims, impl_name, memory_desc, plain_desc, query_desc,
    relu_attr, reorder,
)


class BlockPlan:
    """oneDNN primitives for ``max_pool2d(relu(conv2d(x, w) + b), kernel, stride)``.

    Args:
        conv_key: ConvPlan's arguments (shapes, bias, stride, paddings, dilation, groups).
        kernel, stride: the pooling's (h, w) window and step (no padding, floor mode).
    """

    def __init__(self, conv_key, kernel, stride):
        self.conv = ConvPlan(*conv_key)
        n, c, h, w = self.conv.out_shape
        self.out_shape = [n, c, (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1]
        y = self.conv.dst_md
        self._y_size = desc_size(y)
        self._geometry = (dims(stride), dims(kernel), dims([0, 0]), dims([0, 0]), dims([0, 0]))
        self._pool_pd = create_pd("pooling_forward", FORWARD_TRAINING, POOLING_MAX, y,
                                  memory_desc(self.out_shape, TAG_ANY), *self._geometry,
                                  relu_attr())
        if impl_name(self._pool_pd).startswith("ref"):
            raise DnnlError(f"no optimized oneDNN max-pooling + ReLU for {self.conv.out_shape}")
        out, ws = (query_desc(self._pool_pd, q) for q in (QUERY_DST_MD, QUERY_WORKSPACE_MD))
        self._out_md, self._ws_size, self._out_size = out, desc_size(ws), desc_size(out)
        self._pool = Primitive(self._pool_pd, {ARG_SRC: y, ARG_DST: out, ARG_WORKSPACE: ws})
        self._from_out = reorder(out, plain_desc(self.out_shape))
        self._bwd = None

    def forward(self, x, weight, bias, keep_src: bool):
        """(output tensor, saved: the pooled map as ReLU left it, pooling workspace, input as read)."""
        y, src_buf = self.conv.forward(x, weight, bias, keep_src, blocked_out=True)
        ws = self.conv._buffer(self._ws_size)
        out = empty(self.out_shape)
        # Pooled into a buffer of our own even when its layout is the output's: ReLU's backward
        # reads it, and the output tensor is the caller's to change.
        pooled = self.conv._buffer(self._out_size)
        self._pool.run(_ptr(y), _ptr(pooled), _ptr(ws))
        if self._from_out is None:
            ctypes.memmove(out.data_ptr(), _ptr(pooled), self._out_size)
        else:
            self._from_out.run(_ptr(pooled), out.data_ptr())
        return out, (pooled, ws, src_buf)

    def _make_backward(self):
        pool_pd = create_pd("pooling_backward", POOLING_MAX, self.conv.dst_md, self._out_md,
                            *self._geometry, self._pool_pd, None)
        ddst = query_desc(pool_pd, QUERY_DIFF_DST_MD)
        ws = query_desc(pool_pd, QUERY_WORKSPACE_MD)
        out = self._out_md
        relu_hint = create_pd("eltwise_forward", FORWARD_TRAINING, RELU_USE_DST, out, out, 0.0,
                              0.0, None)
        relu_pd = create_pd("eltwise_backward", RELU_USE_DST, ddst, ddst, out, 0.0, 0.0,
                            relu_hint, None)
        self._bwd = {
            "to_ddst": reorder(plain_desc(self.out_shape), ddst), "ddst_size": desc_size(ddst),
            "relu": Primitive(relu_pd, {ARG_DST: out, ARG_DIFF_DST: ddst, ARG_DIFF_SRC: ddst}),
            "pool": Primitive(pool_pd, {ARG_DIFF_DST: ddst, ARG_WORKSPACE: ws,
                                        ARG_DIFF_SRC: self.conv.dst_md}),
        }

    def grad(self, x, saved, weight, grad_out, need_x: bool, need_weights: bool):
        """Gradients (d x or None, d weight or None, d bias or None) from d output."""
        if self._bwd is None:
            self._make_backward()
        b = self._bwd
        pooled, ws, src_buf = saved
        ddst, ddst_buf = self.conv._into(b["to_ddst"], grad_out.data_ptr(), b["ddst_size"])
        # ReLU's gradient in place in our reordered copy; never into Paddle's d output itself
        # (which is what ``ddst`` points at when no reorder was needed).
        if ddst_buf is None:
            ddst_buf = self.conv._buffer(b["ddst_size"])   # referenced until the pooling has read it
        b["relu"].run(_ptr(pooled), ddst, _ptr(ddst_buf))
        dy = self.conv._buffer(self._y_size)
        b["pool"].run(_ptr(ddst_buf), _ptr(ws), _ptr(dy))
        return self.conv.backward(x, src_buf, weight, _ptr(dy), "dst", need_x, need_weights)

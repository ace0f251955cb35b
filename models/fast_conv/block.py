"""conv + bias + ReLU + max-pool, LeNet's block, as one oneDNN autograd function.

Run as three Paddle ops after the convolution, ReLU and max-pooling cost LeNet a quarter of its
step (Paddle's CPU pool-gradient kernel alone ~20%), run on one thread whatever Paddle is set
to, and make the convolution's output travel from oneDNN's blocked layout to NCHW and back.
Fused here: ReLU is a post-op of the convolution kernel, the pooling reads the convolution's
blocked output directly and keeps the argmax in a workspace, and only the 4x smaller pooled
map is reordered to NCHW. Backward: the pooling's backward into the blocked layout, ReLU's
backward in place (from the saved output), then the convolution's backward on that gradient
without a reorder. Every step uses oneDNN's threads.
"""
from __future__ import annotations

from .conv import ConvPlan, _ptr, empty
from .dnnl import (
    ARG_DIFF_DST, ARG_DIFF_SRC, ARG_DST, ARG_SRC, ARG_WORKSPACE, FORWARD_TRAINING, POOLING_MAX,
    QUERY_DIFF_DST_MD, QUERY_DST_MD, QUERY_WORKSPACE_MD, RELU_USE_DST, TAG_ANY, Primitive,
    create_pd, desc_size, dims, memory_desc, plain_desc, query_desc, reorder,
)


class BlockPlan:
    """oneDNN primitives for ``max_pool2d(relu(conv2d(x, w) + b), kernel, stride)``.

    Args:
        conv_key: ConvPlan's arguments (shapes, bias, stride, paddings, dilation, groups).
        kernel, stride: the pooling's (h, w) window and step (no padding, floor mode).
    """

    def __init__(self, conv_key, kernel, stride):
        self.conv = ConvPlan(*conv_key, relu=True)
        n, c, h, w = self.conv.out_shape
        self.out_shape = [n, c, (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1]
        y = self.conv.dst_md
        self._y_size = desc_size(y)
        self._geometry = (dims(stride), dims(kernel), dims([0, 0]), dims([0, 0]), dims([0, 0]))
        self._pool_pd = create_pd("pooling_forward", FORWARD_TRAINING, POOLING_MAX, y,
                                  memory_desc(self.out_shape, TAG_ANY), *self._geometry, None)
        out, ws = (query_desc(self._pool_pd, q) for q in (QUERY_DST_MD, QUERY_WORKSPACE_MD))
        self._out_md, self._ws_size, self._out_size = out, desc_size(ws), desc_size(out)
        self._pool = Primitive(self._pool_pd, {ARG_SRC: y, ARG_DST: out, ARG_WORKSPACE: ws})
        self._from_out = reorder(out, plain_desc(self.out_shape))
        self._bwd = None

    def forward(self, x, weight, bias, keep_src: bool):
        """(pooled output tensor, saved: conv output, pooling workspace, input as read)."""
        y, src_buf = self.conv.forward(x, weight, bias, keep_src, blocked_out=True)
        ws = self.conv._buffer(self._ws_size)
        out = empty(self.out_shape)
        if self._from_out is None:
            self._pool.run(_ptr(y), out.data_ptr(), _ptr(ws))
        else:
            pooled = self.conv._buffer(self._out_size)
            self._pool.run(_ptr(y), _ptr(pooled), _ptr(ws))
            self._from_out.run(_ptr(pooled), out.data_ptr())
        return out, (y, ws, src_buf)

    def _make_backward(self):
        y = self.conv.dst_md
        pool_pd = create_pd("pooling_backward", POOLING_MAX, y, self._out_md, *self._geometry,
                            self._pool_pd, None)
        ddst = query_desc(pool_pd, QUERY_DIFF_DST_MD)
        ws = query_desc(pool_pd, QUERY_WORKSPACE_MD)
        relu_hint = create_pd("eltwise_forward", FORWARD_TRAINING, RELU_USE_DST, y, y, 0.0, 0.0,
                              None)
        relu_pd = create_pd("eltwise_backward", RELU_USE_DST, y, y, y, 0.0, 0.0, relu_hint, None)
        self._bwd = {
            "to_ddst": reorder(plain_desc(self.out_shape), ddst), "ddst_size": desc_size(ddst),
            "pool": Primitive(pool_pd, {ARG_DIFF_DST: ddst, ARG_WORKSPACE: ws, ARG_DIFF_SRC: y}),
            "relu": Primitive(relu_pd, {ARG_DST: y, ARG_DIFF_DST: y, ARG_DIFF_SRC: y}),
        }

    def grad(self, x, saved, weight, grad_out, need_x: bool, need_weights: bool):
        """Gradients (d x or None, d weight or None, d bias or None) from d pooled output."""
        if self._bwd is None:
            self._make_backward()
        b = self._bwd
        y, ws, src_buf = saved
        ddst, _ddst_buf = self.conv._into(b["to_ddst"], grad_out.data_ptr(), b["ddst_size"])
        dy = self.conv._buffer(self._y_size)
        b["pool"].run(ddst, _ptr(ws), _ptr(dy))
        b["relu"].run(_ptr(y), _ptr(dy), _ptr(dy))   # in place: ReLU's gradient from its output
        return self.conv.backward(x, src_buf, weight, _ptr(dy), "dst", need_x, need_weights)

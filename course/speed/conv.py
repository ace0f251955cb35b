"""2-D convolution, forward and backward, on oneDNN's kernels, as a Paddle autograd function.

One :class:`ConvPlan` per convolution shape holds the oneDNN primitives: the forward
convolution (bias included), the backward-data and backward-weights convolutions (bias
gradient included; made on the first backward), and the reorders between Paddle's dense NCHW
tensors and the blocked layouts (``aBcd8b`` on AVX2) the fast kernels want. This is what
PyTorch's CPU convolution does with the same library (``ONEDNN_VERBOSE=1`` shows the same
``jit:avx2`` kernels and reorders for both).
"""
from __future__ import annotations

import paddle
from paddle import _C_ops
from paddle.autograd import PyLayer

from .dnnl import (
    ARG_BIAS, ARG_DIFF_BIAS, ARG_DIFF_DST, ARG_DIFF_SRC, ARG_DIFF_WEIGHTS, ARG_DST, ARG_SRC,
    ARG_WEIGHTS, CONVOLUTION_DIRECT, DnnlError, FORWARD_TRAINING, Primitive, QUERY_DIFF_DST_MD,
    QUERY_DIFF_SRC_MD, QUERY_DIFF_WEIGHTS_MD, QUERY_DST_MD, QUERY_SRC_MD, QUERY_WEIGHTS_MD,
    TAG_ANY, create_pd, desc_size, dims, impl_name, memory_desc, plain_desc, query_desc,
    relu_attr, reorder, same_desc,
)


def _ptr(buffer) -> int:
    return buffer.data_ptr()


_CPU = paddle.CPUPlace()


def empty(shape):
    """``paddle.empty(shape, dtype="float32")`` on the CPU, without its Python argument checks:
    a LeNet step makes ~25 of these, and the checks cost ~10 us each (2/3 of the call), time no
    second thread can share."""
    return _C_ops.empty(shape, paddle.float32, _CPU)


def _dense(t):
    return t if t.is_contiguous() else t.contiguous()


class ConvPlan:
    """oneDNN primitives for one convolution: shapes, strides, paddings, dilations, groups.

    Args:
        x_shape: input [N, C, H, W]; w_shape: weight [OC, C / groups, KH, KW].
        has_bias: whether a bias [OC] is added.
        stride, dilation: (h, w) pairs; pad_l, pad_r: (top, left) and (bottom, right).
        groups: Paddle's ``groups``.
    """

    def __init__(self, x_shape, w_shape, has_bias, stride, pad_l, pad_r, dilation, groups,
                 relu=False):
        n, _, h, w = x_shape
        oc, _, kh, kw = w_shape
        oh = (h + pad_l[0] + pad_r[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
        ow = (w + pad_l[1] + pad_r[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
        self.x_shape, self.w_shape, self.out_shape = list(x_shape), list(w_shape), [n, oc, oh, ow]
        w_dims = w_shape if groups == 1 else [groups, oc // groups, *w_shape[1:]]
        self.has_bias = has_bias
        self._plain = {"src": plain_desc(x_shape), "wei": plain_desc(w_dims),
                       "dst": plain_desc(self.out_shape)}
        self._bias_md = plain_desc([oc]) if has_bias else None
        self._any = {k: memory_desc(shape, TAG_ANY) for k, shape in
                     (("src", x_shape), ("wei", w_dims), ("dst", self.out_shape))}
        self._geometry = (dims(stride), dims([k - 1 for k in dilation]), dims(pad_l),
                          dims(pad_r))
        self._attr = relu_attr() if relu else None   # ReLU fused into the forward kernel
        self._fwd_pd = create_pd("convolution_forward", FORWARD_TRAINING, CONVOLUTION_DIRECT,
                                 self._any["src"], self._any["wei"], self._bias_md,
                                 self._any["dst"], *self._geometry, self._attr)
        if impl_name(self._fwd_pd).startswith("ref"):
            raise DnnlError(f"no optimized oneDNN kernel for a convolution of {x_shape}")
        src, wei, dst = (query_desc(self._fwd_pd, q) for q in
                         (QUERY_SRC_MD, QUERY_WEIGHTS_MD, QUERY_DST_MD))
        self._src_md = src
        args = {ARG_SRC: src, ARG_WEIGHTS: wei}
        if has_bias:
            args[ARG_BIAS] = self._bias_md
        self._fwd = Primitive(self._fwd_pd, {**args, ARG_DST: dst})
        self._to_src = reorder(self._plain["src"], src)
        self._to_wei = reorder(self._plain["wei"], wei)
        self._from_dst = reorder(dst, self._plain["dst"])
        self._sizes = {"src": desc_size(src), "wei": desc_size(wei), "dst": desc_size(dst)}
        self.dst_md = dst   # the layout of the forward's own output (blocked, as a rule)
        self._bwd = None

    @staticmethod
    def _buffer(nbytes: int):
        # A Paddle tensor, so that Paddle's caching allocator reuses the memory from step to step
        # (fresh numpy arrays of VGG's sizes would be new pages, page-faulted in on every call).
        return empty([-(-nbytes // 4)])

    def _into(self, reorder, pointer: int, nbytes: int):
        """Reorder the buffer at ``pointer`` into a new buffer; (its address, the buffer). The
        caller keeps the buffer referenced for as long as a kernel may read the address."""
        if reorder is None:
            return pointer, None
        buf = self._buffer(nbytes)
        reorder.run(pointer, _ptr(buf))
        return _ptr(buf), buf

    def forward(self, x, weight, bias, keep_src: bool, blocked_out: bool = False):
        """``conv(x, weight) + bias`` (then ReLU if the plan has it) as a new tensor, and with
        ``keep_src`` the input as the kernel read it (for the backward pass; None when that is
        ``x`` itself). With ``blocked_out`` the output stays in the kernel's layout ``dst_md``
        (a flat buffer), for a next oneDNN step."""
        src, src_buf = self._into(self._to_src, x.data_ptr(), self._sizes["src"])
        wei, _wei_buf = self._into(self._to_wei, weight.data_ptr(), self._sizes["wei"])
        pointers = [src, wei] + ([bias.data_ptr()] if self.has_bias else [])
        if blocked_out or self._from_dst is not None:
            dst = self._buffer(self._sizes["dst"])
            self._fwd.run(*pointers, _ptr(dst))
            if blocked_out:
                return dst, (src_buf if keep_src else None)
            out = empty(self.out_shape)
            self._from_dst.run(_ptr(dst), out.data_ptr())
        else:
            out = empty(self.out_shape)
            self._fwd.run(*pointers, out.data_ptr())
        return out, (src_buf if keep_src else None)

    def _backward_pd(self, kind: str, candidates):
        """The first backward primitive descriptor, over candidate (src, dst) layouts, that
        oneDNN runs with an optimized kernel (never its slow reference one, 'ref:any')."""
        wei, geometry = self._any["wei"], self._geometry
        for src, dst in candidates:
            try:
                if kind == "data":
                    pd = create_pd("convolution_backward_data", CONVOLUTION_DIRECT, src, wei, dst,
                                   *geometry, self._fwd_pd, None)
                else:
                    pd = create_pd("convolution_backward_weights", CONVOLUTION_DIRECT, src, wei,
                                   self._bias_md, dst, *geometry, self._fwd_pd, None)
            except DnnlError:
                continue
            if not impl_name(pd).startswith("ref"):
                return pd
        raise DnnlError(f"no optimized oneDNN backward-{kind} kernel for {self.x_shape}")

    def _make_backward(self):
        plain = self._plain
        any_src, any_dst, src, dst = self._any["src"], self._any["dst"], self._src_md, self.dst_md
        # The forward's own layouts first: no reorder of the saved input or of a gradient that
        # comes in the forward's output layout, and for a first layer with one input channel
        # ~10x faster than the channel-padded input layout oneDNN would pick.
        data_pd = self._backward_pd("data", [(any_src, dst), (any_src, any_dst)])
        dsrc, dwei_in, ddst = (query_desc(data_pd, q) for q in
                               (QUERY_DIFF_SRC_MD, QUERY_WEIGHTS_MD, QUERY_DIFF_DST_MD))
        weights_pd = self._backward_pd("weights", [(src, dst), (src, any_dst), (any_src, any_dst)])
        wsrc, dwei, wddst = (query_desc(weights_pd, q) for q in
                             (QUERY_SRC_MD, QUERY_DIFF_WEIGHTS_MD, QUERY_DIFF_DST_MD))
        grads = {ARG_SRC: wsrc, ARG_DIFF_DST: wddst, ARG_DIFF_WEIGHTS: dwei}
        if self.has_bias:
            grads[ARG_DIFF_BIAS] = self._bias_md
        self._bwd = {
            "data": Primitive(data_pd, {ARG_DIFF_DST: ddst, ARG_WEIGHTS: dwei_in,
                                        ARG_DIFF_SRC: dsrc}),
            "weights": Primitive(weights_pd, grads),
            # d out arrives as a Paddle tensor ("plain") or in the forward's layout ("dst")
            "dy": {(layout, kind): (reorder(md, need), desc_size(need))
                   for layout, md in (("plain", plain["dst"]), ("dst", dst))
                   for kind, need in (("data", ddst), ("weights", wddst))},
            "same_ddst": same_desc(ddst, wddst),
            "to_dwei_in": reorder(plain["wei"], dwei_in),
            "from_dsrc": reorder(dsrc, plain["src"]),
            "to_wsrc": reorder(plain["src"], wsrc), "same_src": same_desc(wsrc, src),
            "from_dwei": reorder(dwei, plain["wei"]),
            "sizes": {"dwei_in": desc_size(dwei_in), "dsrc": desc_size(dsrc),
                      "wsrc": desc_size(wsrc), "dwei": desc_size(dwei)},
        }

    def grad(self, x, src_buf, weight, grad_out, need_x: bool, need_weights: bool):
        """Gradients (d x, d weight, d bias; None where not needed) from the tensor d out."""
        return self.backward(x, src_buf, weight, grad_out.data_ptr(), "plain", need_x, need_weights)

    def backward(self, x, src_buf, weight, dy: int, layout: str, need_x: bool, need_weights: bool):
        """Gradients (d x or None, d weight or None, d bias or None) from d out at address
        ``dy``, laid out as a Paddle tensor (``layout`` "plain") or as ``dst_md`` ("dst")."""
        if self._bwd is None:
            self._make_backward()
        b, sizes = self._bwd, self._bwd["sizes"]
        dx = dw = db = None
        if need_x:
            reorder_dy, nbytes = b["dy"][(layout, "data")]
            ddst, ddst_buf = self._into(reorder_dy, dy, nbytes)
            wei, _wei_buf = self._into(b["to_dwei_in"], weight.data_ptr(), sizes["dwei_in"])
            dx = empty(self.x_shape)
            if b["from_dsrc"] is None:
                b["data"].run(ddst, wei, dx.data_ptr())
            else:
                buf = self._buffer(sizes["dsrc"])
                b["data"].run(ddst, wei, _ptr(buf))
                b["from_dsrc"].run(_ptr(buf), dx.data_ptr())
        if need_weights:
            if b["same_src"] and src_buf is not None:
                src = _ptr(src_buf)
            else:
                src, src_buf = self._into(b["to_wsrc"], x.data_ptr(), sizes["wsrc"])
            if not (need_x and b["same_ddst"]):
                reorder_dy, nbytes = b["dy"][(layout, "weights")]
                ddst, ddst_buf = self._into(reorder_dy, dy, nbytes)
            dw = empty(self.w_shape)
            db = empty([self.w_shape[0]]) if self.has_bias else None
            extra = [db.data_ptr()] if self.has_bias else []
            if b["from_dwei"] is None:
                b["weights"].run(src, ddst, dw.data_ptr(), *extra)
            else:
                buf = self._buffer(sizes["dwei"])
                b["weights"].run(src, ddst, _ptr(buf), *extra)
                b["from_dwei"].run(_ptr(buf), dw.data_ptr())
        return dx, dw, db


class PlanFunction(PyLayer):
    """The autograd function of a plan (ConvPlan, block.BlockPlan): its forward and backward.

    A plan has ``forward(x, weight, bias, keep_src) -> (out, saved)`` and
    ``grad(x, saved, weight, grad_out, need_x, need_weights) -> (dx, dw, db)``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, plan):
        out, ctx.saved = plan.forward(x, weight, bias, keep_src=not weight.stop_gradient)
        ctx.plan, ctx.has_bias = plan, bias is not None
        # Paddle wants None back for every input that takes no gradient (a frozen weight, say).
        ctx.wanted = (not x.stop_gradient, not weight.stop_gradient,
                      bias is not None and not bias.stop_gradient)
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensor()
        want_x, want_w, want_b = ctx.wanted
        dx, dw, db = ctx.plan.grad(x, ctx.saved, weight, _dense(grad_out), want_x, want_w or want_b)
        dw, db = (dw if want_w else None), (db if want_b else None)
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


def apply_plan(x, weight, bias, plan):
    """``plan``'s operation on ``x``: through autograd where a gradient is wanted."""
    x, weight = _dense(x), _dense(weight)
    if paddle.is_grad_enabled() and not (x.stop_gradient and weight.stop_gradient
                                         and (bias is None or bias.stop_gradient)):
        return PlanFunction.apply(x, weight, bias, plan)
    return plan.forward(x, weight, bias, keep_src=False)[0]


_PLANS: dict = {}
_MAX_PLANS = 1024   # shapes seen; past that the cache starts over (varying sizes, say)


def cached(key, make):
    """The plan cached under ``key``, made by ``make()`` the first time."""
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = make()
    return plan


def plan_for(x_shape, w_shape, has_bias, stride, pad_l, pad_r, dilation, groups, threads):
    """The cached ConvPlan for these settings (``threads`` is part of the key: oneDNN sizes its
    work split for the thread count in force when a primitive is made)."""
    key = (tuple(x_shape), tuple(w_shape), has_bias, stride, pad_l, pad_r, dilation, groups,
           threads)
    return cached(key, lambda: ConvPlan(x_shape, w_shape, has_bias, stride, pad_l, pad_r,
                                        dilation, groups))

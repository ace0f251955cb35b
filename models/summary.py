"""Parameter counts with Keras's semantics, FLOPs, and a one-paragraph summary.

Keras's ``model.summary()`` splits parameters into trainable and
non-trainable, and counts BatchNorm's moving mean and variance as
non-trainable; the articles quote those numbers (VGG16 transfer: 14,805,485
total, 90,457 trainable), so we count the same way. Counting reads the layer
structure only (no forward pass), so it also works on a model built under
``paddle.LazyGuard`` whose 134M parameters were never allocated.
"""

import math

import paddle


def _numel(tensor):
    return int(math.prod(tensor.shape))


def count_parameters(model):
    """Count a model's parameters the way Keras's summary does.

    Returns:
        dict with ``total``, ``trainable`` (parameters that receive gradients:
        ``stop_gradient`` False) and ``non_trainable`` (frozen parameters plus
        BatchNorm moving mean/variance, which Paddle keeps as non-trainable
        parameters, and any other persistable buffers).
    """
    trainable = non_trainable = 0
    seen = set()
    for param in model.parameters():
        if id(param) in seen:  # shared weights count once
            continue
        seen.add(id(param))
        if param.stop_gradient:
            non_trainable += _numel(param)
        else:
            trainable += _numel(param)
    for _, buffer in model.named_buffers():
        if id(buffer) not in seen and getattr(buffer, "persistable", False):
            seen.add(id(buffer))
            non_trainable += _numel(buffer)
    return {"total": trainable + non_trainable, "trainable": trainable,
            "non_trainable": non_trainable}


def count_flops(model, input_shape):
    """FLOPs of one forward pass on a [1, *input_shape] input, as ``paddle.flops`` counts them.

    Paddle counts multiply-accumulates: a convolution costs
    out_elements * (in_channels/groups * kernel_area + 1 if bias) and a Linear
    in_features * out_elements (bias not counted); ReLU, max-pooling, dropout
    and BatchNorm1D/2D count zero. Counted here with Paddle's own per-layer rules
    rather than by ``paddle.flops`` itself: that one finds a rule by a layer's exact
    class (a subclass of nn.Conv2D counts 0), and crashes while printing its table
    with NumPy 2 on every Paddle from 2.6 to 3.3. Returns None if the count fails.
    """
    counted = []      # (layer, its hook's handle)
    training = model.training
    try:
        _add_counters(model, counted)
        model.eval()
        with paddle.no_grad():
            model(paddle.zeros([1, *input_shape]))
        return sum(int(layer.total_ops) for layer, _ in counted)
    except Exception:  # noqa: BLE001 - an estimate must never break a report
        return None
    finally:
        # Drop the counters and hooks so the model trains and saves as before.
        for layer, handle in counted:
            handle.remove()
            del layer.total_ops
        model.train() if training else model.eval()


def _add_counters(model, counted):
    """Give each leaf layer paddle.flops has a rule for a ``total_ops`` counter and the rule as a
    forward hook (the rule adds to ``total_ops``); append (layer, hook handle) to ``counted``."""
    from paddle.hapi.dynamic_flops import register_hooks

    for layer in model.sublayers(include_self=True):
        # By class, walking up: course.speed's FastConv2D is counted as the nn.Conv2D it is.
        count = next((register_hooks[c] for c in type(layer).__mro__ if c in register_hooks), None)
        if count is None or list(layer.children()):
            continue
        layer.total_ops = 0
        counted.append((layer, layer.register_forward_post_hook(count)))


def summarize(model, input_shape):
    """Parameter counts plus FLOPs for one [1, *input_shape] image.

    Returns:
        dict with ``total``, ``trainable``, ``non_trainable`` (see
        :func:`count_parameters`) and ``flops`` (see :func:`count_flops`;
        None when it could not be computed).
    """
    summary = count_parameters(model)
    summary["flops"] = count_flops(model, tuple(input_shape))
    return summary


def _human(number):
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if number >= size:
            return f"{number / size:.2f}{unit}"
    return str(number)


def format_summary(summary, name=None, input_shape=None):
    """One paragraph of plain text describing a :func:`summarize` result.

    Example: ``lenet on [1, 28, 28]: 20,350 parameters (20,350 trainable, 0
    non-trainable); 2.38M FLOPs (multiply-accumulates) per image.``
    """
    subject = name or "model"
    if input_shape is not None:
        subject += f" on {list(input_shape)}"
    text = (f"{subject}: {summary['total']:,} parameters ({summary['trainable']:,} trainable, "
            f"{summary['non_trainable']:,} non-trainable)")
    flops = summary.get("flops")
    if flops is None:
        text += "; FLOPs not available."
    else:
        text += f"; {_human(flops)} FLOPs (multiply-accumulates) per image."
    return text

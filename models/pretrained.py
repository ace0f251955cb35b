"""Load weights into a model: a local ``.pdparams`` file or Paddle's ImageNet weights.

``load_pretrained(model, spec)`` understands three specs:

* ``None``: nothing to load (train from scratch).
* a path to a ``.pdparams`` file: either this package's own checkpoint or an
  official paddle.vision state dict (its keys are mapped onto the model,
  e.g. vgg16's ``features.0`` onto the Keras-named ``block1_conv1``).
* ``'imagenet'``: the official paddle.vision weights for the model's backbone,
  looked up in Paddle's weights cache (``~/.cache/paddle/hapi/weights``), and
  downloaded only when Paddle's server answers within a few seconds; this
  project's machines have no route there, so the usual outcome is a clear
  error saying where to put the file.

Backbone tensors must all load; head tensors load when their shapes fit
(an ImageNet head has 1000 classes, ours has fewer, so it stays as built).
"""

import os
import socket
import sys
import threading
import urllib.parse
import warnings
from pathlib import Path

import paddle
import paddle.vision.models as pvm

from .errors import ModelError

# model_urls keys that differ from the factory names in paddle.vision 3.3.1.
_URL_KEYS = {
    "mobilenet_v1": "mobilenetv1_1.0",
    "mobilenet_v2": "mobilenetv2_1.0",
    "mobilenet_v3_small": "mobilenet_v3_small_x1.0",
    "mobilenet_v3_large": "mobilenet_v3_large_x1.0",
}
CONNECT_TIMEOUT_S = 5.0


def weights_cache_dir():
    """Paddle's weights cache, ``~/.cache/paddle/hapi/weights`` (read at call time).

    paddle.utils.download.WEIGHTS_HOME is the same path, fixed when paddle is imported.
    """
    return Path(os.path.expanduser("~/.cache/paddle/hapi/weights"))


def official_weights_url(name):
    """(url, md5) of the official ImageNet weights of paddle.vision model ``name``."""
    factory = getattr(pvm, name, None)
    urls = getattr(sys.modules.get(getattr(factory, "__module__", ""), None), "model_urls", {})
    entry = urls.get(_URL_KEYS.get(name, name))
    if entry is None:
        raise ModelError(f"paddle.vision publishes no ImageNet weights for {name!r}; "
                         "pass --pretrained PATH to a .pdparams file instead")
    return entry


def expected_weights_path(name):
    """Where Paddle's downloader would keep the ImageNet weights of ``name``."""
    url, _ = official_weights_url(name)
    return weights_cache_dir() / url.rsplit("/", 1)[-1]


def _reachable(url, timeout=CONNECT_TIMEOUT_S):
    """True if a TCP connection to the URL's host opens within ``timeout`` seconds.

    Runs in a daemon thread because name resolution has no timeout of its own;
    paddle's downloader has none either and retries, so without this check an
    offline machine could hang.
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result = []

    def probe():
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result)


def imagenet_weights_path(model, allow_download=True):
    """Path of the ImageNet weights for ``model``'s backbone, downloading them if possible."""
    name = getattr(model, "official_name", None)
    if name is None:
        raise ModelError(f"{type(model).__name__} has no ImageNet weights (only the image "
                         "models with a paddle.vision backbone do); use --pretrained PATH or none")
    url, md5 = official_weights_url(name)
    path = expected_weights_path(name)
    if path.is_file():
        return path
    if allow_download and _reachable(url):
        from paddle.utils.download import get_path_from_url

        return Path(get_path_from_url(url, str(path.parent), md5))
    raise ModelError(
        f"no ImageNet weights for {name}: {path} does not exist and {url} cannot be "
        f"downloaded from this machine; copy that file to {path} or pass "
        f"--pretrained PATH to a .pdparams file"
    )


def _read_state_dict(path):
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"--pretrained: weights file {path} does not exist")
    try:
        state = paddle.load(str(path))
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user mistake
        raise ModelError(f"--pretrained: cannot read weights file {path}: "
                         f"{type(err).__name__}: {err}".splitlines()[0]) from None
    if not isinstance(state, dict) or not state:
        raise ModelError(f"--pretrained: {path} holds no state dict (got {type(state).__name__})")
    return state


def match_state_dict(model, state):
    """Pair the tensors of ``state`` with ``model``'s state_dict keys.

    A key is taken as it is when the model has it, else through
    ``model.official_key_map`` (official paddle.vision names -> ours).

    Returns:
        (matched, skipped_head, problems): matched maps model keys to
        tensors; skipped_head lists head keys whose shapes differ (e.g. a
        1000-class ImageNet classifier); problems lists backbone shape
        mismatches and, for the parts that must load, missing keys.
    """
    own = model.state_dict()
    key_map = getattr(model, "official_key_map", None)
    has_backbone = hasattr(model, "backbone")
    matched, skipped_head, problems = {}, [], []
    for key, value in state.items():
        target = key if key in own else (key_map(key) if key_map else None)
        if target not in own:
            continue
        if list(value.shape) != list(own[target].shape):
            if has_backbone and not target.startswith("backbone."):
                skipped_head.append(target)
            else:
                problems.append(f"{target} shape {list(value.shape)} != {list(own[target].shape)}")
            continue
        matched[target] = value
    required = [k for k in own if k.startswith("backbone.")] if has_backbone else list(own)
    missing = [k for k in required if k not in matched]
    if missing:
        problems.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
    return matched, skipped_head, problems


def load_pretrained(model, spec, allow_download=True):
    """Load weights named by ``spec`` (None, a .pdparams path, or 'imagenet') into ``model``.

    Returns:
        None when spec is None, else a dict with ``path``, ``loaded`` (tensors
        set), ``total`` (tensors in the model) and ``skipped`` (head tensors
        left as built because their shapes differ).

    Raises:
        ModelError: the file is missing or unreadable, its tensors do not fit
            the model (the message says how many matched), or ImageNet weights
            are requested but neither cached nor downloadable.
    """
    if spec is None or spec == "":
        return None
    if spec == "imagenet":
        path = imagenet_weights_path(model, allow_download)
    else:
        path = Path(os.path.expanduser(str(spec)))
    state = _read_state_dict(path)
    matched, skipped, problems = match_state_dict(model, state)
    total = len(model.state_dict())
    if problems or not matched:
        raise ModelError(
            f"--pretrained: {path} does not fit {type(model).__name__}: matched "
            f"{len(matched)} of {total} tensors; " + ("; ".join(problems) or "no keys in common")
        )
    with warnings.catch_warnings():
        # set_state_dict warns about every head tensor we deliberately leave as built.
        warnings.simplefilter("ignore")
        model.set_state_dict(matched)
    return {"path": str(path), "loaded": len(matched), "total": total, "skipped": skipped}

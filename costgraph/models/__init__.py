"""The model zoo: builders that return `costgraph.Network` objects.

Builders are plain functions (``costgraph.models.vgg16()``); `MODELS` maps
each registered name to its builder and default input size, for the command
line and the generated docs.  Nothing is built at import time.

>>> from costgraph.models import MODELS
>>> MODELS["vgg16"].default_size
224
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from ..errors import CostGraphError
from .options import check_options

__all__ = ["MODELS", "ModelInfo", "register_model", "build", "list_models"]


@dataclass(frozen=True)
class ModelInfo:
    """A zoo entry: its builder, default input size (square) and a one-line description."""

    name: str
    builder: Callable
    default_size: int | None
    description: str
    default_sizes: tuple = ()

    def sizes(self) -> dict:
        """Keyword sizes at which the model is usually quoted (e.g. ``{"H": 224}``)."""
        if self.default_sizes:
            return dict(self.default_sizes)
        return {"H": self.default_size} if self.default_size else {}


MODELS: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    default_size: int | None = 224,
    description: str = "",
    sizes: dict | None = None,
    forwards_to: Callable | None = None,
):
    """Decorator: register a builder under `name` with its default input size.

    The registered builder checks its keyword options before it runs: an
    unknown one is a `CostGraphError` naming the model, the keyword and the
    options it takes (Python's ``TypeError`` names neither the model nor the
    right options).  A builder's options are its own keyword parameters and,
    for ``**options``, those of the function it forwards them to: found in
    its source when it calls ``target(..., **options)``, or given as
    `forwards_to` when it passes them on another way (``_build(name, options)``).

    Raises
    ------
    CostGraphError
        If the name is taken by another builder; when the builder is called,
        for an unknown keyword option.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> vgg16(colour="red")
    Traceback (most recent call last):
    ...
    costgraph.errors.CostGraphError: vgg16: unknown option 'colour'; accepted: adaptive_pool, batch_norm, num_classes
    """

    def decorate(builder):
        if name in MODELS and MODELS[name].builder.__qualname__ != builder.__qualname__:
            raise CostGraphError(f"model {name!r} is already registered")
        doc = description or (builder.__doc__ or "").strip().splitlines()[0]
        checked = _checking_options(name, builder, forwards_to)
        MODELS[name] = ModelInfo(name, checked, default_size, doc, tuple((sizes or {}).items()))
        return checked

    return decorate


def _checking_options(name: str, builder: Callable, forwards_to: Callable | None) -> Callable:
    """`builder`, refusing keyword options it does not take (listed once, on the first call)."""
    accepted: list = []

    @functools.wraps(builder)
    def checked(*args, **options):
        if options:
            if not accepted:
                from ..model_source import builder_parameters, options_are_known  # same layer; reads the source

                accepted.append(set(builder_parameters(checked)) if options_are_known(checked) else None)
            if accepted[0] is not None:  # else the builder's own forwarding decides
                check_options(name, options, accepted[0])
        return builder(*args, **options)

    checked.forwards_options_to = forwards_to
    return checked


def build(name: str, **options):
    """Build the zoo model called `name`.

    Raises
    ------
    CostGraphError
        If there is no such model (the message lists the zoo).
    """
    try:
        info = MODELS[name]
    except KeyError:
        raise CostGraphError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}", value=name) from None
    return info.builder(**options)


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(MODELS)


from .vgg import vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn  # noqa: E402

__all__ += ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]

from .alexnet import alexnet  # noqa: E402

__all__ += ["alexnet"]

from .mobilenet import mobilenet_v2, mobilenet_v3_large  # noqa: E402

__all__ += ["mobilenet_v2", "mobilenet_v3_large"]

from .resnet import resnet18, resnet34, resnet50, resnet101, resnet152  # noqa: E402

__all__ += ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

from .squeezenet import squeezenet1_0, squeezenet1_1  # noqa: E402

__all__ += ["squeezenet1_0", "squeezenet1_1"]

from .shufflenet import shufflenet_v2_x1_0  # noqa: E402

__all__ += ["shufflenet_v2_x1_0"]

from .densenet import densenet121  # noqa: E402

__all__ += ["densenet121"]

from .efficientnet import efficientnet_b0  # noqa: E402

__all__ += ["efficientnet_b0"]

from .googlenet import googlenet  # noqa: E402

__all__ += ["googlenet"]

from .regnet import regnet_y_400mf  # noqa: E402

__all__ += ["regnet_y_400mf"]

from .convnext import convnext_tiny  # noqa: E402

__all__ += ["convnext_tiny"]

from .inception import inception_v3  # noqa: E402

__all__ += ["inception_v3"]

from .transformer import bert, decoder, encoder, gpt2, llama2_7b  # noqa: E402

__all__ += ["decoder", "encoder", "gpt2", "bert", "llama2_7b"]

from .vit import vit_b_16, vit_b_32, vit_h_14, vit_l_16, vit_l_32  # noqa: E402

__all__ += ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"]

from .transformer import encoder  # noqa: E402

__all__ += ["encoder"]

from .llm_zoo import (  # noqa: E402
    falcon_7b,
    gemma_2b,
    llama3_8b,
    llama3_70b,
    mistral_7b,
    mixtral_8x7b,
    opt_125m,
    phi3_mini,
    pythia_160m,
    qwen2_0_5b,
    qwen2_7b,
)

__all__ += [
    "mistral_7b", "llama3_8b", "llama3_70b", "qwen2_0_5b", "qwen2_7b", "phi3_mini", "gemma_2b", "opt_125m",
    "pythia_160m", "falcon_7b", "mixtral_8x7b",
]

from .encoder_decoder import encoder_decoder, t5_base, t5_small  # noqa: E402

__all__ += ["encoder_decoder", "t5_small", "t5_base"]

from .whisper import whisper_small  # noqa: E402

__all__ += ["whisper_small"]

from .encoder_zoo import distilbert, roberta_base  # noqa: E402

__all__ += ["roberta_base", "distilbert"]

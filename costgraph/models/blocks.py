"""Small building blocks shared by the zoo, each the costgraph form of a torchvision module.

A block adds its layers to a `Network` under names that follow torchvision's
module paths (``features.0.0`` for the conv of a ``Conv2dNormActivation`` at
``features.0``), so a row of a cost table matches a ``state_dict`` key.
Every block takes the layer that feeds it as ``input=`` (default: the layer
added last) and returns the name of its output layer, so blocks chain like
``nn.Sequential`` and branch like a ``forward`` method.

Norm and activation layers are given as *callables*, as torchvision gives
them: the kind class itself (``BatchNorm2d``, ``ReLU``) or a
``functools.partial`` of it (``partial(BatchNorm2d, eps=0.001)``).
"""

from __future__ import annotations

from typing import Callable

from ..errors import CostGraphError
from ..kinds import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Mul, ReLU, Sigmoid
from ..network import Network

__all__ = ["conv_norm_activation", "basic_conv2d", "squeeze_excitation", "latest"]


def latest(net: Network) -> str:
    """The name of the layer added last: what a block reads when given no ``input=``.

    A block that also needs its input later (a residual, a branch point)
    takes this name first.

    Raises
    ------
    CostGraphError
        If the network has no layer yet.
    """
    if not len(net):
        raise CostGraphError(f"{net.name} has no layer yet to take as input")
    return list(net)[-1]


def conv_norm_activation(
    net: Network,
    name: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple = 3,
    stride: int | tuple = 1,
    padding: int | tuple | str | None = None,
    groups: int = 1,
    norm_layer: Callable | None = BatchNorm2d,
    activation_layer: Callable | None = ReLU,
    dilation: int | tuple = 1,
    inplace: bool | None = True,
    bias: bool | None = None,
    *,
    input: str | None = None,
) -> str:
    """torchvision's ``Conv2dNormActivation``: conv, then norm, then activation.

    The arguments are ``torchvision.ops.Conv2dNormActivation``'s, in its
    order and with its defaults: `padding` defaults to
    ``(kernel_size - 1) // 2 * dilation`` per axis, the conv has a bias only
    without a norm layer, and the activation is built with ``inplace=inplace``
    unless `inplace` is None.  Layers are named ``{name}.0``, ``{name}.1``,
    ``{name}.2``, the indices of torchvision's ``nn.Sequential`` (the
    activation is ``{name}.1`` when there is no norm layer).

    Returns
    -------
    str
        The name of the block's last layer.

    Raises
    ------
    CostGraphError
        As `Network.add` raises (a taken name, an unknown input, bad
        hyper-parameters); ShapeError if the input does not have
        `in_channels` channels.

    Examples
    --------
    >>> from functools import partial
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input, BatchNorm2d, Hardswish
    >>> net = Network("stem")
    >>> net.add("input", Input((3, H, W)))
    'input'
    >>> conv_norm_activation(net, "features.0", 3, 16, stride=2,
    ...                      norm_layer=partial(BatchNorm2d, eps=0.001), activation_layer=Hardswish)
    'features.0.2'
    >>> list(net)
    ['input', 'features.0.0', 'features.0.1', 'features.0.2']
    >>> net.shape("features.0.2")                        # (H + 2 - 3) // 2 + 1 = (H + 1) // 2
    (N, 16, floor((H + 1)/2), floor((W + 1)/2))
    >>> net.totals().params                              # 16*3*3*3 weights + 2*16 norm
    464
    """
    if padding is None:
        kernel = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        spacing = dilation if isinstance(dilation, tuple) else (dilation, dilation)
        padding = tuple((k - 1) // 2 * d for k, d in zip(kernel, spacing))
    if bias is None:
        bias = norm_layer is None
    inputs = () if input is None else (input,)
    index = 0
    last = net.add(
        f"{name}.{index}",
        Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias),
        *inputs,
    )
    if norm_layer is not None:
        index += 1
        last = net.add(f"{name}.{index}", norm_layer(out_channels))
    if activation_layer is not None:
        index += 1
        options = {} if inplace is None else {"inplace": inplace}
        last = net.add(f"{name}.{index}", activation_layer(**options))
    return last


def basic_conv2d(
    net: Network,
    name: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple,
    stride: int | tuple = 1,
    padding: int | tuple = 0,
    *,
    eps: float = 0.001,
    input: str | None = None,
) -> str:
    """GoogLeNet's and Inception v3's ``BasicConv2d``: conv without bias, batch norm, ReLU.

    Layers: ``{name}.conv``, ``{name}.bn`` (``eps=0.001``, as both
    torchvision files set it) and ``{name}.relu``, torchvision's
    ``F.relu(x, inplace=True)`` (a function there, so not in its state_dict).

    Returns
    -------
    str
        The name of the ReLU layer.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("branch")
    >>> net.add("input", Input((192, H, W)))
    'input'
    >>> basic_conv2d(net, "branch3x3_1", 192, 64, kernel_size=1)
    'branch3x3_1.relu'
    >>> net.totals().params                              # 64*192 weights + 2*64 norm
    12416
    """
    inputs = () if input is None else (input,)
    net.add(f"{name}.conv", Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False), *inputs)
    net.add(f"{name}.bn", BatchNorm2d(out_channels, eps=eps))
    return net.add(f"{name}.relu", ReLU(inplace=True))


def squeeze_excitation(
    net: Network,
    name: str,
    input_channels: int,
    squeeze_channels: int,
    activation: Callable = ReLU,
    scale_activation: Callable = Sigmoid,
    *,
    input: str | None = None,
) -> str:
    """torchvision's ``SqueezeExcitation``: pool, two 1x1 convs, then scale the input.

    Layers: ``{name}.avgpool`` (``AdaptiveAvgPool2d(1)``), ``{name}.fc1``,
    ``{name}.activation``, ``{name}.fc2``, ``{name}.scale_activation`` (all
    built with their defaults, not in place, as torchvision builds them),
    and ``{name}.scale``: ``scale * input``, a broadcasting `Mul` that makes
    a new tensor.

    Returns
    -------
    str
        The name of the `Mul` layer.

    Raises
    ------
    CostGraphError
        As `Network.add` raises.

    Examples
    --------
    >>> from costgraph import Network, H, W
    >>> from costgraph.kinds import Input
    >>> net = Network("se")
    >>> net.add("input", Input((64, H, W)))
    'input'
    >>> squeeze_excitation(net, "se", 64, 16)
    'se.scale'
    >>> net.shape("se.fc2"), net.shape("se.scale")
    ((N, 64, 1, 1), (N, 64, H, W))
    >>> net.totals().params                               # (64*16 + 16) + (16*64 + 64)
    2128
    """
    source = latest(net) if input is None else input
    net.add(f"{name}.avgpool", AdaptiveAvgPool2d(1), source)
    net.add(f"{name}.fc1", Conv2d(input_channels, squeeze_channels, 1))
    net.add(f"{name}.activation", activation())
    net.add(f"{name}.fc2", Conv2d(squeeze_channels, input_channels, 1))
    scale = net.add(f"{name}.scale_activation", scale_activation())
    return net.add(f"{name}.scale", Mul(), scale, source)

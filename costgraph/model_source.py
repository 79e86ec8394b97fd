"""Where a model comes from: a zoo name, an ``.onnx`` file, ``package.module:callable`` or an object.

`resolve` turns any of these into a `Source`: the `Network`, a name for
titles, the sizes it is usually quoted at, and the zoo name when the fast
cached path (`costgraph.fast`) can answer.  Build options are given as text
(``NAME=VALUE`` on the command line) and parsed against the builder's own
signature (`parse_options`): a boolean accepts true/false/yes/no/1/0 and
nothing else, an integer an integer, and an unknown option is an error that
lists the valid ones.  No string is ever evaluated: a ``module:callable``
spec imports the module the user named (as ``python -m`` would, from the
current directory) and looks the callable up as an attribute.

>>> source = resolve("vgg16", options={"adaptive_pool": "yes"})
>>> source.name, source.zoo, source.options, source.sizes
('vgg16 adaptive_pool=True', 'vgg16', {'adaptive_pool': True}, {'H': 224})
>>> parse_options(resolve("vgg16").builder, {"adaptive_pool": "maybe"}, "vgg16")
Traceback (most recent call last):
...
costgraph.errors.CostGraphError: vgg16: option adaptive_pool takes true/false/yes/no/1/0, not 'maybe'
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field

from .errors import CostGraphError, DomainError

__all__ = ["Source", "resolve", "parse_options", "builder_parameters", "options_are_known", "with_min_size_hint", "image_example_shape"]

_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


@dataclass(frozen=True)
class Source:
    """A resolved model: the network and what the renderers say about it."""

    name: str  #: for titles: the spec, with the options given
    net: object  #: the `costgraph.Network`
    sizes: dict = field(default_factory=dict)  #: the sizes it is usually quoted at (may be empty)
    zoo: str | None = None  #: the zoo name, when `costgraph.fast` can evaluate it from its cache
    options: dict = field(default_factory=dict)  #: the parsed build options
    builder: object = None  #: what was called to build it (for option help)


# -- options against a signature ------------------------------------------------------------
def _forwarded_call(function):
    """The function `function` forwards its ``**options`` to, and what it passes itself.

    Zoo builders are often ``def vgg16(**options): return vgg("D", "vgg16", **options)``;
    the options they take are those of `vgg` less the ones passed explicitly.
    Read from the source's syntax tree (never run); None if there is no such call.
    A builder that passes them on another way names the target itself
    (``register_model(..., forwards_to=decoder)``: every option of the target).
    """
    declared = getattr(function, "forwards_options_to", None)
    if declared is not None:
        return declared, 0, set()
    try:
        tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if any(k.arg is None for k in node.keywords):  # the **options
                target = inspect.unwrap(function).__globals__.get(node.func.id)  # a zoo builder is wrapped
                if callable(target):
                    return target, len(node.args), {k.arg for k in node.keywords if k.arg}
    return None


def builder_parameters(builder, _depth: int = 0) -> dict:
    """The keyword options `builder` takes: name -> `inspect.Parameter` (following ``**options``).

    Raises
    ------
    Nothing: a builder whose signature cannot be read takes no options.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> sorted(builder_parameters(vgg16))
    ['adaptive_pool', 'batch_norm', 'num_classes']
    """
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):
        return {}
    found, forwards = {}, False
    for index, parameter in enumerate(signature.parameters.values()):
        if parameter.kind is parameter.VAR_KEYWORD:
            forwards = True
        elif parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            found[parameter.name] = parameter
    if forwards and _depth < 4:
        call = _forwarded_call(builder)
        if call is not None:
            target, positional, explicit = call
            inner = builder_parameters(target, _depth + 1)
            names = list(inner)
            for name in names[:positional] + sorted(explicit):
                inner.pop(name, None)
            for name, parameter in inner.items():
                found.setdefault(name, parameter)
    return found


def options_are_known(builder) -> bool:
    """Whether `builder_parameters` lists every option `builder` takes.

    False for a ``**options`` it passes on in a way the source does not show
    (nor a ``forwards_to`` declares): its options cannot be checked before the call.

    Raises
    ------
    Nothing.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> options_are_known(vgg16), options_are_known(lambda **anything: None)
    (True, False)
    """
    try:
        parameters = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):
        return False
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        return True
    call = _forwarded_call(builder)
    return call is not None and options_are_known(call[0])


def _kind_of(parameter) -> str:
    """``bool``, ``int``, ``float`` or ``str``: from the annotation, else the default's type."""
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = (text or "").replace(" ", "")
    for kind in ("bool", "int", "float", "str"):
        if text == kind or text in (f"{kind}|None", f"None|{kind}", f"Optional[{kind}]"):
            return kind
    default = parameter.default
    for kind, cls in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if type(default) is cls:
            return kind
    return "str"


def _describe(parameters: dict) -> str:
    return ", ".join(f"{name} ({_kind_of(p)})" for name, p in sorted(parameters.items())) or "none"


def _parse_one(kind: str, name: str, text: str, where: str, optional: bool):
    lowered = text.strip().lower()
    if optional and lowered == "none":
        return None
    if kind == "bool":
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CostGraphError(f"{where}: option {name} takes true/false/yes/no/1/0, not {text!r}", value=text)
    if kind == "int":
        digits = lowered.lstrip("+-")
        if digits.isascii() and digits.isdigit() and len(lowered) - len(digits) <= 1 and len(digits) <= 40:
            return int(lowered)
        raise CostGraphError(f"{where}: option {name} takes an integer, not {text!r}", value=text)
    if kind == "float":
        try:
            value = float(lowered)
        except ValueError:
            value = float("nan")
        if value == value and value not in (float("inf"), float("-inf")):
            return value
        raise CostGraphError(f"{where}: option {name} takes a number, not {text!r}", value=text)
    return text


def parse_options(builder, options: dict, where: str = "model") -> dict:
    """Option texts ``{"adaptive_pool": "yes"}`` as values for `builder`, checked against its signature.

    Values already typed (not ``str``) are passed through after the name check.

    Raises
    ------
    CostGraphError
        If an option is not one `builder` takes (the message lists those it
        does), or a value does not parse as the option's type.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> parse_options(vgg16, {"adaptive_pool": "1", "num_classes": "10"}, "vgg16")
    {'adaptive_pool': True, 'num_classes': 10}
    >>> parse_options(vgg16, {"colour": "red"}, "vgg16")
    Traceback (most recent call last):
    ...
    costgraph.errors.CostGraphError: vgg16 got an unexpected keyword argument 'colour'; valid options: adaptive_pool (bool), batch_norm (bool), num_classes (int)
    """
    parameters = builder_parameters(builder)
    parsed = {}
    for name, text in options.items():
        parameter = parameters.get(name)
        if parameter is None:
            raise CostGraphError(
                f"{where} got an unexpected keyword argument {name!r}; valid options: {_describe(parameters)}", value=name
            )
        if not isinstance(text, str):
            parsed[name] = text
            continue
        optional = parameter.default is None or "None" in str(parameter.annotation)
        parsed[name] = _parse_one(_kind_of(parameter), name, text, where, optional)
    return parsed


def _call_builder(builder, options: dict, where: str):
    try:
        return builder(**options)
    except CostGraphError:
        raise
    except (TypeError, ValueError, KeyError, AssertionError) as error:  # an option value the builder refuses
        raise CostGraphError(f"{where}: {type(error).__name__}: {error}", value=options) from None


# -- the sources ---------------------------------------------------------------------------------
def image_example_shape(sizes: dict) -> tuple:
    """The example input ``(N, C, H, W)`` for a PyTorch image module, from size flags.

    N defaults to 1, C to 3, H to 224 and W to H.

    Examples
    --------
    >>> image_example_shape({"H": 64, "W": 48}), image_example_shape({})
    ((1, 3, 64, 48), (1, 3, 224, 224))
    """
    height = sizes.get("H", 224)
    return (sizes.get("N", 1), sizes.get("C", 3), height, sizes.get("W", height))


def _from_object(obj, name: str, sizes: dict, options: dict, dynamic=None, input_size=None) -> Source:
    """A `Network` as it is; a torch module through `costgraph.from_torch`."""
    from .network import Network

    if isinstance(obj, Network):
        return Source(name, obj, {}, None, options)
    if type(obj).__module__.startswith("torch") or any(c.__module__.startswith("torch.nn") for c in type(obj).__mro__):
        from .importers import from_torch

        example = input_size if input_size is not None else image_example_shape(sizes)
        net = from_torch(obj, example, dynamic, name=name)
        used = {s.name for s in net.symbols}
        usual = {}
        if isinstance(example, tuple) and len(example) == 4 and all(isinstance(d, int) for d in example):
            usual = {"H": example[2], "W": example[3], "N": example[0]}  # evaluated where it was traced
        return Source(name, net, {k: v for k, v in usual.items() if k in used}, None, options)
    raise CostGraphError(
        f"{name}: expected a costgraph Network or a torch.nn.Module, got {type(obj).__name__}", value=type(obj).__name__
    )


def _import_callable(spec: str):
    module_name, _, attribute = spec.partition(":")
    parts = module_name.split(".") + attribute.split(".")
    if not all(p.isidentifier() for p in parts):
        raise CostGraphError(f"{spec!r} is not package.module:callable (identifiers separated by dots)", value=spec)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: the user's own modules, by their request
    try:
        obj = importlib.import_module(module_name)
    except ImportError as error:
        raise CostGraphError(f"cannot import {module_name!r} (from {spec!r}): {error}", value=spec) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CostGraphError(f"module {module_name!r} has no attribute {attribute!r} (from {spec!r})", value=spec) from None
    if not callable(obj):
        raise CostGraphError(f"{spec!r} is not callable", value=spec)
    return obj


def _unknown_model(spec: str):
    import difflib

    from .models import MODELS

    close = difflib.get_close_matches(spec, list(MODELS), n=3)
    hint = f"; did you mean {', '.join(close[:-1]) + ' or ' if len(close) > 1 else ''}{close[-1]}?" if close else ""
    return CostGraphError(
        f"unknown model {spec!r}{hint} (a zoo name - costgraph list shows the {len(MODELS)} - "
        "a path to an .onnx file, or package.module:callable)",
        value=spec,
    )


def resolve(model, *, options: dict | None = None, sizes: dict | None = None, dynamic=None, input_size=None) -> Source:
    """The `Source` of `model`: a zoo name, an ``.onnx`` path, ``package.module:callable``, a `Network` or torch module.

    Parameters
    ----------
    model : str, os.PathLike, Network or torch.nn.Module
        A string is a zoo name, else a path ending in ``.onnx`` (or naming a
        file), else ``package.module:callable`` (a function returning a
        `Network` or a torch module, called with `options`).
    options : dict, optional
        Build options, text or values, parsed against the builder's signature
        (`parse_options`); for an ONNX file those of `costgraph.from_onnx`.
    sizes : dict, optional
        Sizes given by the user: a torch module's example input is
        ``(N, C, H, W)`` from them (`image_example_shape`) unless `input_size`
        is given.
    dynamic, input_size
        Passed to `costgraph.from_torch` for a torch module.

    Raises
    ------
    CostGraphError
        For an unknown model, a module that cannot be imported, an option the
        builder does not take or a value it refuses, or a failed import.
    """
    options = dict(options or {})
    sizes = dict(sizes or {})
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str):
        if options:
            raise CostGraphError("options apply to a model built by name; build the object with them instead", value=options)
        name = getattr(model, "name", None) if not callable(getattr(model, "name", None)) else None
        return _from_object(model, name or type(model).__name__, sizes, {}, dynamic, input_size)
    from .models import MODELS

    if model in MODELS:
        info = MODELS[model]
        parsed = parse_options(info.builder, options, model)
        net = _call_builder(info.builder, parsed, model)
        title = model + "".join(f" {k}={v}" for k, v in parsed.items())
        return Source(title, net, info.sizes(), model, parsed, info.builder)
    if model.lower().endswith(".onnx") or os.path.isfile(model):
        from .importers import from_onnx

        parsed = parse_options(from_onnx, options, model)
        parsed.pop("name", None)
        name = os.path.splitext(os.path.basename(model))[0] or model
        if not os.path.isfile(model):
            raise CostGraphError(f"no such ONNX file: {model!r}", value=model)
        return Source(name, from_onnx(model, name=name, **parsed), {}, None, parsed, from_onnx)
    if ":" in model:
        builder = _import_callable(model)
        parsed = parse_options(builder, options, model)
        built = _call_builder(builder, parsed, model)
        source = _from_object(built, model.rpartition(":")[2], sizes, parsed, dynamic, input_size)
        return Source(source.name, source.net, source.sizes, None, parsed, builder)
    raise _unknown_model(model)


def with_min_size_hint(error: CostGraphError, net) -> CostGraphError:
    """`error`, with the smallest valid square size appended when it says a size is too small.

    Raises
    ------
    Nothing: returns `error` unchanged when no hint applies.

    Examples
    --------
    >>> from costgraph.models import vgg16
    >>> net = vgg16()
    >>> try:
    ...     net.totals(H=31)
    ... except DomainError as error:
    ...     print(str(with_min_size_hint(error, net)).rpartition("; ")[2])
    the smallest valid square input is H = W = 32
    """
    if not isinstance(error, DomainError) or "smallest valid" in str(error):
        return error
    try:
        smallest = net.min_size()
    except CostGraphError:
        return error
    hinted = type(error)(f"{error}; the smallest valid square input is H = W = {smallest}", layer=error.layer, value=error.value)
    return hinted

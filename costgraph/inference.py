"""Serving a decoder language model: the key/value cache, one decode step, a whole generation.

Everything is derived from the network's own graph, rebuilt by the builder
that made it (``net.builder``, set by `costgraph.models.decoder`):

* the **key/value cache** is the keys and values the attention nodes read
  (the nodes the builder marks ``kv_cache``), ``S`` positions of them: with
  grouped-query attention the keys have ``kv_heads`` heads, so the cache
  shrinks by ``heads / kv_heads``;
* a **decode step** is the same builder with ``query_length=1``: one new
  token whose keys and values are appended to a cache of ``S - 1`` (as
  Hugging Face's ``DynamicCache`` concatenates them), so every attention
  multiplies one query by ``S`` keys.  ``totals(S=1)`` is not that: its one
  token attends to itself only;
* a **generation** of ``G`` tokens after a prompt of ``P`` is what Hugging
  Face's ``generate(max_new_tokens=G)`` runs: one forward pass over the
  prompt with the head on its last position only (``logits_to_keep=1``),
  which yields the first new token, then ``G - 1`` decode steps at
  ``S = P + 1, ..., P + G - 1`` (the last new token is never fed back).
  The sum over steps is folded in closed form (sympy's summation of
  polynomials in ``S``; with a sliding window, `sum_of_min` for the steps'
  ``min``-bounded key counts), kept an exact integer formula in ``P``,
  ``G`` and ``N``.

>>> from costgraph.models import llama2_7b
>>> llama2_7b().kv_cache_bytes(dtype="fp16", S=4096)   # 2 (K, V) x 32 layers x 4096 x 4096 x 2 bytes
2147483648
"""

from __future__ import annotations

import math

import sympy

from .compile import compile_exprs, exact_scale
from .dtypes import dtype_bytes
from .errors import CostGraphError, UnknownSizeError
from .intmath import FloorDiv
from .kinds.base import numel
from .symbols import S, resolve_sizes, size_symbol, sort_symbols
from .totals import Totals

__all__ = ["P", "G", "kv_cache_elements", "kv_cache_bytes", "decode_network", "decode_step", "generation_formulas", "generation", "sum_of_min"]

P = size_symbol("P")  #: prompt length of a generation
G = size_symbol("G")  #: tokens a generation produces


def _rebuilt(net, key: str, **changes):
    """`net` rebuilt by its builder with `changes` to its options (cached on `net`)."""
    if getattr(net, "builder", None) is None:
        raise CostGraphError(
            f"{net.name}: not built by a transformer builder (costgraph.models.decoder), so it cannot be "
            "rebuilt with a key/value cache",
            value=net.name,
        )
    if key not in net._cache:
        function, options = net.builder
        net._cache[key] = function(**{**options, **changes})
    return net._cache[key]


def _cache_form(net):
    """A network of the same model whose attention is built from parts (keys and values are nodes)."""
    if getattr(net, "builder", None) is not None and net.builder[1].get("blocks") == "fused":
        return _rebuilt(net, "inference_parts", blocks="parts")
    return net


def _cached_numel(node) -> sympy.Expr:
    """Elements a cache keeps of one key or value node: all S positions, or with a sliding window of w
    (marked ``kv_window``) the last ``min(S, w - 1)``, as Hugging Face's sliding-window cache (measured)."""
    count = numel(node["shape"])
    window = node.get("kv_window")
    return count if window is None else count.xreplace({S: sympy.Min(S, window - 1)})


def kv_cache_elements(net) -> sympy.Expr:
    """Elements of the keys and values every attention layer reads: what a cache of ``S`` positions holds.

    The sum of the shapes of the nodes the builder marks ``kv_cache``
    (``"key"``, ``"value"``); a network built with ``blocks="fused"`` is
    read in its parts form (the same model).

    Raises
    ------
    CostGraphError
        If the network has no attention keys and values (not a transformer
        builder's network).

    >>> from costgraph.models import decoder
    >>> kv_cache_elements(decoder(2, 64, 8, kv_heads=2, vocab=100))   # 2 layers x (K, V) x 2 heads x 8
    64*N*S
    """
    form = _cache_form(net)
    counts = [_cached_numel(form.graph.nodes[n]) for n in form if form.graph.nodes[n].get("kv_cache")]
    if not counts:
        raise CostGraphError(f"{net.name} has no attention keys and values to cache", value=net.name)
    return sympy.expand(sympy.Add(*counts))


def _reject_unknown(net, method: str, symbols, sizes: dict, options=("dtype",)):
    """Raise for a keyword that is neither an option of `method` nor one of `symbols`, listing both."""
    unknown = sorted(set(sizes) - {s.name for s in symbols})
    if unknown:
        raise UnknownSizeError(
            f"{net.name} has no size {unknown[0]!r}: {method}() accepts {', '.join(options)} and the sizes "
            f"{', '.join(s.name for s in sort_symbols(symbols))}",
            value=unknown[0],
        )


def kv_cache_bytes(net, dtype="fp16", **sizes):
    """Bytes of the key/value cache after ``S`` positions: symbolic, or an exact int at `sizes`.

    Raises
    ------
    CostGraphError
        As `kv_cache_elements`, or for an unknown dtype or keyword.
    UnknownSizeError, SizeError, DomainError
        As `costgraph.Network.totals` raises (``S`` beyond a learned
        position table is refused).

    >>> from costgraph.models import decoder
    >>> kv_cache_bytes(decoder(2, 64, 8, kv_heads=2, vocab=100), dtype="bf16", S=10, N=3)   # 64 * 10 * 3 * 2
    3840
    """
    elements = kv_cache_elements(net) * dtype_bytes(dtype)
    if not sizes:
        return sympy.expand(elements)
    _reject_unknown(net, "kv_cache_bytes", net.symbols, sizes)
    values = net.check_sizes(**sizes)
    return int(elements.xreplace(values))


def decode_network(net):
    """The network of one decode step: `net` rebuilt with ``query_length=1`` (cached on `net`).

    A causal-aware count (``skip_masked``) and the full one agree for one
    query (it sees every cached key), and a cache is built from parts, so
    both options are set to what the cache form needs.

    Raises
    ------
    CostGraphError
        If `net` was not built by a transformer builder.

    >>> from costgraph.models import decoder
    >>> step = decode_network(decoder(1, 64, 8, vocab=100))
    >>> step.shape("h.0.attn.scores")          # one query against S keys
    (N, 8, 1, S)
    """
    return _rebuilt(net, "decode_network", query_length=1, blocks="parts", skip_masked=False)


def _check_context(net, method: str, sizes: dict, longest) -> None:
    """Check the full model is valid at the longest context a call reaches (a learned table's limit)."""
    others = {k: v for k, v in sizes.items() if k not in ("S", "P", "G")}
    try:
        net.check_sizes(S=longest, **others)
    except CostGraphError as error:
        raise type(error)(f"{method}: {error}", layer=getattr(error, "layer", None), value=error.value) from None


def decode_step(net, dtype="fp32", **sizes) -> Totals:
    """`Totals` of one decode step: one new token, a cache of ``S - 1``, attention over ``S`` positions.

    Parameters
    ----------
    dtype : str
        Element type for ``activation_bytes``.
    **sizes : int
        ``S`` (positions attended, the new token included: S >= 2) and the
        batch ``N``; without sizes, formulas.

    Raises
    ------
    CostGraphError
        If `net` was not built by a transformer builder, for ``S < 2`` (an
        empty cache is the prompt's forward, ``totals(S=1)``), or for an
        unknown keyword.
    UnknownSizeError, SizeError, DomainError
        As `costgraph.Network.totals` raises.

    >>> from costgraph.models import gpt2
    >>> net = gpt2("small")
    >>> step = net.decode_step(S=1024)
    >>> # per layer: 12 d^2 weights, then Q K^T and weights x V over 1024 keys; and the head
    >>> step.macs == 12 * (12 * 768**2 + 2 * 1024 * 768) + 768 * 50257
    True
    """
    step = decode_network(net)
    if not sizes:
        return step.totals(dtype)
    _reject_unknown(net, "decode_step", step.symbols, sizes)
    length = sizes.get("S")
    if isinstance(length, int) and not isinstance(length, bool) and length < 2:
        raise CostGraphError(
            f"decode_step needs S >= 2 (a cache of S - 1 tokens), got S={length}; an empty cache is totals(S=1)",
            value=length,
        )
    if length is not None:
        _check_context(net, "decode_step", sizes, length)
    return step.totals(dtype, **sizes)


def _polynomial_in(expr, symbol, what: str):
    if expr.atoms(sympy.Function) or not expr.is_polynomial(symbol):
        raise CostGraphError(f"{what} is not a polynomial in {symbol} ({expr}); it cannot be summed in closed form", value=expr)
    return expr


def _exact_sum(expr):
    """`expr` (rational coefficients, integer at every integer point) as an exact integer formula."""
    expr = sympy.expand(expr)
    denominator = 1
    for coefficient in expr.as_coefficients_dict().values():
        denominator = math.lcm(denominator, int(sympy.fraction(coefficient)[1]))
    if denominator == 1:
        return expr
    return FloorDiv(sympy.expand(denominator * expr), sympy.Integer(denominator))


def sum_of_min(a, b, c):
    """``sum(min(k, c) for k in range(a, b + 1))`` in closed form, for integers ``b >= a - 1`` (formulas allowed).

    Derivation: the terms with ``k <= c`` are ``k = a .. u`` with
    ``u = max(a - 1, min(b, c))`` (none when ``c < a``, all when ``c >= b``);
    an arithmetic series, they sum to ``(u - a + 1)(a + u) / 2`` (count times
    mean), an integer because the two factors add up to ``2u + 1``, odd, so
    one of them is even.  Each of the other ``b - u`` terms has ``k > c`` and
    adds ``c``.  So the sum is ``(u - a + 1)(a + u) / 2 + c (b - u)``; for
    the empty range ``b = a - 1``, ``u = a - 1`` and both parts are 0.

    Raises
    ------
    CostGraphError
        If an argument is not an integer or an integer formula (as `FloorDiv` refuses).

    Examples
    --------
    >>> sum_of_min(1, 5, 3)                  # 1 + 2 + 3 + 3 + 3
    12
    >>> sum_of_min(S, S + 9, 4).xreplace({S: 2})    # 2 + 3 + 4 + 7 x 4
    37
    """
    a, b, c = (sympy.sympify(v) for v in (a, b, c))
    u = sympy.Max(a - 1, sympy.Min(b, c))
    return FloorDiv(sympy.expand((u - a + 1) * (a + u)), sympy.Integer(2)) + c * (b - u)


def _fold_steps(per_step, first, last, what: str):
    """``sum(per_step at S = k for k = first .. last)`` in closed form (``last >= first - 1``).

    `per_step` is a polynomial in S plus terms ``coefficient * Min(c, S + e)``
    with an integer ``c`` and a coefficient free of S: a sliding window of
    ``w`` makes a step attend to ``min(S, w)``-like counts of keys.  The
    polynomial is summed by sympy; each ``Min`` term by `sum_of_min` over the
    shifted range ``first + e .. last + e``.
    """
    expanded = sympy.expand(per_step)
    folded = []
    for atom in sorted(expanded.atoms(sympy.Min), key=sympy.default_sort_key):
        if not atom.has(S):
            continue
        constants = [arg for arg in atom.args if arg.is_Integer]
        moving = [arg for arg in atom.args if not arg.is_Integer]
        coefficient = expanded.coeff(atom)
        shift = sympy.expand(moving[0] - S) if len(constants) == 1 and len(moving) == 1 else None
        if shift is None or not shift.is_Integer or coefficient.has(S) or coefficient.atoms(sympy.Min):
            raise CostGraphError(f"{what} has a term {atom} that cannot be summed in closed form", value=atom)
        folded.append(coefficient * sum_of_min(first + shift, last + shift, constants[0]))
        expanded = sympy.expand(expanded - coefficient * atom)
        if expanded.has(atom):
            raise CostGraphError(f"{what} is not linear in {atom}; it cannot be summed in closed form", value=atom)
    polynomial = _polynomial_in(expanded, S, what)
    k = sympy.Dummy("k", integer=True, positive=True)
    return _exact_sum(sympy.summation(polynomial.xreplace({S: k}), (k, first, last))) + sympy.Add(*folded)


def generation_formulas(net) -> dict:
    """``{field: formula in P, G, N}`` of a generation (see the module docstring); cached on `net`.

    Raises
    ------
    CostGraphError
        If `net` was not built by a transformer builder, or a step's cost is
        neither a polynomial in S nor one plus terms linear in ``Min(c, S + e)``
        (it cannot be folded).

    >>> from costgraph.models import decoder
    >>> f = generation_formulas(decoder(1, 64, 8, vocab=100))
    >>> sorted(s.name for s in f["macs"].free_symbols)
    ['G', 'N', 'P']
    """
    if "generation" in net._cache:
        return net._cache["generation"]
    prompt = _rebuilt(net, "prefill_network", logits_to_keep=1).totals()
    step = decode_network(net).totals()
    formulas = {"params": prompt.params, "weights": prompt.weights, "biases": prompt.biases}
    for name in ("activations", "macs", "flops"):
        steps = _fold_steps(getattr(step, name), P + 1, P + G - 1, f"a decode step's {name}")
        formulas[name] = getattr(prompt, name).xreplace({S: P}) + steps
    net._cache["generation"] = formulas
    return formulas


def generation(net, dtype="fp32", **sizes) -> Totals:
    """`Totals` of generating ``G`` tokens after a prompt of ``P``, in closed form in ``P``, ``G``, ``N``.

    The prompt's forward pass (head on its last position), then ``G - 1``
    decode steps (`decode_step` at ``S = P + 1 ... P + G - 1``), as Hugging
    Face's ``generate(max_new_tokens=G)``.  ``macs``, ``flops`` and
    ``activations`` are sums over those ``G`` forward passes; the
    parameters are the model's.

    Raises
    ------
    CostGraphError
        If `net` was not built by a transformer builder, or for an unknown keyword.
    UnknownSizeError, SizeError, DomainError
        For a missing or bad size, or ``P + G - 1`` beyond a learned
        position table.

    >>> from costgraph.models import gpt2
    >>> net = gpt2("small")
    >>> run = net.generation(P=100, G=3)                  # prompt, then decode steps at S = 101, 102
    >>> head = 768 * 50257
    >>> prompt = net.totals(S=100).macs - 99 * head       # the head on the last prompt position only
    >>> run.macs == prompt + net.decode_step(S=101).macs + net.decode_step(S=102).macs
    True
    """
    formulas = generation_formulas(net)
    names = ("params", "weights", "biases", "activations", "macs", "flops")
    element = dtype_bytes(dtype)
    symbols = sort_symbols({s for f in formulas.values() for s in f.free_symbols} | {P, G})
    if not sizes:
        return Totals(
            **{n: formulas[n] for n in names},
            activation_bytes=sympy.expand(formulas["activations"] * element),
            dtype=str(dtype),
        )
    _reject_unknown(net, "generation", symbols, sizes)
    values = resolve_sizes(symbols, sizes, network=net.name)
    _check_context(net, "generation", {k: v for k, v in sizes.items()}, values[P] + values[G] - 1)
    if "generation_fn" not in net._cache:
        net._cache["generation_fn"] = (symbols, compile_exprs(symbols, [formulas[n] for n in names]))
    order, evaluate = net._cache["generation_fn"]
    result = dict(zip(names, evaluate(*[values[s] for s in order])))
    return Totals(
        **result,
        activation_bytes=exact_scale(result["activations"], element),
        dtype=str(dtype),
        sizes={s.name: v for s, v in values.items()},
    )

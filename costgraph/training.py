"""Training memory at scale, per GPU: mixed-precision recipes, recomputation, ZeRO, tensor, sequence and pipeline parallelism.

`costgraph.memory` counts one device holding the whole model in one dtype.
This module answers the questions of a large training run, every figure
per GPU and exact (symbolic in the sizes and the degrees):

**Recipes** (`RECIPES`, or your own `Recipe`): the dtypes of the model's
weights, their gradients, the fp32 master copy an optimizer updates
(mixed precision) and the optimizer's moments, and of the activations.
``"bf16-mixed"`` with Adam is 2 + 2 + 4 + 4 + 4 = 16 bytes a parameter.

**ZeRO** (Rajbhandari et al. 2020) over `dp` data-parallel ranks: stage 1
partitions the optimizer state (master weights and moments), stage 2 the
gradients too, stage 3 the weights too.  A rank holds
``ceil(count / dp)`` elements of a partitioned count (DeepSpeed pads its
flat buffers to a multiple of `dp`).

**Tensor parallelism** over `tp` ranks (Megatron-LM, Shoeybi et al. 2019):
the builder marks each projection ``parallel="column"`` (output features
split: q/k/v, the MLP's first layer, the head) or ``"row"`` (input
features split, output all-reduced: the attention output and the MLP's
second layer); the embedding is split by vocabulary.  A rank keeps
``ceil(count / tp)`` of a split weight (a column layer's bias too) and a
replica of everything else (norms, a row layer's bias, learned positions).
A mixture of experts is split as Megatron-LM splits it (expert tensor
parallelism, megatron/core/transformer/moe/experts.py): each expert's MLP
as a dense one (first matrices by columns, last by rows), the router
replicated; the experts' hidden activations are split, the router's
logits and the experts' ``d_model``-wide inputs and outputs are not.
An activation is split when it is made between a column and a row layer
(or by the head); the others -- the residual stream, norm inputs and
statistics, the inputs of column layers, the dropout masks after row
layers -- are replicated, unless sequence parallelism (`sp`) splits them
along the sequence (Korthikanti et al. 2022), which splits every
activation ``tp`` ways.  A split activation keeps ``ceil(numel / tp)``.

**Recomputation**: ``"selective"`` drops what the eager attention core
makes (scores, softmax, attention dropout: the nodes marked
``recompute="attention_core"``) and recomputes it in backward;
``"full"`` keeps only each transformer block's input (a checkpoint per
block) and what layers outside the blocks keep.  The tensors a recomputed
block re-creates during its own backward exist one block at a time and
are not counted (as the gradients of activations are not).

**Pipeline parallelism** over `pp` stages: blocks are split in order,
``ceil(L / pp)`` to a stage; the figures are the *first* stage's (the
embedding and its blocks), the most loaded one under a 1F1B schedule: it
holds the activations of `pp` microbatches in flight (the batch ``N`` is
one microbatch; at least `pp` microbatches per step are assumed).

Not counted: the loss, workspace, communication buffers, allocator
caching, Adam's 0-d ``step`` counters.  ``peak_inference_bytes`` is the
single-device inference peak in the activation dtype (parallelism not applied).

>>> from costgraph.models import llama2_7b
>>> m = llama2_7b().memory(recipe="bf16-mixed", optimizer="adamw", S=4096)
>>> (m.params_bytes + m.grads_bytes + m.master_bytes + m.optimizer_bytes) // 6738415616   # 16 bytes a parameter
16
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy

from .dtypes import dtype_bytes
from .errors import CostGraphError
from .inference import _reject_unknown
from .intmath import ceil_div
from .kinds.base import numel
from .memory import (
    DEVICES,
    OPTIMIZER_STATES,
    Memory,
    _check_kind_rule,
    _recorded_layers,
    _storage_roots,
    element_bytes,
    output_elements,
    peak_inference_elements,
)
from .symbols import as_size, resolve_sizes, sort_symbols

__all__ = ["Recipe", "RECIPES", "RECOMPUTE", "training_memory", "saved_by_layer", "pipeline_stage"]


@dataclass(frozen=True)
class Recipe:
    """The dtypes of a training recipe (names as `costgraph.dtypes`, or bytes as ints).

    Attributes
    ----------
    params
        The weights the forward and backward passes use.
    grads
        Their gradients.
    master
        The copy the optimizer updates (mixed precision: fp32), or None.
    moments
        The optimizer's state tensors (Adam's two moments).
    activations
        Activations kept for backward.

    >>> Recipe("bf16", "bf16", "fp32", "fp32", "bf16").bytes_per_parameter(states=2)   # 2 + 2 + 4 + 2 x 4
    16
    """

    params: object = "fp32"
    grads: object = "fp32"
    master: object = None
    moments: object = "fp32"
    activations: object = "fp32"

    def __post_init__(self):
        for name in ("params", "grads", "moments", "activations"):
            dtype_bytes(getattr(self, name))  # an unknown dtype fails here, naming it
        if self.master is not None:
            dtype_bytes(self.master)

    def bytes_per_parameter(self, states: int) -> int:
        """Weights, gradients, master copy and `states` moments: bytes a parameter (no partitioning)."""
        master = dtype_bytes(self.master) if self.master is not None else 0
        return dtype_bytes(self.params) + dtype_bytes(self.grads) + master + states * dtype_bytes(self.moments)


#: the usual recipes: fp32; bf16/fp16 mixed precision (16-bit weights, gradients and
#: activations, fp32 master weights and moments: the ZeRO paper's "K = 12" for Adam);
#: pure bf16 (everything bf16, no master copy)
RECIPES = {
    "fp32": Recipe("fp32", "fp32", None, "fp32", "fp32"),
    "bf16-mixed": Recipe("bf16", "bf16", "fp32", "fp32", "bf16"),
    "fp16-mixed": Recipe("fp16", "fp16", "fp32", "fp32", "fp16"),
    "bf16": Recipe("bf16", "bf16", None, "bf16", "bf16"),
}

RECOMPUTE = ("none", "selective", "full")


def _recipe(recipe) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if recipe in RECIPES:
        return RECIPES[recipe]
    raise CostGraphError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)} (or a costgraph.training.Recipe)", value=recipe)


def _degree(value, what: str):
    """A parallel degree: a positive int, or a size name / formula (symbolic)."""
    if isinstance(value, bool):
        raise CostGraphError(f"{what} must be a positive integer or a size name, got {value!r}", value=value)
    degree = as_size(value, owner="memory", what=what)
    if degree.is_number and degree < 1:
        raise CostGraphError(f"{what} must be a positive integer, got {value!r}", value=value)
    return int(degree) if degree.is_number else degree


def _share(count, degree):
    """What the most loaded of `degree` ranks holds of `count` elements: ``ceil(count / degree)``."""
    if isinstance(degree, int):
        return sympy.expand(count) if degree == 1 else ceil_div(sympy.expand(count), degree)
    return sympy.ceiling(sympy.expand(count) / degree)


def pipeline_stage(net, pp: int) -> list:
    """The layers of the first of `pp` pipeline stages, in insertion order.

    Blocks (nodes a builder marks ``block``) go ``ceil(L / pp)`` to a stage,
    in order; the first stage also holds every unmarked layer added before
    the first block (the embeddings).

    Raises
    ------
    CostGraphError
        If ``pp > 1`` and the network has fewer blocks than stages (or none).

    >>> from costgraph.models import gpt2
    >>> stage = pipeline_stage(gpt2("small"), 4)        # 12 blocks: 3 a stage
    >>> stage[0], stage[-1]
    ('input_ids', 'h.2.residual_2')
    """
    if pp == 1:
        return list(net)
    blocks = {net.graph.nodes[n].get("block") for n in net} - {None}
    if len(blocks) < pp:
        raise CostGraphError(f"{net.name}: {len(blocks)} transformer blocks cannot fill pp={pp} pipeline stages", value=pp)
    first = math.ceil(len(blocks) / pp)
    stage, started = [], False
    for name in net:
        block = net.graph.nodes[name].get("block")
        started = started or block is not None
        if (block is None and not started) or (block is not None and block < first):
            stage.append(name)
    return stage


def _split_outputs(net) -> dict:
    """Layer -> whether its output is split across tensor-parallel ranks (made between a column and a row layer)."""
    split = {}
    for name in net:
        node = net.graph.nodes[name]
        role = node.get("parallel")
        if role == "column":
            split[name] = True
        elif role in ("row", "vocab", "experts"):
            split[name] = False  # all-reduced: every rank has it whole
        else:
            split[name] = any(split[s] for s in node["inputs"])
    return split


def _storages(net) -> dict:
    """``{key: (numel, element, maker, keepers)}``: what autograd keeps, with the layers that keep it.

    As `costgraph.memory.saved_storages` (same keys, same counts), plus the
    set of layers whose backward reads each storage, which recomputation needs.
    """
    if "training_storages" in net._cache:
        return net._cache["training_storages"]
    roots = _storage_roots(net, training=True)
    elements = output_elements(net)  # a bool mask or int64 ids at their own bytes
    found: dict = {}
    for name, node, shapes, flags in _recorded_layers(net):
        inputs = node["inputs"]
        declared = _check_kind_rule(name, node["layer"], "saved_tensors", node["shape"], *shapes, needs_input_grad=flags)
        extras = 0
        for saved in declared:
            if saved.source == "extra":
                found[(name, extras)] = (sympy.expand(saved.numel), saved.element, name, {name})
                extras += 1
                continue
            owner = roots[inputs[saved.index]] if saved.source == "input" else roots[name]
            if owner is None:
                continue
            if owner not in found:
                found[owner] = (sympy.expand(numel(net.graph.nodes[owner]["shape"])), elements[owner], owner, set())
            found[owner][3].add(name)
    net._cache["training_storages"] = found
    return found


def _block_inputs(net) -> set:
    """Storages a block reads but does not make: the checkpoints full recomputation keeps."""
    roots = _storage_roots(net, training=True)
    kept = set()
    for name in net:
        node = net.graph.nodes[name]
        block = node.get("block")
        if block is None:
            continue
        for source in node["inputs"]:
            root = roots[source]
            if root is not None and net.graph.nodes[source].get("block") != block:
                kept.add(root)
    return kept


def _split_extra(node, key) -> bool:
    """Whether tensor parallelism splits this extra saved tensor of a mixture of experts (its hidden tensors)."""
    if node.get("parallel") != "experts" or not isinstance(key, tuple):
        return False
    return node["layer"].tensor_parallel_split_extras()[key[1]]


def saved_by_layer(net, *, tp=1, sp=False, recompute="none", activation_bytes=2, device="cuda", layers=None) -> dict:
    """``{layer: bytes}`` autograd keeps per GPU, each storage charged to the layer that makes it (symbolic).

    One microbatch (batch ``N``), before pipeline in-flight counts; see the
    module docstring for what `tp`, `sp` and `recompute` change.  `layers`
    restricts to those layers (a pipeline stage).

    Raises
    ------
    CostGraphError
        For an unknown `recompute`, full recomputation without marked
        blocks, or a layer whose kind declares no saved-tensor rule.

    >>> from costgraph.models import gpt2
    >>> from costgraph import N, S
    >>> kept = saved_by_layer(gpt2("small"), recompute="full")
    >>> kept["h.0.residual_2"] == 2 * 768 * N * S     # block 0's output: the checkpoint of block 1
    True
    """
    if recompute not in RECOMPUTE:
        raise CostGraphError(f"unknown recompute {recompute!r}; known: {', '.join(RECOMPUTE)}", value=recompute)
    nodes = net.graph.nodes
    split = _split_outputs(net)
    checkpoints = _block_inputs(net) if recompute == "full" else set()
    if recompute == "full" and not any(nodes[n].get("block") is not None for n in net):
        raise CostGraphError(f"{net.name}: full recomputation needs transformer blocks (a builder's network)", value=recompute)
    wanted = None if layers is None else set(layers)
    result: dict = {}
    for key, (count, element, maker, keepers) in _storages(net).items():
        if wanted is not None and maker not in wanted:
            continue
        if recompute == "selective" and nodes[maker].get("recompute") == "attention_core":
            continue
        if recompute == "full" and key not in checkpoints:
            if all(nodes[k].get("block") is not None for k in keepers):
                continue  # re-created when its block is recomputed
        degree = tp if (split[maker] or sp or _split_extra(nodes[maker], key)) else 1
        result[maker] = result.get(maker, 0) + _share(count, degree) * element_bytes(element, activation_bytes, device)
    return result


def training_memory(
    net,
    *,
    recipe="fp32",
    optimizer="adam",
    zero=0,
    dp=1,
    tp=1,
    sp=False,
    pp=1,
    recompute="none",
    device="cuda",
    **sizes,
) -> Memory:
    """`Memory` of one training step per GPU (see the module docstring); `Network.memory` calls it.

    Raises
    ------
    CostGraphError
        For an unknown recipe, optimizer, ZeRO stage, recompute or device,
        a degree that is not a positive integer or size name, tensor
        parallelism over one-node attention/MLP blocks (``blocks="fused"``:
        the sharding of their projections is not in the graph), or more
        pipeline stages than blocks.
    UnknownSizeError, SizeError, DomainError
        For unknown or bad sizes, as `Network.totals` raises; an unknown
        keyword's message lists the accepted ones.

    Examples
    --------
    GPT-2 small on 4 tensor-parallel ranks: the token embedding split by
    vocabulary, ``ceil(50257 * 768 / 4)`` weights a rank.

    >>> from costgraph.models import gpt2
    >>> net = gpt2("small")
    >>> whole = training_memory(net, recipe="fp32", S=1024).params_bytes
    >>> split = training_memory(net, recipe="fp32", tp=4, S=1024).params_bytes
    >>> whole - split > 3 * 50257 * 768 // 4 * 4     # most of the model is split
    True
    """
    kind = _recipe(recipe)
    if optimizer not in OPTIMIZER_STATES:
        raise CostGraphError(f"unknown optimizer {optimizer!r}; known: {', '.join(str(o) for o in OPTIMIZER_STATES)}", value=optimizer)
    if zero not in (0, 1, 2, 3) or isinstance(zero, bool):
        raise CostGraphError(f"zero must be a ZeRO stage 0, 1, 2 or 3, got {zero!r}", value=zero)
    if device not in DEVICES:
        raise CostGraphError(f"unknown device {device!r}; known: {', '.join(DEVICES)}", value=device)
    dp, tp = _degree(dp, "dp"), _degree(tp, "tp")
    if isinstance(pp, bool) or not isinstance(pp, int) or pp < 1:
        raise CostGraphError(f"pp must be a positive integer (stages are built from whole blocks), got {pp!r}", value=pp)
    if tp != 1 and any(net.graph.nodes[n].get("parallel") == "block" for n in net):
        raise CostGraphError(f"{net.name}: tensor parallelism needs blocks='parts' (each projection's sharding)", value=tp)
    stage = pipeline_stage(net, pp)
    nodes = net.graph.nodes

    # parameters on this GPU: its stage, its tensor-parallel shard (tied parameters once)
    local = []
    for name in stage:
        weights, biases = net._owned(name)
        role = nodes[name].get("parallel")
        if role in ("column", "vocab"):
            local += [_share(weights, tp), _share(biases, tp)]
        elif role == "row":
            local += [_share(weights, tp), biases]
        elif role == "experts":
            parts = nodes[name]["layer"].tensor_parallel_parts()
            local += [_share(parts["split_weights"], tp), parts["replicated_weights"]]
            local += [_share(parts["split_biases"], tp), parts["replicated_biases"]]
        else:
            local += [weights, biases]
    params = sympy.expand(sympy.Add(*local))
    partitioned = _share(params, dp)
    held = {
        "params": partitioned if zero >= 3 else params,
        "grads": partitioned if zero >= 2 else params,
        "state": partitioned if zero >= 1 else params,
    }
    activation = dtype_bytes(kind.activations)
    buffers, fixed = [], []
    for name in stage:
        shapes = tuple(nodes[s]["shape"] for s in nodes[name]["inputs"])
        for count, cls in nodes[name]["layer"].buffers(*shapes):
            (buffers if cls == "activation" else fixed).append(sympy.sympify(count) * (activation if cls == "activation" else dtype_bytes(cls)))
    per_layer = saved_by_layer(net, tp=tp, sp=bool(sp), recompute=recompute, activation_bytes=activation, device=device, layers=stage)
    fields = {
        "params_bytes": held["params"] * dtype_bytes(kind.params),
        "buffers_bytes": sympy.Add(*buffers, *fixed),
        "grads_bytes": held["grads"] * dtype_bytes(kind.grads),
        "master_bytes": held["state"] * (dtype_bytes(kind.master) if kind.master is not None else 0),
        "optimizer_bytes": held["state"] * OPTIMIZER_STATES[optimizer] * dtype_bytes(kind.moments),
        "saved_bytes": pp * sympy.Add(*per_layer.values()),  # 1F1B: pp microbatches in flight on the first stage
        "peak_inference_bytes": peak_inference_elements(net) * activation,
    }
    model_states = ("params_bytes", "buffers_bytes", "grads_bytes", "master_bytes", "optimizer_bytes")
    fields["total_training_bytes"] = sympy.Add(*[fields[k] for k in model_states], fields["saved_bytes"])
    fields["total_inference_bytes"] = fields["params_bytes"] + fields["buffers_bytes"] + fields["peak_inference_bytes"]
    degrees = [d for d in (dp, tp) if not isinstance(d, int)]
    symbols = sort_symbols(set(net.symbols) | {s for d in degrees for s in d.free_symbols})
    shown = {}
    if sizes:
        _reject_unknown(net, "memory", symbols, sizes, options=net.MEMORY_OPTIONS)
        values = resolve_sizes(symbols, sizes, network=net.name)
        net.check_sizes(**{s.name: v for s, v in values.items() if s in net.symbols})
        fields = {k: int(sympy.sympify(v).xreplace(values)) for k, v in fields.items()}
        shown = {s.name: v for s, v in values.items()}
    else:
        fields = {k: v if sympy.sympify(v).has(sympy.Max) else sympy.expand(v) for k, v in fields.items()}
    name = recipe if isinstance(recipe, str) else "custom"
    return Memory(
        **fields,
        dtype=str(kind.activations),
        training=True,
        optimizer=optimizer,
        device=device,
        sizes=shown,
        recipe=name,
        parallel={"zero": zero, "dp": dp, "tp": tp, "sp": bool(sp), "pp": pp, "recompute": recompute},
    )

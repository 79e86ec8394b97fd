"""Integer formulas as data: a straight-line program, built from sympy, checked, and run by us.

The formula cache (`costgraph.fast`) stores a zoo model's totals in a file
that any process of the same user can write.  Such a file must never be
code: it holds a *program* as plain JSON data, a list of nodes, each one
operation on earlier nodes::

    ["int", 35597096]          an integer literal
    ["size", 0]                the first size the program takes (e.g. H)
    ["add", 3, 5, 8]           the sum of nodes 3, 5 and 8
    ["mul", 2, 4]              their product
    ["pow", 4, 2]              node 4 squared (a non-negative int exponent)
    ["floordiv", 6, 32]        floor(node 6 / 32) (a positive int divisor)
    ["min", 1, 7], ["max", 1, 7]

Node ``i`` refers only to nodes ``j < i``, so a program has no cycles, no
recursion and no names: sizes are positions.  `check` accepts exactly this
and nothing else (ints only, never a bool or a float; known operations;
references in range) and bounds what evaluation can cost: the degree of
every node in the sizes and the bit length of its coefficients are
tracked, so a program cannot square its way to a number of a billion
digits.  `run` evaluates a checked program with Python ints: exact at any
size.  `costgraph.formula_writer.build_program` makes a program from sympy
formulas (identical sub-formulas are one node, computed once).

>>> program = [["size", 0], ["int", 2], ["floordiv", 0, 2], ["mul", 1, 2], ["add", 0, 3]]
>>> check(program, n_sizes=1)
>>> run(prepare(program), [7])[-1]                  # H + 2*floor(H/2) at H = 7
13
"""

from __future__ import annotations

__all__ = ["OPERATIONS", "ProgramError", "Limits", "Unbounded", "check", "prepare", "run"]

#: the operations a program may hold, and how many operands each takes after its name
OPERATIONS = ("int", "size", "add", "mul", "pow", "floordiv", "min", "max")
_CODES = {name: code for code, name in enumerate(OPERATIONS)}
_INT, _SIZE, _ADD, _MUL, _POW, _FLOORDIV, _MIN, _MAX = range(len(OPERATIONS))


class ProgramError(ValueError):
    """A program that is not one `check` accepts (a damaged or planted cache file)."""


class Limits:
    """What a program may hold: every zoo model's formulas are far inside these.

    Attributes
    ----------
    nodes : int
        Most nodes in one program.
    operands : int
        Most operands of one add, mul, min or max.
    bits : int
        Largest bit length of an integer literal, and of the coefficient
        bound tracked through each node (see `check`).
    degree : int
        Largest degree of a node in the sizes (``N*H*W`` has degree 3).
    exponent : int
        Largest exponent of ``pow``.
    """

    nodes = 1_000_000
    operands = 100_000
    bits = 4096
    degree = 64
    exponent = 64


class Unbounded(Limits):
    """No limits but the form: for a program derived in this process (never for one read from a file)."""

    nodes = operands = bits = degree = exponent = float("inf")


def _is_int(value) -> bool:
    return type(value) is int  # not a bool, not a float, not a subclass


def check(nodes, n_sizes: int, limits=Limits) -> None:
    """Accept `nodes` as a program over `n_sizes` sizes, or raise `ProgramError` saying why.

    Besides the form (see the module docstring), every node's degree in the
    sizes and a bound of the bit length of its coefficients are tracked
    (a sum: the largest of its operands' plus the bits of its number of
    operands; a product: their sums; a power: times the exponent); each must
    stay within `limits`, so that evaluating the program costs at most a
    number of bigint operations bounded by its size, on numbers bounded by
    the sizes it is given.

    Raises
    ------
    ProgramError
        Naming the first node that is not acceptable.

    Examples
    --------
    >>> check([["int", 2], ["pow", 0, 2]], n_sizes=0)
    >>> check([["int", 2.5]], n_sizes=0)
    Traceback (most recent call last):
    ...
    costgraph.formula_program.ProgramError: node 0: ['int', 2.5] has an operand that is not an integer
    """
    if type(nodes) is not list:
        raise ProgramError(f"a program is a list of nodes, got {type(nodes).__name__}")
    if len(nodes) > limits.nodes:
        raise ProgramError(f"{len(nodes)} nodes, more than {limits.nodes}")
    degrees: list = []
    bits: list = []
    for index, node in enumerate(nodes):
        if type(node) is not list or not node or type(node[0]) is not str or node[0] not in _CODES:
            raise ProgramError(f"node {index}: {_shown(node)} is not a known operation")
        operation, operands = node[0], node[1:]
        if not all(_is_int(o) for o in operands):
            raise ProgramError(f"node {index}: {_shown(node)} has an operand that is not an integer")
        if operation == "int":
            if len(operands) != 1:
                raise ProgramError(f"node {index}: {_shown(node)} is not an integer literal")
            if operands[0].bit_length() > limits.bits:
                raise ProgramError(f"node {index}: an integer of more than {limits.bits} bits")
            degrees.append(0)
            bits.append(operands[0].bit_length())
            continue
        if operation == "size":
            if len(operands) != 1 or not 0 <= operands[0] < n_sizes:
                raise ProgramError(f"node {index}: {_shown(node)} is not one of the {n_sizes} sizes")
            degrees.append(1)
            bits.append(1)
            continue
        if operation in ("pow", "floordiv"):
            if len(operands) != 2:
                raise ProgramError(f"node {index}: {_shown(node)} needs a node and an integer")
            refs, literal = operands[:1], operands[1]
        else:
            if not 1 <= len(operands) <= limits.operands:
                raise ProgramError(f"node {index}: {operation} of {len(operands)} operands")
            refs = operands
        if not all(0 <= r < index for r in refs):
            raise ProgramError(f"node {index}: {_shown(node)} refers to a node that is not before it")
        if operation == "pow":
            if not 0 <= literal <= limits.exponent:
                raise ProgramError(f"node {index}: exponent {literal} outside 0..{limits.exponent}")
            degree, width = degrees[refs[0]] * literal, bits[refs[0]] * literal
        elif operation == "floordiv":
            if not 1 <= literal or literal.bit_length() > limits.bits:
                raise ProgramError(f"node {index}: divisor {_shown(literal)} is not a positive integer of at most {limits.bits} bits")
            degree, width = degrees[refs[0]], bits[refs[0]]  # |floor(a/n)| <= |a| for n >= 1
        elif operation == "mul":
            degree, width = sum(degrees[r] for r in refs), sum(bits[r] for r in refs)
        else:  # add, min, max: at most the largest operand times the number of operands
            degree = max(degrees[r] for r in refs)
            width = max(bits[r] for r in refs) + len(refs).bit_length()
        if degree > limits.degree:
            raise ProgramError(f"node {index}: degree {degree} in the sizes, more than {limits.degree}")
        if width > limits.bits:
            raise ProgramError(f"node {index}: coefficients of more than {limits.bits} bits")
        degrees.append(degree)
        bits.append(width)


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def prepare(nodes) -> list:
    """A checked program in the form `run` takes (operation codes, operands as tuples).

    >>> prepare([["size", 0], ["int", 3], ["mul", 0, 1]])
    [(1, 0), (0, 3), (3, (0, 1))]
    """
    prepared = []
    for node in nodes:
        code = _CODES[node[0]]
        if code in (_INT, _SIZE):
            prepared.append((code, node[1]))
        elif code in (_POW, _FLOORDIV):
            prepared.append((code, (node[1], node[2])))
        else:
            prepared.append((code, tuple(node[1:])))
    return prepared


def run(prepared, sizes) -> list:
    """The value of every node of a `prepare`d program at `sizes` (Python ints, in order).

    Only a program `check` accepted may be run.

    >>> run(prepare([["size", 0], ["int", 3], ["mul", 0, 1], ["floordiv", 2, 2]]), [2**70 + 1])[-1] == (3 * (2**70 + 1)) // 2
    True
    """
    values: list = []
    append = values.append
    for code, operands in prepared:
        if code == _MUL:
            total = 1
            for ref in operands:
                total *= values[ref]
            append(total)
        elif code == _ADD:
            total = 0
            for ref in operands:
                total += values[ref]
            append(total)
        elif code == _INT:
            append(operands)
        elif code == _SIZE:
            append(sizes[operands])
        elif code == _FLOORDIV:
            append(values[operands[0]] // operands[1])
        elif code == _POW:
            append(values[operands[0]] ** operands[1])
        elif code == _MIN:
            append(min([values[ref] for ref in operands]))
        else:
            append(max([values[ref] for ref in operands]))
    return values

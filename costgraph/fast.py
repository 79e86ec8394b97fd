"""Numeric totals of zoo models without importing sympy: a cache of generated exact Python.

Deriving a model's closed forms needs sympy (about a second to import);
evaluating them does not.  The first time a zoo model's totals are asked for
here, its formulas are derived as usual and written, as plain Python source
(`costgraph.compile`: ``//`` for every floor, integer coefficients only), to
a file in the user's cache directory.  Later processes load that file and
evaluate it with Python ints: exact at any size, in a few milliseconds,
without importing sympy, networkx or numpy.

A cached file is used only if the key stored in it matches the key computed
now: a hash of the content of every costgraph source file and of sympy's
version file, the model's name, its build options and the cache format.
Only models built by costgraph's own code are cached (a model registered
from elsewhere is derived every time, since the key cannot see its source).  So
editing or upgrading costgraph (or sympy) can never make an old file answer;
the file is regenerated.  The body's hash is stored too, and checked, so a
truncated or edited file is regenerated as well.  Hashing ~50 source files
takes milliseconds, so the content hash is itself remembered against the
files' ``stat`` signatures (size, mtime, ctime and inode; the kernel updates
ctime on every write, and it cannot be set by user programs): any change to
a file's content changes its signature, and then the content is hashed again.

Anything unusual (a size name the model does not have, a value that is not a
positive int, a size at which some layer is invalid) is handed to the
symbolic path, `Network.totals`, which raises its own precise error; the
fast path only answers questions whose answer it can vouch for.

The cache directory is ``$COSTGRAPH_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/costgraph``, else ``~/.cache/costgraph``.  If it cannot be
written, formulas are derived in memory every time (correct, just slower).

>>> from costgraph import fast
>>> fast.totals("vgg16", H=224)["params"]          # the seed's VGG16: 138M parameters
138357544

MACs per image at 224 (the seed's table), then twice that for a batch of two:

>>> [row["macs"] for row in fast.sweep("vgg16", [{"H": 224}, {"H": 224, "N": 2}])]
[15470264320, 30940528640]

From the shell (``costgraph totals`` calls the same code)::

    python -m costgraph.fast vgg16 --H 224
    python -m costgraph.fast resnet50 --H 128:512:32 --format csv
    python -m costgraph.fast vgg16 --H 256 --option adaptive_pool=true
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

from .dtypes import dtype_bytes
from .errors import CostGraphError

__all__ = ["totals", "sweep", "grid", "formulas", "cache_dir", "cache_key", "FIELDS", "Formulas"]

#: bump when the layout of a cached file changes
FORMAT = 1

#: the fields of a result row after the sizes, as in `costgraph.Totals.FIELDS`
FIELDS = ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops")
_COMPUTED = ("params", "weights", "biases", "activations", "macs", "flops")

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_LOADED: dict = {}


# -- where, and under which key ---------------------------------------------------------------
def cache_dir() -> str:
    """The directory cached formulas live in (see the module docstring)."""
    explicit = os.environ.get("COSTGRAPH_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "costgraph")


def _source_files() -> list[str]:
    """costgraph's own ``.py`` files (sorted), then sympy's version file."""
    found = []

    def walk(folder):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    walk(entry.path)
            elif entry.name.endswith(".py"):
                found.append(entry.path)

    walk(_PACKAGE)
    found.append(_sympy_release_file())
    return found


def _sympy_release_file() -> str:
    import importlib.util  # finds sympy without importing it

    spec = importlib.util.find_spec("sympy")
    if spec is None or not spec.origin:
        raise CostGraphError("sympy is not installed; costgraph needs it to derive formulas")
    return os.path.join(os.path.dirname(spec.origin), "release.py")


def _signature(paths) -> str:
    lines = []
    for path in paths:
        st = os.stat(path)
        lines.append(f"{path}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ctime_ns}\t{st.st_ino}")
    return "\n".join(lines)


def _sources_hash(directory: str | None) -> str:
    """sha256 of the content of every file `cache_key` depends on.

    Remembered in `directory` against the files' stat signature; recomputed
    whenever any signature differs.
    """
    paths = _source_files()
    signature = _signature(paths)
    remembered = os.path.join(directory, "sources.sig") if directory else None
    if remembered:
        try:
            with open(remembered, encoding="utf-8") as handle:
                stored_signature, _, stored_hash = handle.read().rpartition("\n")
            if stored_signature == signature and len(stored_hash) == 64:
                return stored_hash
        except OSError:
            pass
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            content = handle.read()
        digest.update(f"{os.path.relpath(path, _PACKAGE)}\0{len(content)}\0".encode())
        digest.update(content)
    result = digest.hexdigest()
    # A file written within the last two seconds could still change within
    # the same timestamp tick after we hashed it ("racy git"); remember
    # only signatures that are settled.
    settled = all(os.stat(p).st_ctime < time.time() - 2 for p in paths)
    if remembered and settled and _signature(paths) == signature:
        _write_atomically(remembered, signature + "\n" + result)
    return result


def cache_key(model: str, options: dict | None = None, *, directory: str | None = None) -> str:
    """The key a cached file for `model` built with `options` must carry to be used.

    Raises
    ------
    CostGraphError
        If an option value is not a plain bool, int, float, str or None
        (its text would not identify it).
    """
    options = dict(options or {})
    for name, value in options.items():
        if not isinstance(value, (bool, int, float, str, type(None))):
            raise CostGraphError(f"option {name}={value!r} cannot key the formula cache", value=value)
    text = repr((FORMAT, model, sorted(options.items()), _sources_hash(directory)))
    return hashlib.sha256(text.encode()).hexdigest()


# -- generating and loading ---------------------------------------------------------------------
def generate_source(model: str, options: dict | None = None) -> str:
    """The Python source of `model`'s totals and validity checks (imports sympy to derive them).

    Raises
    ------
    CostGraphError
        If there is no such model, or as building it raises.
    """
    from .compile import RUNTIME, SourceWriter, formulas_source
    from .models import MODELS, build

    net = build(model, **(options or {}))
    defaults = MODELS[model].sizes()
    names = [s.name for s in net.symbols]
    sums = net._symbolic()
    totals_source = formulas_source(names, [sums[f] for f in _COMPUTED], "totals")

    # valid(): every output size >= 1 and every constraint >= 0, each distinct formula once
    exprs, spans = net._checks()
    least = {}
    for _, start, rank, n_constraints in spans:
        for offset in range(rank + n_constraints):
            expr = exprs[start + offset]
            bound = 1 if offset < rank else 0
            least[expr] = max(least.get(expr, bound), bound)
    printer = SourceWriter(hoist=True)
    groups: dict = {1: [], 0: []}
    always_invalid = False
    for expr, bound in least.items():
        if expr.is_Integer:
            always_invalid |= int(expr) < bound
        else:
            groups[bound].append(printer.text(expr))
    tests = [f"min(({', '.join(items)},)) >= {bound}" for bound, items in groups.items() if items]
    if always_invalid:
        tests = ["False"]
    body = "".join(f"    {line}\n" for line in printer.lines)
    valid_source = f"def valid({', '.join(names)}):\n{body}    return {' and '.join(tests) or 'True'}\n"
    assert set(RUNTIME) == {"_min", "_max", "_sum"}  # the names `_RUNTIME_SOURCE` defines
    return (
        f"MODEL = {model!r}\nOPTIONS = {dict(options or {})!r}\nSIZES = {tuple(names)!r}\nDEFAULTS = {defaults!r}\n"
        f"FIELDS = {_COMPUTED!r}\n\n{_RUNTIME_SOURCE}\n{totals_source}\n{valid_source}"
    )


# the helpers generated code calls, as source, so a cached file needs no import
_RUNTIME_SOURCE = '''def _min(a, b):
    return a if a <= b else b


def _max(a, b):
    return a if a >= b else b


def _sum(terms):
    result = 0
    for term in terms:
        result = result + term
    return result
'''


def _header(key: str, body: str) -> str:
    return f"# costgraph formula cache (generated; edits are detected and discarded)\n# key {key}\n# body {hashlib.sha256(body.encode()).hexdigest()}\n"


def _read_cached(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    lines = text.split("\n", 3)
    if len(lines) < 4 or lines[1] != f"# key {key}":
        return None
    body = lines[3]
    if lines[2] != f"# body {hashlib.sha256(body.encode()).hexdigest()}":
        return None
    return body


def _write_atomically(path: str, text: str) -> bool:
    import tempfile  # only when writing: reading the cache stays cheap

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
        return True
    except OSError:
        return False


class Formulas:
    """A zoo model's compiled totals: ``valid(*sizes)`` and ``totals(*sizes)``, sizes in `sizes` order.

    Attributes
    ----------
    model : str
    options : dict
    sizes : tuple of str
        The size names the functions take, in order (e.g. ``("H", "W", "N")``).
    defaults : dict
        The sizes the model is usually quoted at (its zoo entry's), used
        when no size is given.
    source : str
        The generated Python source.
    from_cache : bool
        Whether the source was read from the cache (else derived in this process).
    """

    def __init__(self, model: str, options: dict, source: str, from_cache: bool):
        namespace: dict = {}
        exec(compile(source, f"<costgraph formulas {model}>", "exec"), namespace)  # noqa: S102 (generated by us, hash-checked)
        self.model, self.options, self.source, self.from_cache = model, dict(options), source, from_cache
        self.sizes = namespace["SIZES"]
        self.defaults = namespace["DEFAULTS"]
        self.valid = namespace["valid"]
        self.compute = namespace["totals"]

    def row(self, sizes: dict, dtype: str = "fp32") -> dict:
        """One result row (sizes, then `FIELDS`) at `sizes` (`defaults` if empty).

        Raises
        ------
        UnknownSizeError, SizeError, DomainError
            As `costgraph.Network.totals` raises (it is asked when the fast
            path cannot vouch for an answer).
        """
        element = dtype_bytes(dtype)
        sizes = sizes or self.defaults
        values = _plain_sizes(self.sizes, sizes)
        if values is None or not self.valid(*values):
            return _symbolic_row(self.model, self.options, sizes, dtype)
        computed = dict(zip(_COMPUTED, self.compute(*values)))
        computed["activation_bytes"] = computed["activations"] * element
        return {**dict(zip(self.sizes, values)), **{f: computed[f] for f in FIELDS}}


def _plain_sizes(names, sizes: dict):
    """Size values in `names` order if `sizes` is an ordinary request, else None.

    Mirrors `costgraph.symbols.resolve_sizes` on its happy path only (W
    defaults to H, N to 1, every value a positive int); everything else is
    left to it, so that its errors are the only ones.
    """
    if not set(sizes) <= set(names):
        return None
    values = dict(sizes)
    if "W" in names and "W" not in values and "H" in values:
        values["W"] = values["H"]
    if "N" in names and "N" not in values:
        values["N"] = 1
    result = []
    for name in names:
        value = values.get(name)
        if type(value) is not int or value < 1:
            return None
        result.append(value)
    return result


def _symbolic_row(model: str, options: dict, sizes: dict, dtype: str) -> dict:
    from .models import build

    totals = build(model, **options).totals(dtype=dtype, **sizes)
    return {**totals.sizes, **totals.as_dict()}


def formulas(model: str, options: dict | None = None) -> Formulas:
    """`model`'s compiled formulas: from this process, the cache, or derived (and cached).

    Raises
    ------
    CostGraphError
        If there is no such model, or an option cannot key the cache.
    """
    options = dict(options or {})
    directory = cache_dir()
    key = cache_key(model, options, directory=directory)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    path = os.path.join(directory, f"{_file_name(model)}-{key[:20]}.py")
    body = _read_cached(path, key)
    from_cache = body is not None
    cacheable = from_cache
    if body is None:
        body = generate_source(model, options)
        cacheable = _in_package(model)
        if cacheable:
            _write_atomically(path, _header(key, body) + body)
    loaded = Formulas(model, options, body, from_cache)
    if cacheable:
        _LOADED[key] = loaded
    return loaded


def _in_package(model: str) -> bool:
    """Whether `model`'s builder is costgraph's own code, which the cache key covers.

    A model registered from another package (a user's own) is derived in
    memory every time: the key cannot see its source change.
    """
    from .models import MODELS

    return MODELS[model].builder.__module__.startswith(__name__.rpartition(".")[0] + ".")


def _file_name(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model)


# -- the public functions ---------------------------------------------------------------------------
def totals(model: str, *, dtype: str = "fp32", options: dict | None = None, **sizes) -> dict:
    """Totals of zoo model `model` at `sizes`, exact ints: ``{size: value, ..., field: count}``.

    Same numbers as ``costgraph.models.build(model, **options).totals(**sizes)``;
    with no sizes, at the model's usual ones (``MODELS[model].sizes()``).

    Raises
    ------
    CostGraphError
        As `formulas` raises, and as `costgraph.Network.totals` raises.
    """
    return formulas(model, options).row(sizes, dtype)


def sweep(model: str, points, *, dtype: str = "fp32", options: dict | None = None) -> list[dict]:
    """`totals` at each of `points` (dicts of sizes), one row each, in order.

    Raises
    ------
    CostGraphError
        As `totals` raises, at the first invalid point.
    """
    compiled = formulas(model, options)
    return [compiled.row(point, dtype) for point in points]


def grid(model: str, axes: dict, *, options: dict | None = None, dtype: str = "fp32") -> list[dict]:
    """Rows at every combination of the values in `axes` (``{"H": [224, 256], "N": [1]}``).

    Sizes not in `axes` take the model's usual values; ``H`` without ``W``
    means a square input, as in `costgraph.Network.totals`.  The first axis
    varies slowest.

    Raises
    ------
    CostGraphError
        As `totals` raises, at the first invalid point.

    Examples
    --------
    >>> [(r["H"], r["W"], r["N"]) for r in grid("vgg16", {"H": [224, 256], "N": [1, 2]})]
    [(224, 224, 1), (224, 224, 2), (256, 256, 1), (256, 256, 2)]
    """
    import itertools

    compiled = formulas(model, options)
    axes = {name: list(values) for name, values in axes.items()}
    for name, values in axes.items():
        if not values:
            raise CostGraphError(f"size {name} has no values", value=name)
    full = {name: [value] for name, value in compiled.defaults.items()}
    if "H" in axes and "W" not in axes:
        full.pop("W", None)
    full.update(axes)
    points = [dict(zip(full, combo)) for combo in itertools.product(*full.values())]
    return [compiled.row(point, dtype) for point in points]


# -- command line ---------------------------------------------------------------------------------
def main(argv=None) -> int:
    """``python -m costgraph.fast MODEL [--H 224] [--W ...] [--batch ...] [--format text|csv|json]``.

    Sizes take the forms of `costgraph.size_ranges.parse_values` (``224``,
    ``224,256``, ``128:512:32``); several values make a sweep over every
    combination.  Errors are one line on stderr and exit status 2.
    """
    import argparse

    from .size_ranges import SizeSpecError, parse_values  # not from the command line above: no cycle

    parser = argparse.ArgumentParser(prog="costgraph totals", description="Exact totals of a zoo model, from cached formulas.")
    parser.add_argument("model")
    parser.add_argument("--H", type=parse_values)
    parser.add_argument("--W", type=parse_values)
    parser.add_argument("--batch", "-N", dest="N", type=parse_values)
    parser.add_argument("--size", action="append", default=[], metavar="NAME=VALUES", help="another size, e.g. S=128:1024:128")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a build option, e.g. adaptive_pool=true")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--format", choices=("text", "csv", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        given = {name: getattr(args, name) for name in ("H", "W", "N") if getattr(args, name) is not None}
        for item in args.size:
            name, _, values = item.partition("=")
            given[name.strip()] = parse_values(values)
        options = dict(_option(item) for item in args.option)
        rows = grid(args.model, given, options=options, dtype=args.dtype)
    except (CostGraphError, argparse.ArgumentTypeError, SizeSpecError) as error:
        print(f"costgraph: error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(format_rows(rows, args.format))
    return 0


def _option(text: str) -> tuple:
    """``NAME=VALUE`` as (name, value): true/false as bools, integers as ints, else the text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise CostGraphError(f"--option {text!r} is not NAME=VALUE", value=text)
    value = value.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
        return name.strip(), lowered == "true"
    try:
        return name.strip(), int(value)
    except ValueError:
        return name.strip(), value


def format_rows(rows: list[dict], form: str = "text") -> str:
    """Rows as aligned text, CSV or JSON (exact integers in every form).

    >>> print(format_rows([{"H": 1, "params": 1234567}], "csv"), end="")
    H,params
    1,1234567
    """
    if not rows:
        return ""
    columns = list(rows[0])
    if form == "json":
        import json

        return json.dumps(rows, indent=1) + "\n"
    if form == "csv":
        return "".join(",".join(str(row[c]) for c in columns) + "\n" for row in [dict(zip(columns, columns))] + rows)
    cells = [columns] + [[f"{row[c]:,}" if c in FIELDS else str(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) + "\n" for line in cells)


if __name__ == "__main__":
    sys.exit(main())

"""Numeric totals of zoo models without importing sympy: a cache of formulas stored as data.

Deriving a model's closed forms needs sympy (about a second to import);
evaluating them does not.  The first time a zoo model's totals are asked for
here, its formulas are derived as usual and written to a file in the user's
cache directory, as a *program of integer operations held in JSON*
(`costgraph.formula_program`: integer literals, sizes by position, add, mul,
pow, floordiv, min, max).  Later processes read that file, check it, and run
it with an evaluator of our own on Python ints: exact at any size, in a few
milliseconds, without importing sympy, networkx or numpy.  Nothing in the
file is ever executed or imported: it is data.

Why a file can be trusted as far as it is:

- It is only a cache.  Whatever is wrong with it (unreadable, truncated,
  random bytes, the wrong form, a float, an unknown operation, a reference
  out of range, numbers too large, a key for another model or another
  version of costgraph, a damaged body), it is rejected and the formulas are
  derived again and the file rewritten.  `costgraph.formula_program.check`
  is what makes a file safe to evaluate: it accepts integers and the seven
  operations only, and bounds the degree and coefficient size of every
  node, so the worst a file can do is be rejected.
- Its key binds it to the question: a hash of the content of every
  costgraph source file and of sympy's version file, the model's name, its
  build options and the format.  Editing or upgrading costgraph (or sympy)
  can never make an old file answer.  The sha256 of the body is stored and
  checked too; it detects accidental damage (a truncated write, a flipped
  digit), NOT tampering: anyone who can write the file can recompute it.
- Who can write it: like ssh with its keys, the cache directory and every
  file read from it must belong to the current user and be writable by no
  one else (group or world), and the directories above it must be writable
  only by their owner (root or the user) unless sticky, as ``/tmp`` is.  A
  cache that fails this is not used at all (with a `CacheWarning` saying
  why): formulas are derived in memory, correct but slower.  Files are
  opened without following symlinks and without blocking (a FIFO is refused,
  not waited on), must be regular files, and are read only up to a size cap.

What that leaves (the threat model): another user cannot make costgraph run
code or print a wrong number, because costgraph will not read what they can
write.  The current user, or a program running as them, can write a
well-formed file with wrong integers and a recomputed checksum and get
those integers printed; such a writer could equally edit costgraph's own
source, so no check inside costgraph could stop them.

Only models built by costgraph's own code are cached (a model registered
from elsewhere is derived every time, since the key cannot see its source).
Hashing ~50 source files takes milliseconds, so the content hash is itself
remembered against the files' ``stat`` signatures (size, mtime, ctime and
inode; the kernel updates ctime on every write, and it cannot be set by user
programs): any change to a file's content changes its signature, and then
the content is hashed again.

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
import stat
import sys
import time

from . import formula_program
from .dtypes import dtype_bytes
from .errors import CostGraphError

__all__ = ["totals", "sweep", "grid", "formulas", "cache_dir", "cache_key", "FIELDS", "Formulas", "CacheWarning", "cache_problem"]

#: bump when the layout of a cached file changes (1: Python source, until issue 12)
FORMAT = 2

#: the fields of a result row after the sizes, as in `costgraph.Totals.FIELDS`
FIELDS = ("params", "weights", "biases", "activations", "activation_bytes", "macs", "flops")
_COMPUTED = ("params", "weights", "biases", "activations", "macs", "flops")

#: largest cache file read (the biggest zoo model's is well under a megabyte)
MAX_FILE_BYTES = 64 * 2**20
#: largest first line (the header) of a cache file
MAX_HEADER_BYTES = 64 * 2**10
#: most sizes a cached model may take
MAX_SIZES = 64

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_LOADED: dict = {}
_WARNED: set = set()


class CacheWarning(UserWarning):
    """The formula cache is not used (a folder others can write, for instance); totals are derived instead."""


# -- where, and under which key ---------------------------------------------------------------
def cache_dir() -> str:
    """The directory cached formulas live in (see the module docstring)."""
    explicit = os.environ.get("COSTGRAPH_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "costgraph")


def _writable_by_others(st) -> bool:
    return bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def cache_problem(directory: str) -> str | None:
    """Why `directory` must not be used as the formula cache, or None if it may.

    As ssh checks ``~/.ssh``: the directory must be the current user's and
    writable by no one else; each directory above it must belong to root or
    the user and be writable only by its owner, unless it has the sticky bit
    (``/tmp``), which stops others from renaming what they do not own.  A
    directory that does not exist yet is no problem (it is created private).
    Where the platform has no user ids (Windows), nothing is checked.

    Examples
    --------
    >>> import os, tempfile
    >>> private = tempfile.mkdtemp()                  # mode 0o700
    >>> cache_problem(private) is None
    True
    >>> os.chmod(private, 0o777)
    >>> cache_problem(private).endswith("is writable by other users")
    True
    """
    if not hasattr(os, "geteuid"):
        return None
    user = os.geteuid()
    path = os.path.realpath(directory)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None  # nothing to read; created private when written, if it can be
    except OSError as error:
        return f"{path} cannot be examined ({error.strerror})"
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            return f"{path} is not a directory"
        if st.st_uid != user:
            return f"{path} belongs to another user (uid {st.st_uid})"
        if _writable_by_others(st):
            return f"{path} is writable by other users"
    parent = path
    while True:
        parent, child = os.path.split(parent)
        if not child:
            return None
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as error:
            return f"{parent} cannot be examined ({error.strerror})"
        if st.st_uid not in (0, user):
            return f"{parent}, above the cache, belongs to another user (uid {st.st_uid})"
        if _writable_by_others(st) and not st.st_mode & stat.S_ISVTX:
            return f"{parent}, above the cache, is writable by other users and not sticky"


def _read_private(path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of `path` if it is a regular file of the user's, writable by no one else, at most `limit` bytes; else None.

    Opened without following a symlink and without blocking, then examined
    (``fstat``) before a byte is read: a FIFO, a device, ``/dev/zero``
    behind a link, another user's file, or a huge one is refused unread.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(descriptor)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or _writable_by_others(st)):
            return None
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 2**20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(descriptor)


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
        data = _read_private(remembered)
        try:
            stored_signature, _, stored_hash = (data or b"").decode("utf-8").rpartition("\n")
        except UnicodeDecodeError:
            stored_signature = stored_hash = ""
        if data and stored_signature == signature and len(stored_hash) == 64 and all(c in "0123456789abcdef" for c in stored_hash):
            return stored_hash
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
        from .formula_writer import write_atomically

        write_atomically(remembered, signature + "\n" + result)
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


# -- loading the program (deriving and writing it: costgraph.formula_writer) -------------------
def _parse_cached(data: bytes, key: str, model: str, options: dict) -> dict | None:
    """The parsed body of a cache file's bytes, or None if its header or its JSON is not as we write it."""
    import json

    newline = data.find(b"\n", 0, MAX_HEADER_BYTES)
    if newline < 0:
        return None
    body = data[newline + 1 :]
    try:
        header = json.loads(data[:newline])
        if type(header) is not dict or header.get("costgraph formula cache") != FORMAT or header.get("key") != key:
            return None
        if header.get("model") != model or header.get("options") != options:
            return None
        if header.get("body_sha256") != hashlib.sha256(body).hexdigest():
            return None
        return json.loads(body)  # checked by `Formulas`
    except (ValueError, RecursionError):  # ValueError: bad JSON, bad UTF-8, huge ints
        return None


def check_body(body, limits=formula_program.Limits) -> None:
    """Accept the body of a cache file (see `costgraph.formula_writer.generate_program`), or raise `ProgramError` saying why.

    Raises
    ------
    costgraph.formula_program.ProgramError
        For anything not as `costgraph.formula_writer.generate_program` writes it: sizes that are not
        distinct identifiers, defaults that are not positive ints of those
        sizes, other fields, references out of range, or a program that
        `costgraph.formula_program.check` refuses under `limits`.

    Examples
    --------
    >>> body = {"sizes": ["H"], "defaults": {"H": 224}, "fields": list(_COMPUTED), "nodes": [["size", 0]],
    ...         "totals": [0] * 6, "at_least_one": [0], "non_negative": []}
    >>> check_body(body)
    >>> check_body({**body, "sizes": ["__import__('os')"]})
    Traceback (most recent call last):
    ...
    costgraph.formula_program.ProgramError: a size name is not an identifier
    """
    error = formula_program.ProgramError
    if type(body) is not dict or set(body) != {"sizes", "defaults", "fields", "nodes", "totals", "at_least_one", "non_negative"}:
        raise error("not a cache body")
    sizes = body["sizes"]
    if type(sizes) is not list or len(sizes) > MAX_SIZES or len(set(map(repr, sizes))) != len(sizes):
        raise error("sizes are not a list of distinct names")
    if not all(type(s) is str and s.isidentifier() for s in sizes):
        raise error("a size name is not an identifier")
    defaults = body["defaults"]
    if type(defaults) is not dict or not set(defaults) <= set(sizes):
        raise error("defaults are not sizes of the model")
    if not all(type(v) is int and 1 <= v < 2**64 for v in defaults.values()):
        raise error("a default size is not a positive integer")
    if body["fields"] != list(_COMPUTED):
        raise error(f"fields are not {list(_COMPUTED)}")
    nodes = body["nodes"]
    formula_program.check(nodes, len(sizes), limits)
    for name in ("totals", "at_least_one", "non_negative"):
        refs = body[name]
        if type(refs) is not list or not all(type(r) is int and 0 <= r < len(nodes) for r in refs):
            raise error(f"{name} are not nodes of the program")
    if len(body["totals"]) != len(_COMPUTED):
        raise error(f"totals are not {len(_COMPUTED)} nodes")


class Formulas:
    """A zoo model's checked program: its totals and validity checks, at sizes in `sizes` order.

    Attributes
    ----------
    model : str
    options : dict
    sizes : tuple of str
        The size names the program takes, in order (e.g. ``("H", "W", "N")``).
    defaults : dict
        The sizes the model is usually quoted at (its zoo entry's), used
        when no size is given.
    program : dict
        The body of the cache file (see `costgraph.formula_writer.generate_program`), checked.
    from_cache : bool
        Whether the program was read from the cache (else derived in this process).

    Raises
    ------
    costgraph.formula_program.ProgramError
        If `program` is not one `check_body` accepts.
    """

    def __init__(self, model: str, options: dict, program: dict, from_cache: bool, limits=formula_program.Limits):
        check_body(program, limits)
        self.model, self.options, self.program, self.from_cache = model, dict(options), program, from_cache
        self.sizes = tuple(program["sizes"])
        self.defaults = dict(program["defaults"])
        self._prepared = formula_program.prepare(program["nodes"])
        self._totals = program["totals"]
        self._at_least_one = program["at_least_one"]
        self._non_negative = program["non_negative"]

    @classmethod
    def from_file_bytes(cls, data: bytes, key: str, model: str, options: dict):
        """The `Formulas` a cache file's bytes hold for `model`, `options` under `key`, or None.

        None for anything that is not exactly as `formulas` writes it (see
        the module docstring); never raises for any bytes.
        """
        program = _parse_cached(data, key, model, options)
        if program is None:
            return None
        try:
            return cls(model, options, program, from_cache=True)
        except formula_program.ProgramError:
            return None

    def valid(self, *values) -> bool:
        """Whether every layer is valid at these sizes (positive ints, in `sizes` order)."""
        return self._valid(formula_program.run(self._prepared, values))

    def _valid(self, computed) -> bool:
        return all(computed[r] >= 1 for r in self._at_least_one) and all(computed[r] >= 0 for r in self._non_negative)

    def compute(self, *values) -> tuple:
        """The `_COMPUTED` fields at these sizes (positive ints, in `sizes` order), valid or not."""
        computed = formula_program.run(self._prepared, values)
        return tuple(computed[r] for r in self._totals)

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
        if values is None:
            return _symbolic_row(self.model, self.options, sizes, dtype)
        computed = formula_program.run(self._prepared, values)
        if not self._valid(computed):
            return _symbolic_row(self.model, self.options, sizes, dtype)
        result = dict(zip(_COMPUTED, (computed[r] for r in self._totals)))
        result["activation_bytes"] = result["activations"] * element
        return {**dict(zip(self.sizes, values)), **{f: result[f] for f in FIELDS}}


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


def _usable_cache(directory: str) -> str | None:
    """`directory` if it may hold the cache, else None (warning once per directory why not)."""
    problem = cache_problem(directory)
    if problem is None:
        return directory
    if directory not in _WARNED:
        import warnings

        _WARNED.add(directory)
        warnings.warn(f"costgraph: not using the formula cache: {problem}; deriving formulas instead (slower)", CacheWarning, stacklevel=3)
    return None


def formulas(model: str, options: dict | None = None) -> Formulas:
    """`model`'s checked formulas: from this process, the cache, or derived (and cached).

    A cache file is used only if it passes every check in the module
    docstring; otherwise the formulas are derived again and the file is
    rewritten.

    Raises
    ------
    CostGraphError
        If there is no such model, or an option cannot key the cache.

    Warns
    -----
    CacheWarning
        If the cache directory may be written by other users (then it is
        neither read nor written).
    """
    options = dict(options or {})
    directory = _usable_cache(cache_dir())
    key = cache_key(model, options, directory=directory)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    path = os.path.join(directory, f"{_file_name(model)}-{key[:20]}.json") if directory else None
    data = _read_private(path) if path else None
    loaded = Formulas.from_file_bytes(data, key, model, options) if data is not None else None
    cacheable = loaded is not None
    if loaded is None:
        from .formula_writer import dumps, file_bytes, generate_program, write_atomically

        program = generate_program(model, options)
        cacheable = _in_package(model)
        # derived here, so only its form is checked; a program past the limits a file
        # must meet (none of the zoo's comes near) is used but not written
        loaded = Formulas(model, options, program, from_cache=False, limits=formula_program.Unbounded)
        if cacheable and path and _within_limits(program):
            write_atomically(path, file_bytes(key, model, options, dumps(program)))
    if cacheable:
        _LOADED[key] = loaded
    return loaded


def _within_limits(program: dict) -> bool:
    try:
        check_body(program)
    except formula_program.ProgramError:
        return False
    return True


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

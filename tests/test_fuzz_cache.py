"""Fuzzing the formula cache: whatever a cache file holds, it is refused or it yields integers.

The threat model (see `costgraph.fast`): a file that is not exactly as
costgraph writes it is rejected and the formulas derived again; nothing in a
file is ever run as code; a well-formed file with wrong integers and a
recomputed checksum (which only the user, or a program running as the user,
can write) can make costgraph print wrong integers, never anything else.

Sources of truth: the seed's VGG16 (138,357,544 parameters and 15,470,264,320
MACs at 224) for every answer that must be right; the type ``int`` for every
answer of a file that was accepted.
"""

import hashlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from costgraph import fast
from costgraph.formula_program import ProgramError, check, prepare, run

SEED_PARAMS, SEED_MACS = 138357544, 15470264320
MODEL, OPTIONS = "vgg16", {}
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    """The key and the bytes of the cache file costgraph writes for VGG16."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COSTGRAPH_CACHE_DIR", str(cache))
        patch.setattr(fast, "_LOADED", {})
        fast.formulas(MODEL)
        key = fast.cache_key(MODEL, OPTIONS, directory=str(cache))
    (path,) = cache.glob("vgg16-*")
    data = path.read_bytes()
    loaded = fast.Formulas.from_file_bytes(data, key, MODEL, OPTIONS)
    assert loaded is not None and loaded.row({"H": 224})["params"] == SEED_PARAMS
    return key, data


def split(data):
    header, _, body = data.partition(b"\n")
    return json.loads(header), json.loads(body)


def join(header, body, *, recompute_checksum=True):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    if recompute_checksum:
        header = {**header, "body_sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(header).encode() + b"\n" + body


def outcome(key, data):
    """None if refused; else the fields at a few sizes, each asserted an int."""
    loaded = fast.Formulas.from_file_bytes(data, key, MODEL, OPTIONS)
    if loaded is None:
        return None
    rows = []
    for values in ((224, 224, 1), (1, 1, 1), (2**40, 3, 7)):
        values = values[: len(loaded.sizes)] + (1,) * max(0, len(loaded.sizes) - 3)
        assert isinstance(loaded.valid(*values), bool)
        row = loaded.compute(*values)
        assert len(row) == len(fast._COMPUTED) and all(type(v) is int for v in row), row
        rows.append(row)
    return rows


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_are_refused(genuine, data):
    key, _ = genuine
    assert outcome(key, data) is None


@FUZZ
@given(st.data())
def test_truncated_files_are_refused(genuine, data):
    key, full = genuine
    cut = data.draw(st.integers(0, len(full) - 1))
    assert outcome(key, full[:cut]) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(_json)
def test_any_json_body_with_a_good_checksum_is_refused(genuine, body):
    key, full = genuine
    header, _ = split(full)
    assert outcome(key, join(header, body)) is None  # nothing random has the body's exact form


_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["exec", "eval", "__import__", "div", "truediv", "sqrt", "import os"]),
    st.integers(-(2**70), 2**70),
    st.just(10**1000),
    st.lists(st.integers(-3, 200), max_size=4),
)


@FUZZ
@given(st.data())
def test_one_changed_value_is_refused_or_integer(genuine, data):
    # One value anywhere in the body replaced.  With the stored checksum left as it is the
    # file is always refused; with the checksum recomputed (an attacker writing as the user)
    # it is refused or it yields integers, and nothing runs.
    key, full = genuine
    header, body = split(full)
    section = data.draw(st.sampled_from(["nodes", "totals", "at_least_one", "non_negative", "sizes", "defaults", "fields"]))
    target = body[section]
    if isinstance(target, dict):
        name = data.draw(st.sampled_from(sorted(target) + ["X"]))
        target[name] = data.draw(_ODD)
    elif section == "nodes":
        node = target[data.draw(st.integers(0, len(target) - 1))]
        position = data.draw(st.integers(0, len(node)))
        value = data.draw(_ODD)
        if position == len(node):
            node.append(value)
        else:
            node[position] = value
    else:
        target[data.draw(st.integers(0, len(target) - 1))] = data.draw(_ODD)
    changed = json.dumps(body).encode()
    if changed == split(full)[1]:
        return
    assert outcome(key, join(header, changed, recompute_checksum=False)) is None
    outcome(key, join(header, changed))  # asserts integers when accepted


def test_a_changed_number_with_a_recomputed_checksum_gives_integers_only(genuine):
    # The limit of what validation can do, stated as a test: VGG16's constant
    # parameter term (35,597,096, see test_fast) changed by one, checksum recomputed.
    key, full = genuine
    header, body = split(full)
    (index,) = [i for i, node in enumerate(body["nodes"]) if node == ["int", 35597096]]
    body["nodes"][index] = ["int", 35597097]
    rows = outcome(key, join(header, body))
    assert rows[0][0] == SEED_PARAMS + 1  # accepted: an integer, off by the planted one
    body["nodes"][index] = ["int", 35597096.5]
    assert outcome(key, join(header, body)) is None  # but never a float


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 100_000,  # nesting deeper than the JSON parser's recursion
        b"[[\"int\", " + b"9" * 5000 + b"]]",  # an integer literal past Python's digit limit
        b"{\"sizes\": 1e999}",
        b"\xff\xfe\x00\x01",  # not UTF-8
    ],
)
def test_pathological_bodies_are_refused(genuine, text):
    key, full = genuine
    header, _ = split(full)
    assert outcome(key, join(header, text)) is None


def test_header_must_match_the_question(genuine):
    key, full = genuine
    header, body = split(full)
    assert outcome(key, full) is not None
    for change in ({"key": "0" * 64}, {"model": "vgg19"}, {"options": {"adaptive_pool": True}}, {"costgraph formula cache": 1}):
        assert outcome(key, join({**header, **change}, body)) is None, change
    assert fast.Formulas.from_file_bytes(full, key, "vgg19", OPTIONS) is None


# -- the program checker on its own --------------------------------------------------------------
_operands = st.lists(st.integers(-2, 12), min_size=0, max_size=4)
_node = st.one_of(
    st.tuples(st.sampled_from(["add", "mul", "min", "max", "pow", "floordiv", "int", "size", "sub", "exec"]), _operands).map(
        lambda t: [t[0], *t[1]]
    ),
    _json,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_node, max_size=14), st.lists(st.integers(1, 2**64), min_size=2, max_size=2))
def test_random_programs_are_refused_or_run_on_integers(nodes, sizes):
    try:
        check(nodes, n_sizes=2)
    except ProgramError:
        return
    started = time.perf_counter()
    values = run(prepare(nodes), sizes)
    assert len(values) == len(nodes) and all(type(v) is int for v in values)
    assert time.perf_counter() - started < 1


def test_a_program_cannot_grow_numbers_without_bound():
    # sixty squarings of a size would have 2**60 times its digits: the degree limit refuses it
    squarings = [["size", 0]] + [["mul", i, i] for i in range(60)]
    with pytest.raises(ProgramError, match="degree"):
        check(squarings, n_sizes=1)
    literal_squarings = [["int", 3]] + [["pow", i, 2] for i in range(40)]
    with pytest.raises(ProgramError, match="bits"):
        check(literal_squarings, n_sizes=0)

"""The sympy-free numeric path (`costgraph.fast`) and its cache of generated formulas.

Source of truth: `Network.totals` (the symbolic path, itself checked against the
seed and PyTorch elsewhere), and its errors.  The fast path must give the same
numbers and raise the same errors, and a cached file must never answer once
anything it was derived from has changed.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import costgraph
from costgraph import CostGraphError, DomainError, SizeError, UnknownSizeError, fast
from costgraph.models import MODELS, build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fast, "_LOADED", {})
    return tmp_path / "cache"


def symbolic_row(model, dtype="fp32", **sizes):
    totals = build(model).totals(dtype=dtype, **sizes)
    return {**totals.sizes, **totals.as_dict()}


def test_every_zoo_model_matches_the_symbolic_path():
    for name, info in sorted(MODELS.items()):
        assert fast.totals(name) == symbolic_row(name, **info.sizes()), name


def test_sizes_dtype_and_batch():
    assert fast.totals("resnet50", H=320, W=192, N=3, dtype="bf16") == symbolic_row(
        "resnet50", dtype="bf16", H=320, W=192, N=3
    )
    points = [{"H": h, "N": n} for h in (32, 224, 2**70) for n in (1, 5)]
    assert fast.sweep("vgg16", points) == [symbolic_row("vgg16", **p) for p in points]


def test_the_sweep_rows_of_the_renderer():
    # the same rows as `costgraph.render.sweep.sweep` (what `costgraph sweep` prints)
    from costgraph.render import sweep
    rows = sweep.sweep(build("vgg16"), {"H": [64, 224]})
    assert fast.sweep("vgg16", [{"H": 64}, {"H": 224}]) == rows


def test_second_load_comes_from_the_cache(private_cache):
    first = fast.formulas("vgg16")
    assert not first.from_cache
    assert len(list(private_cache.glob("vgg16-*.json"))) == 1
    fast._LOADED.clear()
    second = fast.formulas("vgg16")
    assert second.from_cache and second.program == first.program
    assert second.row({"H": 224})["params"] == 138357544  # the seed's VGG16 total


@pytest.mark.parametrize(
    "sizes, error",
    [({"H": 31}, DomainError), ({"H": 0}, SizeError), ({"H": True}, SizeError), ({"H": 224.0}, SizeError), ({"X": 3, "H": 224}, UnknownSizeError), ({"N": 2}, UnknownSizeError)],
)
def test_errors_are_the_symbolic_paths(sizes, error):
    with pytest.raises(error) as expected:
        build("vgg16").totals(**sizes)
    with pytest.raises(error) as got:
        fast.totals("vgg16", **sizes)
    assert str(got.value) == str(expected.value)


def test_unknown_model_and_dtype():
    with pytest.raises(CostGraphError, match="unknown model 'vgg17'"):
        fast.totals("vgg17", H=224)
    with pytest.raises(CostGraphError, match="unknown dtype"):
        fast.totals("vgg16", H=224, dtype="fp7")


_values = st.one_of(st.integers(-3, 300), st.booleans(), st.just(224.0), st.just("224"))


@settings(max_examples=30)
@given(st.dictionaries(st.sampled_from(["H", "W", "N", "S"]), _values, max_size=3))
def test_any_request_answers_or_fails_like_the_symbolic_path(sizes):
    net = build("vgg16")
    try:
        expected = net.totals(**sizes)
    except CostGraphError as error:
        with pytest.raises(type(error), match="^" + __import__("re").escape(str(error)) + "$"):
            fast.formulas("vgg16").row(sizes)
        return
    if not sizes:
        return  # symbolic totals; the fast path answers at the default size instead
    assert fast.formulas("vgg16").row(sizes) == {**expected.sizes, **expected.as_dict()}


def test_numpy_integers_take_the_symbolic_path():
    np = pytest.importorskip("numpy")
    assert fast.totals("vgg16", H=np.int64(224)) == fast.totals("vgg16", H=224)


def test_an_edited_cache_file_is_not_used(private_cache):
    fast.formulas("vgg16")
    (path,) = private_cache.glob("vgg16-*.json")
    text = path.read_text()
    # VGG16's parameters: 2097152*floor(H/32)*floor(W/32) + 35597096 (fc1's weights grow
    # with the input, see costgraph.models.vgg); change the constant by one
    assert text.count("35597096") == 1
    path.write_text(text.replace("35597096", "35597097"))
    fast._LOADED.clear()
    again = fast.formulas("vgg16")
    assert not again.from_cache
    assert again.row({"H": 224})["params"] == 138357544
    assert "35597097" not in path.read_text()  # rewritten


def test_a_file_with_another_key_is_not_used(private_cache, monkeypatch):
    fast.formulas("vgg16")
    fast._LOADED.clear()
    # as if costgraph's sources had changed: the key changes, the old file is ignored
    monkeypatch.setattr(fast, "_sources_hash", lambda directory: "0" * 64)
    assert not fast.formulas("vgg16").from_cache
    assert len(list(private_cache.glob("vgg16-*.json"))) == 2


def test_options_key_the_cache():
    # at 256 the seed's VGG16 flattens 8x8 into fc1, torchvision's pools to 7x7 first
    plain = fast.totals("vgg16", H=256)
    adaptive = fast.totals("vgg16", H=256, options={"adaptive_pool": True})
    expected = build("vgg16", adaptive_pool=True).totals(H=256)
    assert adaptive["params"] == expected.params != plain["params"]
    with pytest.raises(CostGraphError, match="cannot key"):
        fast.totals("vgg16", H=224, options={"adaptive_pool": [True]})


def test_unwritable_cache_still_answers(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("COSTGRAPH_CACHE_DIR", str(blocker / "cache"))
    assert fast.totals("vgg16", H=224)["macs"] == 15470264320  # the seed table's MACs total


def test_command_line(capsys):
    assert fast.main(["vgg16", "--H", "224,256", "--batch", "2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "H,W,N,params,weights,biases,activations,activation_bytes,macs,flops"
    expected = symbolic_row("vgg16", H=256, N=2)
    assert lines[2] == ",".join(str(v) for v in expected.values())
    assert fast.main(["vgg16", "--H", "31"]) == 2
    assert "pool5" in capsys.readouterr().err
    assert fast.main(["vgg16", "--H", "256", "--option", "adaptive_pool=true", "--format", "csv"]) == 0
    expected = build("vgg16", adaptive_pool=True).totals(H=256)
    assert capsys.readouterr().out.splitlines()[1].split(",")[3] == str(expected.params)
    assert fast.main(["vgg16", "--option", "adaptive_pool"]) == 2
    assert "not NAME=VALUE" in capsys.readouterr().err
    assert fast.main(["resnet50"]) == 0  # the model's usual size, 224
    assert "4,089,184,256" in capsys.readouterr().out  # torchvision's 4.09 GMACs for ResNet-50


def _run(code, cwd, cache, env_extra=None):
    env = {**os.environ, "COSTGRAPH_CACHE_DIR": str(cache), "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def test_fast_path_imports_no_sympy(private_cache):
    code = """
        import sys
        from costgraph import fast
        row = fast.totals("vgg16", H=224)
        print(row["params"], fast.formulas("vgg16").from_cache, "sympy" in sys.modules, "networkx" in sys.modules)
    """
    assert _run(code, ROOT, private_cache).split() == ["138357544", "False", "True", "True"]  # derives once
    assert _run(code, ROOT, private_cache).split() == ["138357544", "True", "False", "False"]


def test_import_costgraph_is_light():
    code = "import sys, costgraph; print(sorted(m for m in ('sympy', 'networkx', 'numpy') if m in sys.modules))"
    assert _run(code, ROOT, "unused").strip() == "[]"


def test_an_edited_package_invalidates_the_cache(tmp_path):
    # A copy of costgraph whose VGG16 we edit after its formulas were cached: the
    # next process must answer for the edited model.  The edit keeps the file's size
    # and we restore its mtime, so only its content (and ctime) changed.
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "costgraph", copy / "costgraph", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    code = 'from costgraph import fast; r = fast.totals("vgg16", H=224); print(r["params"], fast.formulas("vgg16").from_cache)'
    assert _run(code, copy, cache).split() == ["138357544", "False"]
    assert _run(code, copy, cache).split() == ["138357544", "True"]
    vgg = copy / "costgraph" / "models" / "vgg.py"
    text, stat = vgg.read_text(), vgg.stat()
    edited = text.replace('"fc2", Linear(4096, 4096)', '"fc2", Linear(4096, 4095)').replace(
        '"fc3", Linear(4096, num_classes)', '"fc3", Linear(4095, num_classes)'
    )
    assert edited != text and len(edited) == len(text)
    vgg.write_text(edited)
    os.utime(vgg, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert vgg.stat().st_size == stat.st_size and vgg.stat().st_mtime_ns == stat.st_mtime_ns
    # fc2 loses one output (4096 weights + 1 bias), fc3 one input (1000 weights): 5097 fewer
    assert _run(code, copy, cache).split() == [str(138357544 - 5097), "False"]


def test_remembered_source_hash_follows_every_edit(tmp_path, monkeypatch):
    # The content hash is remembered against each file's (size, mtime, ctime, inode).
    # An edit that keeps the size and restores the mtime still changes the ctime,
    # so the content is hashed again.
    copy = tmp_path / "costgraph"
    shutil.copytree(ROOT / "costgraph", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fast, "_PACKAGE", str(copy))
    real_time = fast.time.time
    monkeypatch.setattr(fast.time, "time", lambda: real_time() + 10)  # files count as settled
    cache = tmp_path / "cache"
    cache.mkdir()
    first = fast._sources_hash(str(cache))
    remembered = cache / "sources.sig"
    signature = remembered.read_text().rpartition("\n")[0]
    # the remembered hash is what is used while no signature changes
    remembered.write_text(signature + "\n" + "f" * 64)
    assert fast._sources_hash(str(cache)) == "f" * 64
    target = copy / "models" / "vgg.py"
    text, stat = target.read_text(), target.stat()
    target.write_text(text.replace("4096, 4096", "4096, 4095", 1))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = fast._sources_hash(str(cache))
    assert again not in ("f" * 64, first)
    target.write_text(text)
    assert fast._sources_hash(str(cache)) == first


def test_costgraph_totals_subcommand(capsys):
    from costgraph.cli import main

    assert main(["totals", "vgg16", "--H", "224,256", "--batch", "2", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == ",".join(str(v) for v in symbolic_row("vgg16", H=256, N=2).values())
    assert main(["totals", "vgg16", "--H", "31"]) == 2
    assert capsys.readouterr().err.startswith("costgraph: error: layer 'pool5'")
    assert main(["totals", "vgg16", "--H", "256", "--option", "adaptive_pool=true", "--format", "json"]) == 0
    assert f'"params": {build("vgg16", adaptive_pool=True).totals(H=256).params}' in capsys.readouterr().out


def test_models_from_outside_the_package_are_not_cached(private_cache, monkeypatch):
    # the key hashes costgraph's sources only: a user's model could change unseen
    from costgraph.models import ModelInfo

    def my_vgg():
        return build("vgg16")

    monkeypatch.setitem(MODELS, "my_vgg", ModelInfo("my_vgg", my_vgg, 224, "a user's model"))
    assert fast.totals("my_vgg", H=224)["params"] == 138357544  # the seed's VGG16
    assert not list(private_cache.glob("my_vgg-*.json"))
    assert not fast._LOADED  # not even in this process: the user may redefine it
    assert not fast.formulas("my_vgg").from_cache


# -- a cache file is data, never code (issue 12, finding 1) ---------------------------------------
# These tests find the cache file by letting costgraph write it first, then replace it, so
# they hold for any file layout; truth for every number: the seed's VGG16 (138,357,544
# parameters, 15,470,264,320 MACs at 224).
SEED_PARAMS, SEED_MACS = 138357544, 15470264320


def written_cache_file(cache):
    fast.formulas("vgg16")
    (path,) = [p for p in cache.glob("vgg16-*")]
    fast._LOADED.clear()
    return path


def assert_seed_answer_not_from_cache():
    again = fast.formulas("vgg16")
    assert not again.from_cache
    row = again.row({"H": 224})
    assert (row["params"], row["macs"]) == (SEED_PARAMS, SEED_MACS)


def test_a_planted_file_with_a_valid_checksum_runs_no_code(private_cache, tmp_path):
    import hashlib

    path = written_cache_file(private_cache)
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('x')\n"
    lines = path.read_text().split("\n", 3)
    if lines[0].startswith("# costgraph formula cache"):
        # the format until issue 12: Python source under a key line and a body hash anyone can recompute
        body = payload + lines[3]
        path.write_text(f"{lines[0]}\n{lines[1]}\n# body {hashlib.sha256(body.encode()).hexdigest()}\n{body}")
    else:
        # the data format: there is no place for code; put it where names and numbers go
        import json

        header_line, body_line = path.read_text().split("\n", 1)
        body = json.loads(body_line)
        body["sizes"][0] = payload
        body["nodes"][0] = ["exec", payload]
        body = json.dumps(body).encode()
        header = json.loads(header_line)
        header["body_sha256"] = hashlib.sha256(body).hexdigest()
        path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert_seed_answer_not_from_cache()
    assert not marker.exists()


def test_only_the_users_private_cache_is_read(private_cache, monkeypatch):
    path = written_cache_file(private_cache)
    # a group-writable file (others could have planted it) is not read, and is rewritten
    os.chmod(path, 0o664)
    assert_seed_answer_not_from_cache()
    assert path.stat().st_mode & 0o077 == 0
    fast._LOADED.clear()
    assert fast.formulas("vgg16").from_cache  # the rewritten file is the user's own
    fast._LOADED.clear()
    # a file of another user's (as if this process ran as uid + 1)
    real_uid = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: real_uid + 1)
    with pytest.warns(fast.CacheWarning, match="belongs to another user"):
        assert_seed_answer_not_from_cache()
    monkeypatch.setattr(os, "geteuid", lambda: real_uid)
    fast._LOADED.clear()
    # a folder others can write: neither read nor written, and the user is told why
    os.chmod(private_cache, 0o777)
    fast._WARNED.clear()
    with pytest.warns(fast.CacheWarning, match="writable by other users"):
        assert_seed_answer_not_from_cache()


def test_cache_problem_checks_the_folders_above(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # not sticky: another user could rename our folder away
    assert "not sticky" in fast.cache_problem(str(shared / "cache"))
    os.chmod(shared, 0o1777)  # sticky, as /tmp
    assert fast.cache_problem(str(shared / "cache")) is None


_RUN_TIMEOUT = 60


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "random_bytes", "truncated", "directory"])
def test_odd_cache_files_are_refused_without_hanging(private_cache, kind):
    # run in a child process, so that a hang (a FIFO opened for reading waits for
    # a writer) or a MemoryError (/dev/zero read whole) fails the test instead of the suite
    code = """
        import os, random, shutil, sys
        from pathlib import Path
        from costgraph import fast
        fast.formulas("vgg16")
        (path,) = Path(os.environ["COSTGRAPH_CACHE_DIR"]).glob("vgg16-*")
        fast._LOADED.clear()
        text = path.read_bytes()
        path.unlink()
        kind = sys.argv[1]
        if kind == "fifo":
            os.mkfifo(path, 0o600)
        elif kind == "dev_zero":
            path.symlink_to("/dev/zero")
        elif kind == "random_bytes":
            path.write_bytes(random.Random(0).randbytes(5000))
        elif kind == "truncated":
            path.write_bytes(text[: len(text) // 2])
        else:
            path.mkdir()
        os.chmod(path, 0o700, follow_symlinks=False) if kind == "directory" else None
        row = fast.totals("vgg16", H=224)
        print(row["params"], row["macs"], fast.formulas("vgg16").from_cache)
    """
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    env = {**os.environ, "COSTGRAPH_CACHE_DIR": str(private_cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), kind], cwd=ROOT, env=env, capture_output=True, text=True, timeout=_RUN_TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(SEED_PARAMS), str(SEED_MACS), "False"]


def test_a_derived_program_past_the_file_limits_is_used_but_not_written(private_cache, monkeypatch):
    # limits bind what a file may hold; a model of our own past them still answers
    # (truth: the seed's VGG16), from formulas derived in the process
    from costgraph import formula_program

    class Tiny(formula_program.Limits):
        nodes = 3

    monkeypatch.setattr(formula_program, "Limits", Tiny)
    monkeypatch.setattr(fast.check_body, "__defaults__", (Tiny,))
    assert fast.totals("vgg16", H=224)["params"] == SEED_PARAMS
    assert not list(private_cache.glob("vgg16-*"))

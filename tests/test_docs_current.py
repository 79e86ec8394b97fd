"""docs/ is current: regenerating it gives the committed files byte for byte, PNGs included.

When a model is added (or a formula or a renderer changes) this test fails
until the docs are regenerated and committed:

    python -m costgraph docs --out docs/

PNG bytes depend on matplotlib's version (its renderer and bundled fonts),
which docs/index.md records; a different version is reported as such.
"""

from __future__ import annotations

import os
import pathlib
import re
import struct
import subprocess
import sys

import pytest

from costgraph.models import MODELS

from .support import require

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REGENERATE = "python -m costgraph docs --out docs/"


def files(root: pathlib.Path) -> dict:
    return {path.relative_to(root).as_posix(): path for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    matplotlib = require("matplotlib")
    index = DOCS / "index.md"
    assert index.exists(), f"docs/ has not been generated: run `{REGENERATE}`"
    recorded = re.search(r"plots with matplotlib ([^)\s]+)", index.read_text(encoding="utf-8"))
    if recorded and recorded.group(1) != matplotlib.__version__:
        message = (
            f"docs/ was generated with matplotlib {recorded.group(1)} but {matplotlib.__version__} is installed; "
            f"install matplotlib=={recorded.group(1)} to check the plots byte for byte (or regenerate with `{REGENERATE}`)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "costgraph", "docs", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_committed_docs_are_current(regenerated):
    committed, fresh = files(DOCS), files(regenerated)
    missing = sorted(set(fresh) - set(committed))
    stale = sorted(set(committed) - set(fresh))
    changed = sorted(name for name in set(fresh) & set(committed) if fresh[name].read_bytes() != committed[name].read_bytes())
    problems = []
    if missing:
        problems.append(f"missing from docs/: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    if stale:
        problems.append(f"no longer generated: {', '.join(stale[:8])}{' ...' if len(stale) > 8 else ''}")
    if changed:
        problems.append(f"differ: {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''}")
    assert not problems, f"docs/ is out of date ({'; '.join(problems)}): run `{REGENERATE}` and commit docs/"


def test_index_links_every_registered_model(regenerated):
    index = (regenerated / "index.md").read_text(encoding="utf-8")
    for name in MODELS:
        assert f"[{name}](models/{name}.md)" in index
        page = (regenerated / "models" / f"{name}.md").read_text(encoding="utf-8")
        assert f"]({name}-layers.png)" in page and f"]({name}-resolution.png)" in page
    assert f"{len(MODELS)} models." in index


def test_vgg16_page_has_the_seed_numbers(regenerated):
    page = (regenerated / "models" / "vgg16.md").read_text(encoding="utf-8")
    # issue 2's exact totals; the seed rounds them to 138M params and 60MB forward
    assert "138,357,544" in page and "15,470,264,320" in page
    assert "memory: forward 61.0 MB" in page and "rule of thumb (the seed's, not the memory model): with backward about 2x" in page
    assert "memory model (CUDA): training keeps 73.2 MB for backward" in page  # the model's figure beside it
    # pool1 writes 64*(224//2)**2 = 802,816 elements (hand): the value in one table, the formula as math in another
    pool1 = [line for line in page.splitlines() if line.startswith("| pool1 ")]
    assert len(pool1) == 2 and "802,816" in pool1[0]
    assert r"$64 N \left\lfloor \frac{H}{2} \right\rfloor \left\lfloor \frac{W}{2} \right\rfloor$" in pool1[1]
    assert "```math\n\\begin{aligned}" in page  # closed forms as GitHub-rendered math


def test_one_unit_convention_and_the_seed_explained(regenerated):
    index = (regenerated / "index.md").read_text(encoding="utf-8")
    llama = next(line for line in index.splitlines() if line.startswith("| [llama2_7b]"))
    # Llama 2 7B: 6,738,415,616 parameters (Hugging Face's LlamaForCausalLM), B for billions
    assert re.search(r"\|\s*6\.7B\s*\|", llama), llama
    assert "CS231n" in index and "bytes in kB, MB, GB" in index
    for path in sorted(regenerated.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        assert "MiB" not in text and "GiB" not in text, path.name


def test_pngs_are_valid_images_of_a_sensible_size(regenerated):
    pngs = sorted((regenerated / "models").glob("*.png"))
    assert len(pngs) == 2 * len(MODELS)
    for path in pngs:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path.name
        width, height = struct.unpack(">II", data[16:24])
        assert 600 <= width <= 1600 and 300 <= height <= 1400, (path.name, width, height)
        assert data.endswith(b"IEND\xaeB`\x82"), path.name
    try:
        from PIL import Image  # an independent decoder, when present (matplotlib depends on it)
    except ImportError:
        return
    for path in pngs[:6]:
        with Image.open(path) as image:
            image.load()
            assert image.size == struct.unpack(">II", path.read_bytes()[16:24])
            assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 8  # drawn, not blank


def test_generation_is_deterministic(tmp_path):
    require("matplotlib")
    from costgraph.docsgen import generate_docs

    first = {p.name: p.read_bytes() for p in generate_docs(tmp_path / "a", models=["vgg11"], jobs=1)}
    second = {p.name: p.read_bytes() for p in generate_docs(tmp_path / "b", models=["vgg11"], jobs=1)}
    assert first == second and set(first) == {"vgg11.md", "vgg11-layers.png", "vgg11-resolution.png"}

"""Zoo builders check their keyword options from the Python API as the command line does.

Before: ``costgraph.models.build("vgg16", bogus=1)`` raised Python's own
``TypeError: vgg() got an unexpected keyword argument 'bogus'`` (neither the
model nor the valid options named), and ``costgraph totals llama3_8b
--option layers=2`` was refused with "valid options: none" although
``llama3_8b(layers=2)`` is documented (its options reach `decoder` through
``_build(name, label, options)``, which the source reading did not follow).
The accepted lists below are read off the builders' signatures by hand
(costgraph/models/vgg.py ``vgg(config, name, *, batch_norm, adaptive_pool,
num_classes)``; alexnet.py ``alexnet(num_classes, dropout)``;
``vgg16_bn`` passes ``batch_norm=True`` itself).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import costgraph.models as zoo
from costgraph.errors import CostGraphError


@pytest.mark.parametrize(
    "name, accepted",
    [
        ("vgg16", "adaptive_pool, batch_norm, num_classes"),
        ("vgg16_bn", "adaptive_pool, num_classes"),
        ("alexnet", "dropout, num_classes"),
        ("resnet50", "num_classes"),
    ],
)
def test_build_with_an_unknown_keyword_names_model_keyword_and_options(name, accepted):
    with pytest.raises(CostGraphError) as error:
        zoo.build(name, bogus=1)
    assert str(error.value) == f"{name}: unknown option 'bogus'; accepted: {accepted}"
    with pytest.raises(CostGraphError, match=f"^{name}: unknown option 'bogus'"):
        getattr(zoo, name)(bogus=1)  # the builder called directly, not through build()


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_zoo_builder_refuses_an_unknown_keyword_with_a_costgraph_error(name):
    with pytest.raises(CostGraphError, match=f"^{name}: unknown option 'bogus'; accepted: [a-z_]"):
        zoo.build(name, bogus=1)


def test_an_option_the_builder_sets_itself_is_refused_not_a_type_error():
    """``vgg16_bn`` passes ``batch_norm=True`` to `vgg`: giving it again was Python's
    "got multiple values for keyword argument"."""
    with pytest.raises(CostGraphError, match="vgg16_bn: unknown option 'batch_norm'; accepted: adaptive_pool, num_classes"):
        zoo.vgg16_bn(batch_norm=False)


def test_forwarded_options_still_work():
    """The documented overrides: llama3_8b(layers=2) is 2 layers deep; Llama-3-8B has
    8,030,261,248 parameters, each of its 32 layers 2*4096^2 + 2*4096*1024 + 3*4096*14336
    + 2*4096 = 218,112,000 (attention q,o and k,v of 8 KV heads x 128, SwiGLU, two RMSNorms;
    Meta's config), so 2 layers leave 8,030,261,248 - 30 * 218,112,000 = 1,486,901,248."""
    assert zoo.llama3_8b(layers=2).totals().params == 1_486_901_248
    assert zoo.build("t5_small", layers=1, decoder_layers=1).totals().params > 0
    assert zoo.build("vgg16", num_classes=10).totals(H=224).params == 138_357_544 - 4096 * 990 - 990


@pytest.mark.parametrize("name, option", [("llama3_8b", "layers=2"), ("t5_small", "layers=1")])
def test_cli_option_reaches_the_forwarded_builder(name, option):
    """Before: 'llama3_8b got an unexpected keyword argument 'layers'; valid options: none'."""
    sizes = ["--size", "S=8"] + (["--size", "T=4"] if name.startswith("t5") else [])
    done = subprocess.run([sys.executable, "-m", "costgraph", "totals", name, "--option", option, *sizes, "--format", "csv"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([sys.executable, "-m", "costgraph", "totals", name, "--option", "bogus=1", *sizes],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unexpected keyword argument 'bogus'; valid options: " in bad.stderr
    assert "layers (int)" in bad.stderr

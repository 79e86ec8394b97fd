"""The smallest input each zoo model (part A) accepts, against what PyTorch itself accepts.

For every model, ``net.min_size()`` (derived from costgraph's formulas) must
be a size at which the torch twin runs, and one less must be a size at which
the twin fails; there costgraph must raise `DomainError` naming the very
layer whose torch module raised (found with forward pre-hooks).  The twins
are checked against torchvision (see tests/twins/), so this is torchvision's
own limit.  All forwards run on the meta device.
"""

import pytest

from costgraph import DomainError, models

from .differential import meta
from .support import require_torch
from .twins.alexnet import AlexNet
from .twins.densenet import DenseNet
from .twins.googlenet import GoogLeNet
from .twins.inception import Inception3
from .twins.resnet import resnet
from .twins.squeezenet import SqueezeNet

torch = require_torch()

TWINS = {
    "alexnet": AlexNet,
    "resnet18": lambda: resnet("resnet18"),
    "resnet34": lambda: resnet("resnet34"),
    "resnet50": lambda: resnet("resnet50"),
    "resnet101": lambda: resnet("resnet101"),
    "resnet152": lambda: resnet("resnet152"),
    "squeezenet1_0": lambda: SqueezeNet("1_0"),
    "squeezenet1_1": lambda: SqueezeNet("1_1"),
    "densenet121": DenseNet,
    "googlenet": GoogLeNet,
    "inception_v3": Inception3,
}


def run_twin(module, size, *, training=False):
    """Run `module` at size x size on meta; return None, or the name of the leaf module that raised.

    In training mode (auxiliary heads) the batch is 2: batch norm in training
    needs more than one value per channel.
    """
    entered = []
    leaves = [(name, m) for name, m in module.named_modules() if not list(m.children())]
    handles = [m.register_forward_pre_hook(lambda m, args, name=name: entered.append(name)) for name, m in leaves]
    try:
        with torch.no_grad():
            module.train(training)(torch.empty(2 if training else 1, 3, size, size, device="meta"))
    except RuntimeError:
        return entered[-1]
    finally:
        for h in handles:
            h.remove()
    return None


@pytest.mark.parametrize("name", sorted(TWINS))
def test_min_size_is_where_torch_starts_to_run(name):
    net = models.build(name)
    with meta():
        twin = TWINS[name]()
    smallest = net.min_size()
    assert run_twin(twin, smallest) is None, f"torch fails at {name}'s min_size {smallest}"
    net.check_sizes(H=smallest)
    if smallest == 1:
        return
    failing_module = run_twin(twin, smallest - 1)
    assert failing_module is not None, f"torch runs {name} at {smallest - 1}, below min_size"
    with pytest.raises(DomainError) as error:
        net.totals(H=smallest - 1)
    assert error.value.layer == failing_module
    assert repr(failing_module) in str(error.value)


def test_the_issue_examples():
    """The issue's examples: torchvision's inception_v3 runs at 75x75 and fails at 74x74; resnet50 runs at 1x1."""
    assert models.inception_v3().min_size() == 75
    assert models.resnet50().min_size() == 1


@pytest.mark.parametrize("name,twin", [("googlenet", GoogLeNet), ("inception_v3", Inception3)])
def test_min_size_with_aux_heads_is_where_torch_training_starts_to_run(name, twin):
    """Inception v3's AuxLogits needs a 5x5 map after its 5x5/3 pool: 17x17 at Mixed_6e, which 299 gives."""
    net = models.build(name, aux_logits=True)
    with meta():
        module = twin(aux_logits=True)
    smallest = net.min_size()
    assert run_twin(module, smallest, training=True) is None
    failing_module = run_twin(module, smallest - 1, training=True)
    assert failing_module is not None
    with pytest.raises(DomainError) as error:
        net.totals(H=smallest - 1)
    assert error.value.layer == failing_module

"""The VGG16 table shows what training keeps and the inference peak (issue 4), as a user runs it."""

import subprocess
import sys


def test_vgg16_table_shows_training_memory_and_inference_peak():
    out = subprocess.run(
        [sys.executable, "-m", "costgraph", "table", "vgg16", "--H", "224"], capture_output=True, text=True, check=True
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("memory model"))
    # inference peak, by hand: conv1_2 reads conv1_1's output while writing its own,
    # 2 x 64 x 224 x 224 values x 4 bytes = 25,690,112 bytes = 25.7 MB
    assert "inference peaks at 25.7 MB alive at once, at conv1_2" in line
    # training keeps the seed's 15.2M activation values (and more: indices, masks)
    assert "15.2M activations" in line and "int64 indices" in line
    # the seed's own line stays
    assert "with backward about 2x" in out

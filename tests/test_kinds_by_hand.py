"""Kinds whose rules only a differential test used to check, derived by hand here without torch.

A grouped convolution and attention whose value width differs from the
query/key width were checked only against PyTorch, so a dropped ``/groups``
or a ``2*d_qk`` in place of ``d_qk + d_v`` passed every torch-free test.
Every expected number below is derived in the comment beside it from the
definition of the operation, not read off costgraph.
"""

from __future__ import annotations

import sympy

from costgraph import Network
from costgraph.kinds import Conv2d, Input, ScaledDotProductAttention
from costgraph.symbols import H, N, S, W


def test_grouped_convolution_by_hand():
    # Conv2d(8, 16, 3, padding=1, groups=4): each of the 16 output channels sees only its
    # group's 8/4 = 2 input channels, so a 3x3 window holds 2*9 = 18 weights, and
    # every output element (16*H*W per image, "same" size with padding 1) is 18 MACs.
    net = Network("grouped")
    net.add("x", Input((8, H, W)))
    net.add("conv", Conv2d(8, 16, 3, padding=1, groups=4))
    row = net.layers(H=10, W=6, N=3)[-1]
    assert row.shape == (16, 10, 6)
    assert row.weights == 16 * 2 * 9  # 288, not 16*8*9 = 1152 without the groups
    assert row.biases == 16
    assert row.macs == 3 * 16 * 10 * 6 * 18  # N * C_out * H * W * (C_in/groups) * k*k = 51840
    assert sympy.expand(net.totals().macs - 16 * 18 * N * H * W) == 0


def test_depthwise_convolution_by_hand():
    # depthwise 3x3, stride 2, padding 1 (MobileNet's): one input channel per output channel,
    # 9 MACs per output element; output side floor((n + 2 - 3)/2) + 1: 7 -> 4, 12 -> 6
    net = Network("depthwise")
    net.add("x", Input((32, H, W)))
    net.add("dw", Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False))
    row = net.layers(H=7, W=12, N=2)[-1]
    assert row.shape == (32, 4, 6)
    assert (row.weights, row.biases) == (32 * 9, 0)
    assert row.macs == 2 * 32 * 4 * 6 * 9  # 13824


def test_attention_with_a_value_width_other_than_the_query_width():
    # q, k: 4 heads of width 16; v: 4 heads of width 40; S queries and S keys.
    # Q K^T: S*S scores of 16 products per head; weights times V: S*40 outputs of S
    # products per head. MACs = 4 * N * S^2 * (16 + 40) = 224 * N * S^2
    # (2 * 16 in place of 16 + 40 would give 128 * N * S^2).
    net = Network("attention")
    net.add("q", Input((4, S, 16)))
    net.add("k", Input((4, S, 16)))
    net.add("v", Input((4, S, 40)))
    net.add("attention", ScaledDotProductAttention(), "q", "k", "v")
    assert net.shape("attention") == (N, 4, S, 40)  # one row of width 40 per query
    assert sympy.expand(net.totals().macs - 224 * N * S**2) == 0
    assert net.layers(S=5, N=2)[-1].macs == 2 * 4 * 25 * 56  # 11200


def test_causal_attention_skipping_masked_pairs_with_a_wider_value():
    # causal, counting only kept pairs: query i sees keys 0..i, S(S+1)/2 pairs per head, each
    # 16 products for its score and 40 for its share of the output: 4 * N * S(S+1)/2 * 56
    net = Network("causal")
    for name, width in (("q", 16), ("k", 16), ("v", 40)):
        net.add(name, Input((4, S, width)))
    net.add("attention", ScaledDotProductAttention(is_causal=True, skip_masked=True), "q", "k", "v")
    assert net.layers(S=6, N=1)[-1].macs == 4 * (6 * 7 // 2) * 56  # 4704
    assert sympy.expand(net.totals().macs - 112 * N * S * (S + 1)) == 0

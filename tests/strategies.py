"""Hypothesis strategies for layer hyper-parameters and sizes, valid by construction."""

from hypothesis import strategies as st


@st.composite
def window(draw, max_kernel=8, max_stride=8, max_dilation=3, with_dilation=True):
    """(kernel, stride, padding, dilation) with padding at most half the effective kernel."""
    kernel = draw(st.integers(1, max_kernel))
    stride = draw(st.integers(1, max_stride))
    dilation = draw(st.integers(1, max_dilation)) if with_dilation else 1
    effective = dilation * (kernel - 1) + 1
    padding = draw(st.integers(0, effective // 2))
    return kernel, stride, padding, dilation


sizes = st.integers(1, 600)
big_sizes = st.integers(1, 2**70)

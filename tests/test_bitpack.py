"""Bit packing: exact length and lossless for every width, on both the fast and the general path."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoreset._bitpack import pack_sections, unpack_sections


@settings(max_examples=200, deadline=None)
@given(
    widths=st.lists(st.integers(0, 64), min_size=1, max_size=4),
    counts=st.lists(st.integers(0, 300), min_size=4, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_round_trip(widths, counts, seed):
    rng = np.random.default_rng(seed)
    sections = []
    for nbits, count in zip(widths, counts, strict=False):
        raw = rng.integers(0, 2**63, size=count, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        codes = raw >> np.uint64(64 - nbits) if nbits else np.zeros(count, dtype=np.uint64)
        sections.append((codes, nbits))
    data = pack_sections(sections)
    assert len(data) == (sum(len(c) * b for c, b in sections) + 7) // 8
    back = unpack_sections(data, [(len(c), b) for c, b in sections])
    for (codes, _), got in zip(sections, back, strict=True):
        assert np.array_equal(codes, got)

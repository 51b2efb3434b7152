import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, so every test is deterministic."""
    return np.random.default_rng(20261129)


def hard_blobs(rng, n=2000, d=5, outliers=5):
    """Imbalanced clusters (90/9/1 %), far outliers, a constant column, duplicated rows."""
    sizes = [int(n * 0.9), int(n * 0.09)]
    sizes.append(n - sum(sizes) - outliers)
    centres = rng.normal(scale=10.0, size=(3, d))
    parts = [c + rng.normal(size=(s, d)) for c, s in zip(centres, sizes, strict=True)]
    parts.append(rng.normal(scale=1000.0, size=(outliers, d)))
    X = np.vstack(parts)
    y = np.repeat(np.arange(4), sizes + [outliers])
    X[:, -1] = 3.25
    X[-40:-20] = X[:20]
    y[-40:-20] = y[:20]
    return X, y

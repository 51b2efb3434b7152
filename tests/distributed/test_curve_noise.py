"""The ``optimal`` allocation under proxy noise: pooled curves, shrinkage, budgets, seeds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoreset import InputError
from qcoreset.distributed import optimal_allocation, proportional_allocation, reduce_parts
from qcoreset.distributed.allocation import shrink_curves, summarize_fits

GRID = np.unique(np.geomspace(2000, 400_000, 16).astype(np.int64) // 8 * 8)


def _noisy_curves(rng, scales, noise, fits=8, wiggle=0.25):
    """Each rank: ``fits`` curves ``scale * 50 / sqrt(B)`` with one log-normal level per fit.

    Between ranks of the same ``scale`` the curves differ only by that noise, as two
    statistically identical blocks do; ``wiggle * noise`` is independent noise per point.
    """
    out = []
    for scale in scales:
        level = rng.normal(0.0, noise, size=(fits, 1))
        point = rng.normal(0.0, wiggle * noise, size=(fits, GRID.size))
        errors = scale * 50.0 / np.sqrt(GRID) * np.exp(level + point)
        e, se = summarize_fits(errors)
        out.append((GRID, e, se))
    return out


def _share_error(alloc, masses):
    """Largest relative departure from the mass-proportional split of the same bits."""
    target = alloc.sum() * masses / masses.sum()
    return float(np.max(np.abs(alloc - target) / target))


# ------------------------------------------------------------------------- summarize_fits


def test_summarize_fits_is_the_geometric_mean_and_its_spread():
    fits = np.array([[4.0, 1.0, np.inf], [1.0, 1.0, 3.0], [2.0, 1.0, 3.0]])
    e, se = summarize_fits(fits)
    assert e[:2] == pytest.approx([2.0, 1.0])
    assert se[0] == pytest.approx(np.std(np.log([4.0, 1.0, 2.0]), ddof=1))
    assert se[1] == 0.0
    assert np.isinf(e[2]) and np.isnan(se[2])  # one fit without a coreset: no point
    e1, se1 = summarize_fits(fits[:1, :2])
    assert e1.tolist() == [4.0, 1.0] and np.isnan(se1).all()  # one fit: spread unknown


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.array([[1.0, -1.0]]),
                                 np.array([[1.0, np.nan]]), np.ones(3)],
                         ids=["empty", "negative", "nan", "1-d"])
def test_summarize_fits_rejects_bad_input(bad):
    with pytest.raises(InputError):
        summarize_fits(bad)


# -------------------------------------------------------------------------- shrink_curves


@pytest.mark.parametrize("seed", range(8))
def test_identical_curves_collapse_to_the_size_split(seed):
    rng = np.random.default_rng(seed)
    minimum, total = np.full(4, 2000), 4 * 60_000
    # equal masses: identical pooled curves of any shape give equal budgets
    masses = np.full(4, 1000.0)
    pooled = shrink_curves(_noisy_curves(rng, [1.0] * 4, noise=0.12))
    assert pooled.own_weight.max() < 0.5  # the noise explains the differences
    a = optimal_allocation(pooled.curves, masses, total, minimum, combine="quadrature")
    assert a.sum() <= total and (a >= minimum).all()
    assert _share_error(a, masses) < 0.02
    # unequal masses, curves falling like B^(-1/2): the Neyman split is the size split
    masses = np.array([1000.0, 1000.0, 1500.0, 500.0])
    pooled = shrink_curves(_noisy_curves(rng, [1.0] * 4, noise=0.12, wiggle=0.0))
    a = optimal_allocation(pooled.curves, masses, total, minimum, combine="quadrature")
    assert a.sum() <= total and (a >= minimum).all()
    assert _share_error(a, masses) < 0.02


def test_without_pooling_the_noise_moves_the_split():
    """The failure the pooling removes: one noisy fit per rank drives the split."""
    masses, minimum, total = np.full(4, 1000.0), np.full(4, 2000), 4 * 60_000
    worst = []
    for seed in range(8):
        curves = _noisy_curves(np.random.default_rng(seed), [1.0] * 4, noise=0.12, fits=1)
        raw = optimal_allocation([(b, e) for b, e, _ in curves], masses, total, minimum,
                                 combine="quadrature")
        worst.append(_share_error(raw, masses))
    assert max(worst) > 0.1


@pytest.mark.parametrize("seed", range(4))
def test_genuinely_different_curves_keep_their_difference(seed):
    rng = np.random.default_rng(seed)
    masses, minimum, total = np.full(4, 1000.0), np.full(4, 2000), 4 * 60_000
    curves = _noisy_curves(rng, [3.0, 1.0, 1.0, 1.0], noise=0.05)
    pooled = shrink_curves(curves)
    assert pooled.between_variance > 0 and pooled.own_weight[0] > 0.9
    a = optimal_allocation(pooled.curves, masses, total, minimum, combine="quadrature")
    size = proportional_allocation(masses, total, minimum)
    # Neyman with errors 3:1:1:1 and equal masses: spare bits 3:1:1:1 (half to rank 0)
    assert a[0] - minimum[0] > 1.8 * (size[0] - minimum[0])
    assert a[1:].max() < size[1]
    assert a.sum() <= total


def test_unknown_spread_keeps_different_curves():
    b = GRID
    curves = [(b, 2.0 / np.sqrt(b), np.full(b.size, np.nan)),
              (b, 1.0 / np.sqrt(b), np.full(b.size, np.nan)), None]
    pooled = shrink_curves(curves)
    assert pooled.curves[2] is None and np.isnan(pooled.own_weight[2])
    assert np.allclose(pooled.curves[0][1], curves[0][1])
    assert np.allclose(pooled.curves[1][1], curves[1][1])


def test_shrunk_curves_lie_between_the_pool_and_the_rank():
    rng = np.random.default_rng(3)
    curves = _noisy_curves(rng, [1.0, 1.2, 1.5, 0.7, 1.0, 1.1], noise=0.1)
    pooled = shrink_curves(curves)
    x = np.log([e for _, e, _ in curves])
    s = np.log([e for _, e in pooled.curves])
    lo, hi = np.minimum(x, x.mean(axis=0)), np.maximum(x, x.mean(axis=0))
    assert ((s >= lo.min(axis=0) - 1e-9) & (s <= hi.max(axis=0) + 1e-9)).all()
    # shrinkage never reorders the ranks at a budget
    assert (np.argsort(x, axis=0, kind="stable") == np.argsort(s, axis=0, kind="stable")).all()


@pytest.mark.parametrize("seed", range(4))
def test_ties_go_to_the_mass_proportional_split(seed):
    rng = np.random.default_rng(seed)
    masses = np.array([1000.0, 999.0, 1001.0, 1000.0])
    minimum, total = np.array([2000, 1960, 2080, 2000]), 4 * 60_000
    pooled = shrink_curves(_noisy_curves(rng, [1.0] * 4, noise=0.12)).curves
    size = proportional_allocation(masses, total, minimum)
    a = optimal_allocation(pooled, masses, total, minimum, combine="quadrature",
                           tolerance=1e-3)
    assert np.array_equal(a, size)
    # without the tolerance: the exact optimum, close to it but not equal
    exact = optimal_allocation(pooled, masses, total, minimum, combine="quadrature")
    assert exact.sum() <= total and np.abs(exact - size).max() <= 0.02 * size.mean()
    # curves that differ beyond the tolerance keep their optimum
    apart = shrink_curves(_noisy_curves(rng, [3.0, 1.0, 1.0, 1.0], noise=0.05)).curves
    b = optimal_allocation(apart, masses, total, minimum, combine="quadrature",
                           tolerance=1e-3)
    assert np.array_equal(b, optimal_allocation(apart, masses, total, minimum,
                                                combine="quadrature"))
    with pytest.raises(InputError, match="tolerance"):
        optimal_allocation(pooled, masses, total, minimum, tolerance=-1.0)


def test_shrink_curves_rejects_mismatched_grids():
    b = GRID
    with pytest.raises(InputError, match="same budget grid"):
        shrink_curves([(b, 1 / np.sqrt(b), np.full(b.size, 0.1)),
                       (b + 8, 1 / np.sqrt(b + 8), np.full(b.size, 0.1))])
    with pytest.raises(InputError, match="expected"):
        shrink_curves([(b, 1 / np.sqrt(b))])


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1), st.floats(0.0, 0.3),
       st.integers(0, 400_000))
def test_pooled_allocation_never_exceeds_the_budgets(n, seed, noise, spare):
    rng = np.random.default_rng(seed)
    curves = _noisy_curves(rng, rng.uniform(0.3, 3.0, n), noise=noise, fits=3)
    curves[int(rng.integers(n))] = None if n > 2 else curves[0]
    masses = rng.uniform(10, 1000, n)
    minimum = np.where([c is None for c in curves], 0, rng.integers(1000, 3000, n))
    total = int(minimum.sum()) + spare
    a = optimal_allocation(shrink_curves(curves).curves, masses, total, minimum,
                           combine="quadrature")
    assert a.sum() <= total
    assert ((a >= minimum) | (minimum == 0)).all()
    assert (a[minimum == 0] == 0).all()


# --------------------------------------------------------------------------- end to end


#: labelled blocks: the curves belong to the real-weight constructors
SENS = "sensitivity"


def _blocks(seed, scales=(1.0, 1.0, 1.0, 1.0), rows=500):
    """Blocks from one mixture of 4 Gaussians in 6-d; ``scale`` widens a block's spread."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(scale=4.0, size=(4, 6))
    parts = []
    for s in scales:
        k = rng.integers(0, 4, size=rows)
        parts.append((centres[k] + s * rng.normal(size=(rows, 6)), k))
    return parts


@pytest.mark.parametrize("seed", range(3))
def test_identical_blocks_get_the_size_split(seed):
    parts = _blocks(seed)
    res = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=seed)
    size = reduce_parts(parts, budget="5%", method=SENS, allocation="size", random_state=seed)
    assert np.array_equal(res.allocation, size.allocation)  # a tie goes to the size split
    assert res.payload == size.payload
    assert (res.payload_bits <= res.allocation).all()
    assert res.allocation.sum() <= res.available_bits and res.file_bits <= res.budget_bits
    assert len(res.raw_curves) == 4 and res.curve_weight.shape == (4,)


def test_a_wider_block_gets_more_bits():
    parts = _blocks(0, scales=(4.0, 1.0, 1.0, 1.0))
    res = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=0)
    spare = res.allocation - res.minimum_bits
    assert res.curve_weight[0] > 0.5
    assert spare[0] > 1.3 * spare[1:].max()
    assert (res.payload_bits <= res.allocation).all()
    assert res.allocation.sum() <= res.available_bits


def test_the_seed_fixes_the_curves_and_the_bytes():
    parts = _blocks(1)
    a = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=5)
    b = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=5)
    c = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=6)
    assert a.payload == b.payload and np.array_equal(a.allocation, b.allocation)
    for (_, ea, sa), (_, eb, sb) in zip(a.raw_curves, b.raw_curves, strict=True):
        assert np.array_equal(ea, eb) and np.array_equal(sa, sb)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a.raw_curves, c.raw_curves,
                                                               strict=True))


def test_one_fit_reports_no_spread_and_bad_fit_counts_are_refused():
    parts = _blocks(2)
    res = reduce_parts(parts, budget="5%", method=SENS, allocation="optimal", random_state=0,
                       curve_fits=1)
    assert all(np.isnan(se).all() for _, _, se in res.raw_curves)
    assert (res.payload_bits <= res.allocation).all()
    with pytest.raises(InputError, match="curve_fits"):
        reduce_parts(parts, budget="5%", method=SENS, curve_fits=0)



def test_cli_takes_the_fit_count_and_refuses_a_bad_one(tmp_path):
    from ._launch import mpi_available, run_mpi

    if not mpi_available():
        pytest.skip("mpi4py/mpiexec not installed")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(2000, 3)))
    args = ("-m", "qcoreset.distributed", "reduce", "x.npy", "--budget", "5%", "-o", "x.qcs")
    rc, _, err, _ = run_mpi(2, *args, "--curve-fits", "0", timeout=90, cwd=tmp_path)
    assert rc == 2 and "--curve-fits must be >= 1, got 0" in err
    assert not (tmp_path / "x.qcs").exists()
    rc, out, err, _ = run_mpi(2, *args, "--curve-fits", "3", "--json", timeout=90,
                              cwd=tmp_path)
    assert rc == 0, err[-2000:]
    assert (tmp_path / "x.qcs").exists()

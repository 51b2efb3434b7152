"""The MPI-free parts of qcoreset.distributed: splits, allocation rules, container format."""

import numpy as np
import pytest

from qcoreset import BudgetError, InputError, PayloadError, QuantizedCoreset
from qcoreset.convex import allocate_budget_dp
from qcoreset.distributed import (
    assign_ranks,
    block_range,
    combination,
    container_overhead_bits,
    convex_envelope,
    curve_budgets,
    decode_container,
    encode_container,
    local_clustering_cost,
    loglog_interpolant,
    optimal_allocation,
    parse_split,
    proportional_allocation,
    rank_curve,
    rank_seed,
    read_container_header,
    split_container,
    split_rows,
)
from qcoreset.payload import decode_payload, read_header


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    # imbalanced classes: one huge, one tiny
    return rng.choice(5, size=3000, p=[0.6, 0.2, 0.1, 0.09, 0.01])


# ---------------------------------------------------------------------------------- splits


@pytest.mark.parametrize("text,expected", [("block", ("block", 0.0)),
                                           ("stratified", ("stratified", 0.0)),
                                           ("label-skew:0.75", ("label-skew", 0.75))])
def test_parse_split(text, expected):
    assert parse_split(text) == expected


@pytest.mark.parametrize("text", ["blocks", "label-skew", "label-skew:x", "label-skew:1.5",
                                  "block:2"])
def test_parse_split_rejects(text):
    with pytest.raises(InputError):
        parse_split(text)


@pytest.mark.parametrize("n,ranks", [(10, 4), (3, 8), (0, 2), (1000, 7)])
def test_block_ranges_tile_the_rows(n, ranks):
    ranges = [block_range(n, ranks, r) for r in range(ranks)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1
    assert np.array_equal(np.concatenate(split_rows(n, ranks)), np.arange(n))


@pytest.mark.parametrize("how", ["block", "stratified", "label-skew:0.8", "label-skew:0"])
def test_split_is_a_partition_and_deterministic(how, labels):
    parts = split_rows(labels.shape[0], 4, how, y=labels, seed=3)
    allrows = np.sort(np.concatenate(parts))
    assert np.array_equal(allrows, np.arange(labels.shape[0]))
    again = split_rows(labels.shape[0], 4, how, y=labels, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_stratified_keeps_class_proportions(labels):
    ranks = assign_ranks(labels.shape[0], 4, "stratified", y=labels, seed=0)
    for c in np.unique(labels):
        counts = np.bincount(ranks[labels == c], minlength=4)
        assert counts.max() - counts.min() <= 1


def test_label_skew_puts_classes_home(labels):
    ranks = assign_ranks(labels.shape[0], 3, "label-skew:1", y=labels, seed=0)
    assert np.array_equal(ranks, labels % 3)
    ranks = assign_ranks(labels.shape[0], 3, "label-skew:0.8", y=labels, seed=0)
    home = np.mean(ranks == labels % 3)
    assert 0.8 <= home <= 0.9  # P + (1 - P) / N = 0.867 in expectation


def test_label_split_needs_labels():
    with pytest.raises(InputError, match="labels"):
        assign_ranks(10, 2, "stratified")


# ------------------------------------------------------------------------------ allocation


def test_curve_budgets_grid():
    g = curve_budgets(1000, 50000, 16)
    assert g[0] == 1000 and g[-1] == 50000
    assert (np.diff(g) > 0).all() and ((g[:-1] - 1000) % 8 == 0).all()
    assert curve_budgets(800, 800).tolist() == [800]


@pytest.mark.parametrize("shares", [[1, 1, 1], [5, 1, 0], [0, 0, 0], [1e6, 1, 1]])
def test_proportional_allocation_bounds(shares):
    minimum = np.array([800, 960, 640])
    total = 12345
    a = proportional_allocation(shares, total, minimum)
    assert a.sum() <= total and (a >= minimum).all()
    assert ((a - minimum) % 8 == 0).all()
    assert total - a.sum() < 8 * 1 + 8  # at most one unit (and the odd bits) left over


def test_proportional_allocation_equal_and_empty():
    a = proportional_allocation([1, 1, 0], 10000, [800, 800, 0])
    assert a[2] == 0 and abs(int(a[0]) - int(a[1])) <= 8


def test_allocation_rejects_too_small_budget():
    with pytest.raises(BudgetError, match="rank 1: 960"):
        proportional_allocation([1, 1], 1000, [800, 960])
    with pytest.raises(BudgetError, match="at least"):
        optimal_allocation([([800, 900], [1.0, 0.5])] * 2, [1, 1], 1000, [800, 960])


def _curves(rng, n_parts):
    curves, minimum = [], []
    for _ in range(n_parts):
        lo = int(rng.integers(10, 40)) * 8
        b = np.unique(np.geomspace(lo, 3000, 8).astype(int) // 8 * 8)
        e = rng.uniform(1, 5) / np.sqrt(b - lo + 50) * rng.uniform(0.5, 2)
        curves.append((b, e))
        minimum.append(lo)
    return curves, np.array(minimum)


@pytest.mark.parametrize("seed", range(5))
def test_optimal_allocation_equals_dynamic_programme(seed):
    rng = np.random.default_rng(seed)
    curves, minimum = _curves(rng, 3)
    masses = rng.uniform(100, 1000, 3)
    total = int(minimum.sum()) + 1200
    a = optimal_allocation(curves, masses, total, minimum)
    fitted = [rank_curve(b, e, lo, total) for (b, e), lo in zip(curves, minimum, strict=True)]
    dp = allocate_budget_dp(fitted, masses, total, minimum, granularity=8)

    def objective(alloc):
        return sum(m * float(f(x)) for m, f, x in zip(masses, fitted, alloc, strict=True))

    assert a.sum() <= total and (a >= minimum).all()
    assert objective(a) <= objective(dp) * (1 + 1e-9)  # the same optimum as the exact DP
    # and the curves follow the log-log interpolants closely (chords of a dense sample)
    for (b, e), lo, f in zip(curves, minimum, fitted, strict=True):
        grid = np.linspace(lo, total, 50)
        assert np.allclose(f(grid), loglog_interpolant(b, e)(grid), rtol=1e-3)
    for shares in (np.ones(3), rng.uniform(size=3)):  # and never worse than a baseline
        assert objective(a) <= objective(proportional_allocation(shares, total, minimum)) \
            * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_quadrature_allocation_equals_dynamic_programme(seed):
    rng = np.random.default_rng(seed)
    curves, minimum = _curves(rng, 3)
    masses = rng.uniform(100, 1000, 3)
    total = int(minimum.sum()) + 1200
    a = optimal_allocation(curves, masses, total, minimum, combine="quadrature")
    sq = [rank_curve(b, e, lo, total, combine="quadrature")
          for (b, e), lo in zip(curves, minimum, strict=True)]
    dp = allocate_budget_dp(sq, masses**2, total, minimum, granularity=8)

    def objective(alloc):
        return sum(m**2 * float(f(x)) for m, f, x in zip(masses, sq, alloc, strict=True))

    assert objective(a) <= objective(dp) * (1 + 1e-9)


def test_combination_follows_the_error_kind():
    assert combination("rcc") == combination("kcenter") == "sum"
    assert combination("sensitivity") == combination("uniform") == "quadrature"


def test_similar_ranks_get_similar_budgets():
    b = np.unique(np.geomspace(800, 80000, 16).astype(int) // 8 * 8)
    curve = (b, 100.0 / np.sqrt(b))
    a = optimal_allocation([curve] * 4, [1000.0] * 4, 4 * 30000, [800] * 4)
    assert a.max() - a.min() <= 0.005 * a.mean()


def test_convex_envelope_is_convex_and_below():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 100, 300))
    x = np.unique(x)
    y = np.cumsum(rng.uniform(-1, 0.2, x.shape[0]))[::-1] + rng.normal(0, 0.3, x.shape[0])
    f = convex_envelope(x, y)
    assert f.is_convex_decreasing() or (np.diff(f.slopes) >= -1e-12).all()
    assert (f(x) <= y + 1e-9).all()
    assert set(f.breakpoints) <= set(x) and f.breakpoints[0] == x[0]


def test_loglog_interpolant_passes_through_the_points():
    b, e = np.array([100.0, 1000.0, 10000.0]), np.array([5.0, 1.0, 0.5])
    f = loglog_interpolant(b, e)
    assert np.allclose(f(b), e) and np.allclose([f(50.0), f(1e6)], [5.0, 0.5])
    assert f(316.2277660168379) == pytest.approx(np.sqrt(5.0))  # geometric midpoint


def test_optimal_allocation_skips_empty_ranks():
    rng = np.random.default_rng(0)
    curves, minimum = _curves(rng, 2)
    a = optimal_allocation([curves[0], None, curves[1]], [1.0, 0.0, 2.0], 4000,
                           [minimum[0], 0, minimum[1]])
    assert a[1] == 0 and a.sum() <= 4000


def test_local_clustering_cost_one_cluster_is_the_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[0] += 50  # an outlier
    cost = local_clustering_cost(X, n_clusters=1, random_state=0)
    assert cost == pytest.approx(((X - X.mean(0)) ** 2).sum())
    assert local_clustering_cost(X, n_clusters=5, random_state=0) < cost


def test_rank_seeds_differ_and_repeat():
    seeds = [rank_seed(5, r) for r in range(8)]
    assert len(set(seeds)) == 8 and seeds == [rank_seed(5, r) for r in range(8)]


# ------------------------------------------------------------------------------- container


@pytest.fixture(scope="module")
def payloads():
    rng = np.random.default_rng(1)
    out = []
    for i, classes in enumerate(([0, 1, 2], [2, 7], [5])):  # different class tables
        X = rng.normal(size=(400, 6)) * (i + 1)
        X[:, 2] = 1.5  # constant column
        y = rng.choice(classes, size=400)
        out.append(QuantizedCoreset(budget=6000, random_state=i).fit(X, y).to_bytes())
    return out


def test_container_round_trip(payloads):
    parts = [payloads[0], b"", payloads[1], payloads[2]]
    data = encode_container(parts, [400, 0, 400, 400])
    assert 8 * len(data) == sum(8 * len(p) for p in parts) + container_overhead_bits(4)
    got, rows, crc_ok = split_container(data)
    assert got == parts and rows == [400, 0, 400, 400] and crc_ok
    dec = decode_container(data)
    each = [decode_payload(p) for p in payloads]
    assert np.array_equal(dec.points, np.concatenate([e.points for e in each]))
    assert np.array_equal(dec.weights, np.concatenate([e.weights for e in each]))
    assert np.array_equal(dec.labels, np.concatenate([e.labels for e in each]))
    assert dec.header["n_total"] == 1200 and dec.header["classes"] == [0, 1, 2, 5, 7]
    assert sum(dec.header["class_counts"]) == dec.points.shape[0]
    # the core readers accept the container too
    assert np.array_equal(decode_payload(data).points, dec.points)
    head = read_header(data)
    assert head["crc_ok"] and head["size_ok"] and head["n_parts"] == 4
    assert head == read_container_header(data)


def test_container_detects_corruption(payloads):
    data = bytearray(encode_container(payloads))
    data[-40] ^= 0xFF
    with pytest.raises(PayloadError):
        decode_container(bytes(data))
    assert not read_container_header(bytes(data))["crc_ok"]
    with pytest.raises(PayloadError, match="truncated|announces"):
        decode_container(bytes(data[:-10]))
    with pytest.raises(PayloadError, match="container"):
        split_container(payloads[0])


def test_inspect_and_evaluate_read_a_container(payloads, tmp_path, capsys):
    from qcoreset.cli import main

    path = tmp_path / "merged.qcs"
    path.write_bytes(encode_container(payloads))
    assert main(["inspect", str(path), "--json"]) == 0
    assert '"n_parts": 3' in capsys.readouterr().out


# ------------------------------------------------------------------------------- no MPI


def test_library_imports_without_touching_mpi():
    import subprocess
    import sys

    code = ("import sys, qcoreset, qcoreset.distributed, qcoreset.streaming; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_mpi4py_explains_the_install(monkeypatch):
    import sys

    from qcoreset.distributed import MPIUnavailableError, get_comm

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    with pytest.raises(MPIUnavailableError, match="pip install"):
        get_comm()
    from qcoreset.distributed.cli import main

    assert main(["reduce", "x.npy", "--budget", "1%"]) == 2


# ------------------------------------------------------------------- in-process simulation


def test_reduce_parts_budgets_and_union():
    from qcoreset.distributed import reduce_parts

    rng = np.random.default_rng(0)
    parts = [(rng.normal(size=(300, 4)) + 3 * i, rng.choice([i, i + 1], size=300))
             for i in range(3)]
    res = reduce_parts(parts, budget=30000, allocation="optimal", random_state=1)
    assert (res.payload_bits <= res.allocation).all()
    assert res.allocation.sum() <= res.available_bits
    assert 8 * len(res.payload) == res.file_bits <= 30000
    assert res.coreset.points.shape[0] == sum(q.size_ for q in res.local)
    assert set(np.unique(res.coreset.labels)) <= {0, 1, 2, 3}


def test_reduce_parts_names_the_bad_part_and_small_budgets():
    from qcoreset.distributed import RankError, reduce_parts

    rng = np.random.default_rng(0)
    good = rng.normal(size=(100, 3))
    bad = good.copy()
    bad[5, 1] = np.inf
    with pytest.raises(RankError, match="rank 1: .*NaN or infinite"):
        reduce_parts([good, bad, good], budget=20000)
    with pytest.raises(RankError, match="rank 1: has 2 features"):
        reduce_parts([good, good[:, :2]], budget=20000)
    with pytest.raises(BudgetError, match="raise the budget to at least"):
        reduce_parts([good, good, good], budget=900)

"""Hardware-aware training as a task option: get_task(name, hwa="PRESET@T"), evaluate --hwa."""

import json
import subprocess
import sys

import numpy as np
import pytest

from qcoreset import InputError
from qcoreset.cli import main
from qcoreset.tasks import DigitalBackend, evaluate_task, get_task

from .conftest import hard_blobs

FAST = {
    "svm": {},
    "logreg": {"C": 1.0},
    "mlp": {"hidden_layer_sizes": (16,), "max_iter": 30},
}
TARGET = "aihwkit_inference@1d"


@pytest.fixture
def labelled(rng):
    """Hard cases (imbalanced classes, outliers, a constant column, duplicated rows), weights."""
    X, y = hard_blobs(rng, n=600, d=6)
    w = rng.uniform(0.5, 3.0, X.shape[0])
    return X, y, w


def test_core_imports_analog_only_when_hwa_is_asked_for():
    code = (
        "import sys, numpy as np\n"
        "from qcoreset.tasks import get_task\n"
        "X = np.random.default_rng(0).normal(size=(80, 4)); y = (X[:, 0] > 0).astype(int)\n"
        "t = get_task('svm'); t.score(t.fit(X, y), X, y)\n"
        "assert 'qcoreset.analog' not in sys.modules\n"
        "get_task('svm', hwa='hwa_standard@1d')\n"
        "assert 'qcoreset.analog' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "given, stored",
    [
        ("hwa_standard@1d", "hwa_standard@1d"),
        ("hermes", "hermes@1d"),
        ("analog:aihwkit_inference@3600", "aihwkit_inference@1h"),
        ("analog", "hwa_standard@1d"),
        ("ideal@1y", "ideal@1y"),
        (None, None),
    ],
    ids=["preset@time", "preset", "backend-form", "bare-analog", "ideal", "none"],
)
@pytest.mark.parametrize("name", list(FAST))
def test_hwa_parameter_is_stored_canonical(name, given, stored):
    assert get_task(name, hwa=given).params["hwa"] == stored


@pytest.mark.parametrize(
    "params, words",
    [
        ({"hwa": "nope@1d"}, ["unknown analog preset", "hwa_standard"]),
        ({"hwa": "hwa_standard@-1d"}, ["negative"]),
        ({"hwa": "hwa_standard@"}, ["no time"]),
        ({"hwa": "hwa_standard@1fortnight"}, ["unit"]),
        ({"hwa": 3}, ["hwa must be"]),
        ({"hwa": ""}, ["hwa must be"]),
        ({"hwa": "hermes", "hwa_noise_scale": -1.0}, ["hwa_noise_scale"]),
        ({"hwa": "hermes", "hwa_epochs": 0}, ["hwa_epochs"]),
    ],
    ids=["preset", "negative-time", "no-time", "unit", "not-a-string", "empty", "scale",
         "epochs"],
)
def test_bad_hwa_values_are_one_line_errors(params, words):
    with pytest.raises(InputError) as exc:
        get_task("svm", **params)
    msg = str(exc.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg


@pytest.mark.parametrize("name", ["kmeans", "pca"])
def test_cost_tasks_have_no_hwa(name):
    with pytest.raises(InputError, match="unknown parameter 'hwa'"):
        get_task(name, hwa="hwa_standard@1d")


@pytest.mark.parametrize("name", list(FAST))
def test_hwa_fit_is_the_plain_fit_fine_tuned(name, labelled):
    """The task option = hwa_finetune on the plain fit, with the task's loss and penalty."""
    from qcoreset.analog import HWALinearClassifier, HWAMLPClassifier, hwa_finetune

    X, y, w = labelled
    plain = get_task(name, **FAST[name]).fit(X, y, sample_weight=w, random_state=3)
    task = get_task(name, hwa=TARGET, hwa_epochs=2, **FAST[name])
    model = task.fit(X, y, sample_weight=w, random_state=3)
    clf = model[-1]
    assert isinstance(clf, HWAMLPClassifier if name == "mlp" else HWALinearClassifier)
    assert clf.profile_.t_inference == 86400.0 and clf.converged_ and task.converged(model)
    p = task.params
    if name == "mlp":
        loss, alpha = "log_loss", p["alpha"] / p["batch_size"]
    else:
        c_used = plain[-1].C  # the C the plain fit used (chosen for the weights)
        loss, alpha = ("hinge" if name == "svm" else "log_loss"), 1.0 / (c_used * w.sum())
    direct = hwa_finetune(plain[-1], plain[0].transform(X), y, w, TARGET, loss=loss,
                          alpha=alpha, max_iter=2, random_state=3)
    if name == "mlp":
        for a, b in zip(clf.coefs_, direct.coefs_, strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(clf.coef_, direct.coef_)
        np.testing.assert_array_equal(clf.intercept_, direct.intercept_)
    # the same seed gives the same model; the scaler is the plain fit's
    again = task.fit(X, y, sample_weight=w, random_state=3)
    np.testing.assert_array_equal(task.score(model, X, y), task.score(again, X, y))
    np.testing.assert_array_equal(model[0].scale_, plain[0].scale_)


@pytest.mark.parametrize("name", list(FAST))
def test_hwa_models_score_through_every_backend(name, labelled):
    from qcoreset.analog import AnalogBackend

    X, y, w = labelled
    task = get_task(name, hwa="hwa_standard@1d", hwa_epochs=3, **FAST[name])
    idx = np.random.default_rng(0).choice(X.shape[0], 150, replace=False)
    res = evaluate_task(task, (X[idx], y[idx], w[idx] * 4), X, y, X, y, random_state=0)
    assert 0.5 < res.coreset_value <= 1.0 and 0.5 < res.full_value <= 1.0
    assert res.extras["coreset_converged"] and res.extras["full_converged"]
    model = task.fit(X[idx], y[idx], sample_weight=w[idx], random_state=0)
    digital = task.score(model, X, y, backend=DigitalBackend())
    ideal = task.score(model, X, y, backend=AnalogBackend("ideal", seed=0))
    assert abs(digital - ideal) <= 2 / X.shape[0]  # float32 tiles: at most a tie flips
    noisy = task.score(model, X, y, backend=AnalogBackend("hwa_standard", "1d", seed=0))
    assert noisy > 0.5


@pytest.mark.parametrize("name", ["svm", "logreg"])
def test_noise_free_fine_tuning_keeps_the_plain_model_good(name, labelled):
    X, y, w = labelled
    plain_task = get_task(name, **FAST[name])
    plain = plain_task.score(plain_task.fit(X, y, sample_weight=w, random_state=0), X, y)
    task = get_task(name, hwa="ideal", hwa_noise_scale=0.0, **FAST[name])
    tuned = task.score(task.fit(X, y, sample_weight=w, random_state=0), X, y)
    assert tuned >= plain - 0.03


def test_mlp_hwa_needs_relu(labelled):
    X, y, w = labelled
    task = get_task("mlp", hwa="hwa_standard", activation="tanh", max_iter=5)
    with pytest.raises(InputError, match="relu"):
        task.fit(X, y, sample_weight=w)


# ------------------------------------------------------------------ evaluate --hwa


@pytest.fixture(scope="module")
def digits_qcs(tmp_path_factory):
    path = tmp_path_factory.mktemp("hwa") / "digits.qcs"
    assert main(["reduce", "builtin:digits", "--budget", "5%", "--holdout", "0.2",
                 "-o", str(path)]) == 0
    return str(path)


@pytest.mark.parametrize(
    "extra, hwa, backend",
    [
        (["--backend", "analog:hermes@1h", "--hwa"], "hermes@1h", "analog:hermes@1h"),
        (["--hwa", "hwa_standard@1d"], "hwa_standard@1d", "digital"),
        ([], None, "digital"),
    ],
    ids=["from-backend", "explicit", "none"],
)
def test_evaluate_hwa_option(digits_qcs, capsys, extra, hwa, backend):
    argv = ["evaluate", "builtin:digits", digits_qcs, "--task", "logreg", "--json", *extra]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hwa"] == hwa and out["backend"] == backend
    assert 0.5 < out["coreset_value"] <= 1.0


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--task", "svm", "--hwa"], "analog --backend"),
        (["--task", "svm", "--hwa", "nope@1d"], "unknown analog preset"),
        (["--task", "svm", "--hwa", "hwa_standard@-3h"], "negative"),
        (["--task", "kmeans", "--hwa", "hwa_standard@1d"], "svm, logreg, mlp"),
        (["--task", "pca", "--backend", "analog:hermes@1d", "--hwa"], "svm, logreg, mlp"),
    ],
    ids=["no-target", "preset", "time", "kmeans", "pca"],
)
def test_evaluate_hwa_errors_exit_2_with_one_line(digits_qcs, capsys, extra, needle):
    assert main(["evaluate", "builtin:digits", digits_qcs, *extra]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert captured.out == ""

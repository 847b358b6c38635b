"""ebm.Net: parameters, the free phase, predictions, the EP update against the true gradient."""

import numpy as np
import pytest

import ebm


def test_parameters_are_read_only_views(small_run):
    net = small_run.net
    assert net.sizes == [784, 500, 10]
    w, b = net.weights, net.biases
    assert [a.shape for a in w] == [(784, 500), (500, 10)]
    assert [a.shape for a in b] == [(500,), (10,)]
    assert all(a.dtype == np.float32 for a in w + b)
    # views of the net's own memory (no copy), read-only: the net cannot be changed through them
    assert all(not a.flags.writeable and not a.flags.owndata for a in w + b)
    assert np.shares_memory(w[0], net.weights[0])
    with pytest.raises(ValueError, match="read-only"):
        w[0][0, 0] = 1.0
    copy = w[0].copy()
    copy[:] = 0
    assert net.weights[0].any()
    # the view keeps the net alive (its base), so its memory outlives every other reference
    total = float(w[0].sum())
    net = ebm.Net(w, b)  # built from the views: its own copy
    del net
    import gc

    gc.collect()
    assert isinstance(w[0].base, ebm.Net) and float(w[0].sum()) == total


def test_float32_inputs_are_read_in_place(small_run, data):
    # a C-contiguous float32 array is read without a copy; other layouts are converted, with
    # the same predictions
    net = small_run.net
    x = np.ascontiguousarray(data[2][:300], dtype=np.float32)
    p = net.predict(x)
    np.testing.assert_array_equal(net.predict(np.asfortranarray(x)), p)
    np.testing.assert_array_equal(net.predict(x.astype(np.float64)), p)
    np.testing.assert_array_equal(net.predict(x.reshape(-1, 28, 28)), p)
    assert x.flags.writeable  # the borrow is released


def test_relax_and_predict_shapes(small_run, data):
    net = small_run.net
    x = data[2][:37]
    states = net.relax(x)
    assert [s.shape for s in states] == [(37, 500), (37, 10)]
    assert all(s.dtype == np.float32 for s in states)
    assert all(((s >= 0) & (s <= 1)).all() for s in states)  # the hard sigmoid's box
    p = net.predict(x)
    assert p.shape == (37,) and p.dtype == np.int64
    np.testing.assert_array_equal(p, states[-1].argmax(axis=1))
    # fewer steps, and a start that is already the fixed point
    assert [s.shape for s in net.relax(x, steps=1)] == [(37, 500), (37, 10)]
    for a, b in zip(net.relax(x, steps=0, start=states), states):
        np.testing.assert_array_equal(a, b)
    later = net.relax(x, steps=5, start=net.relax(x, steps=3))
    for a, b in zip(later, net.relax(x, steps=8)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # (n, rows, cols) and uint8 images
    np.testing.assert_array_equal(net.predict(x.reshape(-1, 28, 28)), p)


def test_evaluate_matches_the_run(small_run, data):
    # the run's test error is on the first 500 test examples (data.test_limit)
    x, y = data[2][:500], data[3][:500]
    assert small_run.net.evaluate(x, y) == small_run.test_error
    assert np.mean(small_run.net.predict(x) != y) == small_run.test_error


def test_input_errors(small_run, data):
    net = small_run.net
    with pytest.raises(ValueError, match=r"input x has shape \[3, 100\], expected \[3, 784\]"):
        net.predict(np.zeros((3, 100), np.float32))
    with pytest.raises(ValueError, match="y has 2 labels for 3 images"):
        net.evaluate(np.zeros((3, 784)), [1, 2])
    with pytest.raises(ValueError, match="y\\[0\\] = 12"):
        net.evaluate(np.zeros((1, 784)), [12])
    with pytest.raises(ValueError, match="start has 1 arrays"):
        net.relax(np.zeros((3, 784)), start=[np.zeros((3, 500))])
    with pytest.raises(FileNotFoundError):
        ebm.Net.load("/nonexistent/model.npz")


def test_net_from_arrays(small_run, data):
    net = ebm.Net(small_run.net.weights, small_run.net.biases)
    assert net.sha256 == small_run.model_sha256
    np.testing.assert_array_equal(net.predict(data[2][:50]), small_run.net.predict(data[2][:50]))
    with pytest.raises(ValueError):
        ebm.Net([np.zeros((4, 3))], [np.zeros(2)])


def glorot(sizes, rng):
    weights = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        a = np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-a, a, size=(n_in, n_out)).astype(np.float32))
    return weights, [np.zeros(n, np.float32) for n in sizes[1:]]


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_ep_update_against_the_true_gradient(data):
    # the gradient-fidelity check of `ebm gradcheck` on a Glorot 784-100-10 net
    rng = np.random.default_rng(1)
    net = ebm.Net(*glorot([784, 100, 10], rng))
    x, y = data[0][::500], data[1][::500]  # 20 training examples
    truth = net.true_gradient(x, y)
    assert truth["solve_residual"] < 1e-10
    assert [w.shape for w in truth["weights"]] == [(784, 100), (100, 10)]
    assert truth["weights"][0].dtype == np.float64
    for nudging, beta, floor in [("centred", 1e-3, 0.999), ("one-sided", 1e-4, 0.99)]:
        estimate = net.ep_update(x, y, beta=beta, nudging=nudging)
        for k in range(2):
            flat = lambda g: np.concatenate([g["weights"][k].ravel(), g["biases"][k].ravel()])
            c = cosine(flat(estimate), flat(truth))
            assert c > floor, f"{nudging} beta {beta} layer {k}: cosine {c}"
    with pytest.raises(ValueError, match="nudging"):
        net.ep_update(x, y, beta=0.1, nudging="sideways")
    with pytest.raises(ValueError, match="beta"):
        net.ep_update(x, y, beta=0.0)

"""Decoding products: every route computes x @ W.T + b, and the route kept for a batch
size is the fastest correct one measured."""

import time

import numpy as np
import pytest
import torch

from charrnn.config import ModelConfig
from charrnn.decoding import inference_step
from charrnn.decoding import matmul_routes as products
from charrnn.decoding.inference_step import InferenceStep
from charrnn.decoding.matmul_routes import POOLS, Product, batch_class, choose_routes
from charrnn.model.network import CharRNN


@pytest.mark.parametrize("rows", [1, 3, 8, 64])
@pytest.mark.parametrize("shape", [(30, 12), (2048, 512)])
def test_every_route_computes_the_same_product(rows, shape):
    torch.manual_seed(0)
    weight, bias = torch.randn(shape), torch.randn(shape[0])
    x = np.random.default_rng(1).uniform(-1, 1, (rows, shape[1])).astype(np.float32)
    expected = torch.nn.functional.linear(torch.from_numpy(x), weight, bias).numpy()
    product = Product(weight, bias)
    routes = product.routes(rows)
    assert "torch addmm" in routes and ("numpy gemv" in routes) == (rows == 1)
    for name, route in routes.items():
        out = np.empty((rows, shape[0]), np.float32)
        np.testing.assert_allclose(route(x, out), expected, rtol=1e-4, atol=1e-4,
                                   err_msg=name)
    out = np.empty((rows, shape[0]), np.float32)
    np.testing.assert_allclose(product(x, out), expected, rtol=1e-4, atol=1e-4)
    assert set(product.timings[batch_class(rows)]) == set(routes)


def test_the_fastest_correct_route_is_kept_and_a_wrong_one_never(monkeypatch):
    weight = torch.randn(16, 8)
    product = Product(weight, None)

    def wrong(x, out):  # fastest of all, and wrong
        out[:] = 0
        return out

    def slow(x, out):
        sum(range(20_000))
        return product._addmm(x, out)

    monkeypatch.setattr(product, "routes", lambda rows: {"torch addmm": product._addmm,
                                                        "wrong": wrong, "slow": slow})
    x = np.ones((2, 8), np.float32)
    product(x, np.empty((2, 16), np.float32))
    assert product.chosen == {2: "torch addmm"}
    assert "wrong" not in product.timings[2]
    product(np.ones((1, 8), np.float32), np.empty((1, 16), np.float32))
    assert set(product.chosen) == {1, 2}  # a new batch class measures again
    calls = []
    monkeypatch.setattr(product, "measure", lambda rows: calls.append(rows))
    product(np.ones((2, 8), np.float32), np.empty((2, 16), np.float32))
    assert calls == []  # ... and a known one does not


def test_batch_classes_are_powers_of_two():
    assert [batch_class(r) for r in (1, 2, 3, 5, 8, 9, 64, 65)] == [1, 2, 4, 8, 8, 16, 64, 128]


def test_without_onednn_the_other_routes_remain(monkeypatch):
    monkeypatch.setattr(products, "PACKED_OPS", False)
    assert "oneDNN packed" not in Product(torch.randn(4, 4), None).routes(8)


@pytest.mark.parametrize("weights", ["fp32", "int8"])
def test_a_step_keeps_its_products_in_the_faster_thread_pool(weights):
    torch.manual_seed(0)
    step = [Product(torch.randn(256, 128), None, weights),
            Product(torch.randn(30, 128), torch.randn(30))]
    seconds = choose_routes(step, 8)
    pools = {POOLS[product.chosen[8]] for product in step}
    assert len(pools) == 1  # never OpenBLAS's threads and torch's in one step
    assert f"{pools.pop()} only" == min(seconds, key=seconds.__getitem__)
    if weights == "int8":  # fbgemm runs in torch's pool, so the head joins it there
        assert set(seconds) == {"torch only"}


def _slowed(route, seconds=0.002):
    def slowed(x, out):
        time.sleep(seconds)
        return route(x, out)
    return slowed


def test_a_route_slower_in_use_than_when_timed_makes_the_step_choose_again(monkeypatch):
    """A choice made in a noisy moment is not kept for the life of a server: a kept route
    whose calls take more than SLOWER times their timing is timed again (though not
    within RECHECK_GAP steps of the last timing), and the step runs on, exact, with the
    routes chosen then."""
    watched = products.WATCH_EVERY * products.WATCH_SAMPLES  # calls until a verdict
    monkeypatch.setattr(inference_step, "RECHECK_GAP", watched + watched // 2)
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(hidden_size=64, embed_size=8, vocab_size=20)).eval()
    step = InferenceStep(model)
    state = model.initial_state(1)
    step(torch.tensor([3]), state)  # chooses the batch-1 routes
    head = step.head
    head.kept[1] = _slowed(head.kept[1])  # it now runs far slower than it was timed
    for _ in range(watched + 1):
        _, state = step(torch.tensor([3]), state)
    assert step.rechecks == {} and head.kept[1].__name__ == "slowed"  # too soon: let be
    for _ in range(watched):
        _, state = step(torch.tensor([3]), state)
    assert step.rechecks == {1: 1}
    assert head.kept[1].__name__ != "slowed"
    ids, slow = torch.randint(0, 20, (30,)), state
    with torch.no_grad():
        for i in ids:
            logits, slow = model(i.view(1, 1), slow)
            fast, state = step(i.view(1), state)
            assert torch.allclose(fast, torch.log_softmax(logits[:, 0], -1), atol=1e-5)


def test_every_batch_size_in_use_is_timed_again_now_and_then(monkeypatch):
    """A faster route missed while the machine was busy is found again: every
    RETIME_EVERY steps each batch size's routes are timed anew (when next used)."""
    monkeypatch.setattr(inference_step, "RETIME_EVERY", 8)
    model = CharRNN(ModelConfig(hidden_size=16, embed_size=4, vocab_size=10)).eval()
    step, ones, fours = InferenceStep(model), model.initial_state(1), model.initial_state(4)
    for _ in range(10):  # steps 1-10 at one row: timed at the first, again at the 8th
        _, ones = step(torch.tensor([1]), ones)
    assert step.retimes == {1: 1}
    for _ in range(7):  # steps 11-17 at four rows: timed at the 11th, again at the 16th
        _, fours = step(torch.tensor([1, 2, 3, 4]), fours)
    assert step.retimes == {1: 1, 4: 1}
    step(torch.tensor([1]), ones)  # the one-row routes' turn came at step 16 too
    assert step.retimes == {1: 2, 4: 1} and step.rechecks == {}


def test_a_route_kept_again_is_then_expected_to_take_what_it_took():
    """Chosen again, a route that is just slower inside a step than alone becomes the
    expectation, so the step is not sent to time its routes over and over."""
    product = Product(torch.randn(16, 8), None)
    told = []
    product.on_slower = told.append
    x, out = np.ones((1, 8), np.float32), np.empty((1, 16), np.float32)
    product(x, out)
    name = product.chosen[1]
    product.kept[1] = _slowed(product.kept[1])
    for _ in range(products.WATCH_EVERY * products.WATCH_SAMPLES):
        product(x, out)
    assert told == [1]
    product.use(1, name)  # the same route chosen again ...
    assert product.expected[1] >= 0.002  # ... now expected to take what it took
    product.kept[1] = _slowed(product.kept[1])
    for _ in range(products.WATCH_EVERY * products.WATCH_SAMPLES):
        product(x, out)
    assert told == [1]

"""Decoding products: every route computes x @ W.T + b, and the route kept for a batch
size is the fastest correct one measured."""

import numpy as np
import pytest
import torch

from charrnn.decoding import matmul_routes as products
from charrnn.decoding.matmul_routes import POOLS, Product, batch_class, choose_routes


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

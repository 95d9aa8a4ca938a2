"""The pieces of data-parallel training that need no process group: shards and scales."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch import ddp  # noqa: E402
from plateau_cli.adapters.torch.batches import ArrayBatches  # noqa: E402
from plateau_cli.adapters.torch.training import Objective  # noqa: E402
from plateau_cli.run.distributed import Launch  # noqa: E402

pytestmark = pytest.mark.torch


def context(rank: int, world: int = 2) -> ddp.DdpContext:
    return ddp.DdpContext(Launch(rank, world, rank, "127.0.0.1:0"), torch.device("cpu"), "gloo")


def array_batches(n: int, batch: int, seed: int | None = 0) -> ArrayBatches:
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    y = torch.arange(n)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return ArrayBatches(x, y, batch, torch.device("cpu"), generator)


@pytest.mark.parametrize(("n", "batch", "world"), [(37, 8, 2), (36, 6, 3), (33, 8, 2)])
def test_shards_put_together_are_the_one_process_batches(n: int, batch: int, world: int) -> None:
    one = [yb.tolist() for _, yb in array_batches(n, batch)]
    shards = [ddp.ShardedBatches(array_batches(n, batch), context(r, world)) for r in range(world)]
    per_rank = [[(yb.tolist(), s.scale) for _, yb in s] for s in shards]
    kept = [b for b in one if len(b) >= world]  # a trailing batch smaller than world is dropped
    assert [len(r) for r in per_rank] == [len(kept)] * world
    assert all(len(s) == len(kept) for s in shards)
    for k, whole in enumerate(kept):
        assert [i for r in range(world) for i in per_rank[r][k][0]] == whole
        # Each rank's share of the batch times world: the scales average to exactly 1.
        assert sum(per_rank[r][k][1] for r in range(world)) == pytest.approx(world)
    assert sum(s.local_samples for s in shards) == sum(len(b) for b in kept)


def test_share_scaled_losses_average_to_the_whole_batch_loss() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 4)
    x, y = torch.randn(7, 3), torch.randint(0, 4, (7,))
    plain = Objective(torch.nn.CrossEntropyLoss(), None, "index")
    whole_loss, _ = plain.run(model, x, y)
    whole_loss.backward()
    whole_grad = model.weight.grad.clone()
    losses, grads = [], []
    for xs, ys in zip(torch.tensor_split(x, 2), torch.tensor_split(y, 2), strict=True):
        source = type("Batch", (), {"scale": len(ys) * 2 / 7})()
        model.zero_grad()
        loss, _ = ddp.objective_for(plain, source, context(0)).run(model, xs, ys)
        loss.backward()
        losses.append(loss.item())
        grads.append(model.weight.grad.clone())
    assert sum(losses) / 2 == pytest.approx(whole_loss.item(), rel=1e-6)
    torch.testing.assert_close((grads[0] + grads[1]) / 2, whole_grad)


def test_evaluating_in_order_draws_nothing_from_the_training_shuffle() -> None:
    sharded = ddp.ShardedBatches(array_batches(20, 4), context(0))
    state = sharded.whole.generator.get_state()
    ordered = ddp.in_order(sharded)
    assert [yb.tolist() for _, yb in ordered] == [[0, 1], [4, 5], [8, 9], [12, 13], [16, 17]]
    assert torch.equal(sharded.whole.generator.get_state(), state)


def test_one_process_leaves_everything_as_it_was() -> None:
    batches = array_batches(10, 4)
    plain = Objective(torch.nn.CrossEntropyLoss(), None, "index")
    assert ddp.shard(batches, None, 0) is batches
    assert ddp.objective_for(plain, batches, None) is plain
    assert ddp.mean_over_ranks({"loss": 0.5}, 10, None) == {"loss": 0.5}
    model = torch.nn.Linear(2, 2)
    assert ddp.Wrapper(None)(model) is model


def test_a_global_batch_smaller_than_the_world_is_refused() -> None:
    with pytest.raises(ddp.DistributedError, match="at least 2"):
        ddp.shard(array_batches(10, 1), context(0), 0)

"""Reading torchrun's environment: who is rank 0, and what a malformed launch says."""

from __future__ import annotations

import pytest

from plateau_cli.run.distributed import DistributedError, Launch, check_global_batch, detect

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500"}  # fmt: skip


def test_no_launcher_is_one_process() -> None:
    assert detect({}) is None


def test_world_size_one_is_the_one_process_path() -> None:
    assert detect({**TORCHRUN, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}) is None


def test_torchrun_environment_is_read() -> None:
    launch = detect(TORCHRUN)
    assert launch == Launch(rank=1, world_size=2, local_rank=1, master="127.0.0.1:29500")
    assert not launch.is_main
    assert detect({**TORCHRUN, "RANK": "0"}).is_main


def test_local_rank_defaults_to_rank() -> None:
    env = {k: v for k, v in TORCHRUN.items() if k != "LOCAL_RANK"}
    assert detect(env).local_rank == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"MASTER_PORT": ""}, "MASTER_PORT is not"),
        ({"RANK": "two"}, "must be integers"),
        ({"RANK": "2"}, "RANK 2 is not within WORLD_SIZE 2"),
    ],
)
def test_malformed_launch_is_one_clear_error(change: dict, words: str) -> None:
    with pytest.raises(DistributedError, match=words) as info:
        detect({**TORCHRUN, **change})
    assert info.value.exit_status == 2


def test_global_batch_must_give_every_rank_a_sample() -> None:
    launch = detect(TORCHRUN)
    check_global_batch(2, launch)
    with pytest.raises(DistributedError, match="at least 2"):
        check_global_batch(1, launch)


def test_trial_under_torchrun_is_refused_before_any_work(monkeypatch) -> None:
    from plateau_cli.run.distributed import refuse_several_processes

    refuse_several_processes("trial")  # one process: nothing to say
    for key, value in TORCHRUN.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DistributedError, match="trial runs in one process"):
        refuse_several_processes("trial")


def test_multi_worker_is_refused_before_anything_loads() -> None:
    """Keras 3 fails under MultiWorkerMirroredStrategy (keras-team/keras#20585): one line, from
    the option check that runs before a framework is imported."""
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.errors import UsageError
    from plateau_cli.run.resume import check_load_options

    with pytest.raises(UsageError, match=r"multi-worker: Keras 3 cannot train.*mirrored"):
        check_load_options("keras", LoadOptions(distribute="multi-worker"))
    check_load_options("keras", LoadOptions(distribute="mirrored"))


@pytest.mark.keras
def test_an_unknown_distribution_is_refused() -> None:
    pytest.importorskip("tensorflow")
    from plateau_cli.adapters.keras.distribute import enter
    from plateau_cli.errors import UsageError

    with pytest.raises(UsageError, match="--distribute must be one of mirrored"):
        enter("ring")


def test_distribute_on_a_torch_model_points_at_torchrun() -> None:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.errors import UsageError
    from plateau_cli.run.resume import check_load_options

    with pytest.raises(UsageError, match="torchrun"):
        check_load_options("torch", LoadOptions(distribute="mirrored"))

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


@pytest.mark.keras
@pytest.mark.parametrize(
    ("config", "chief"),
    [
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}', True),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}', False),
        ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker"}}', False),
        ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief"}}', True),
    ],
)
def test_the_multi_worker_chief_is_read_from_tf_config(config: str, chief: bool) -> None:
    pytest.importorskip("tensorflow")
    from plateau_cli.adapters.keras.distribute import _is_chief

    assert _is_chief(config) is chief


@pytest.mark.keras
def test_multi_worker_without_tf_config_says_how_to_set_it() -> None:
    pytest.importorskip("tensorflow")
    from plateau_cli.adapters.keras.distribute import _is_chief, enter
    from plateau_cli.errors import UsageError

    with pytest.raises(UsageError, match="TF_CONFIG"):
        _is_chief(None)
    with pytest.raises(UsageError, match="--distribute must be one of"):
        enter("ring")


def test_distribute_on_a_torch_model_points_at_torchrun() -> None:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.errors import UsageError
    from plateau_cli.run.resume import check_load_options

    with pytest.raises(UsageError, match="torchrun"):
        check_load_options("torch", LoadOptions(distribute="mirrored"))

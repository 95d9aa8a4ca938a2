"""The batch size to resume at: from each place a run records it, the estimate, the order."""

from __future__ import annotations

import argparse
import json

import pytest

from plateau_cli.run import batch_size as bs


def test_lightning_hyper_parameters():
    ckpt = {"epoch": 3, "hyper_parameters": {"lr": 0.01, "batch_size": 128}}
    assert bs.from_checkpoint(ckpt) == (128, "hyper_parameters.batch_size")


def test_lightning_datamodule_section():
    ckpt = {"hyper_parameters": {"lr": 0.01}, "datamodule_hyper_parameters": {"batch_size": 64}}
    assert bs.from_checkpoint(ckpt) is None  # not a settings entry we know of
    ckpt = {"hyper_parameters": {"lr": 0.01, "data": {"train_batch_size": 96}}}
    assert bs.from_checkpoint(ckpt) == (96, "hyper_parameters.data.train_batch_size")


def test_script_args_namespace_and_top_level_entry():
    args = argparse.Namespace(lr=0.1, batch_size=48, epochs=10)
    assert bs.from_checkpoint({"args": args}) == (48, "args.batch_size")
    assert bs.from_checkpoint({"batch_size": 16, "args": args}) == (16, "batch_size")
    assert bs.from_checkpoint({"config": {"bs": 24}}) == (24, "config.bs")


def test_nonsense_values_are_not_batch_sizes():
    assert bs.from_checkpoint({"batch_size": 0}) is None
    assert bs.from_checkpoint({"batch_size": True}) is None
    assert bs.from_checkpoint({"batch_size": "64"}) is None
    assert bs.from_checkpoint({"batch_size": 12.5}) is None
    assert bs.from_checkpoint({"hyper_parameters": [1, 2]}) is None


def test_trainer_state_json_beside_the_checkpoint(tmp_path):
    folder = tmp_path / "checkpoint-500"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(
        json.dumps({"global_step": 500, "train_batch_size": 16, "epoch": 2.0})
    )
    state = bs.trainer_state_beside(folder / "model.safetensors")
    assert state is not None
    assert bs.from_trainer_state(state) == 16
    assert bs.trainer_state_beside(folder) == state  # the directory itself
    (folder / "trainer_state.json").write_text("{not json")
    assert bs.trainer_state_beside(folder) is None


@pytest.mark.parametrize(
    ("n_train", "batch"),
    [(50_000, 256), (50_000, 32), (1437, 32), (1437, 64), (60_000, 128), (10_000, 512)],
)
def test_step_count_gives_back_the_power_of_two(n_train, batch):
    epochs = 7
    per_epoch = -(-n_train // batch)  # the last partial batch kept
    assert bs.from_step_count(per_epoch * epochs, epochs, n_train) == batch
    dropped = n_train // batch  # DataLoader(drop_last=True)
    assert bs.from_step_count(dropped * epochs, epochs, n_train) == batch


def test_step_count_that_fits_no_power_of_two_is_refused():
    per_epoch = -(-1000 // 30)  # 34 steps: batch sizes 30 fits, no power of two does
    assert bs.from_step_count(per_epoch * 3, 3, 1000) is None
    # The augment sample: 120 epochs of 4 steps on 120 rows, given the 1437-row digits set.
    assert bs.from_step_count(480, 120, 120) == 32
    assert bs.from_step_count(480, 120, 1437) is None
    assert bs.resolve(None, steps=480, epochs=120, n_train=1437).source == bs.DEFAULT


def test_step_count_refuses_what_whole_epochs_cannot_give():
    assert bs.from_step_count(101, 4, 1000) is None  # not a whole number of epochs
    assert bs.from_step_count(4 * 2000, 4, 1000) is None  # more steps than samples
    assert bs.from_step_count(0, 4, 1000) is None


def test_the_order_option_state_checkpoint_steps_default():
    state = {"train_batch_size": 8}
    recorded = (64, "hyper_parameters.batch_size")
    steps = {"steps": 196 * 5, "epochs": 5, "n_train": 50_000}
    assert bs.resolve(12, trainer_state=state, recorded=recorded, **steps).source == bs.OPTION
    chosen = bs.resolve(None, trainer_state=state, recorded=recorded, **steps)
    assert (chosen.value, chosen.source) == (8, bs.TRAINER_STATE)
    chosen = bs.resolve(None, recorded=recorded, **steps)
    assert (chosen.value, chosen.source) == (64, bs.CHECKPOINT)
    assert "hyper_parameters.batch_size" in chosen.detail
    chosen = bs.resolve(None, **steps)
    assert (chosen.value, chosen.source) == (256, bs.STEPS)
    assert "980 steps over 5 epochs" in chosen.detail
    chosen = bs.resolve(None)
    assert (chosen.value, chosen.source) == (32, bs.DEFAULT)


def test_a_zero_based_epoch_index_is_tried_as_a_count():
    # A script that saved `epoch` as the last epoch's 0-based index: 4 means 5 epochs done.
    chosen = bs.resolve(None, steps=196 * 5, epochs=4, n_train=50_000)
    assert (chosen.value, chosen.source) == (256, bs.STEPS)


def test_a_data_loader_keeps_its_own_batch_size():
    chosen = bs.resolve(None)
    assert bs.loader_batch_size(chosen, 100) == bs.BatchSize(
        100, bs.DATA_LOADER, "the DataLoader's own (--batch-size does not apply)"
    )
    assert bs.loader_batch_size(chosen, None) is chosen

"""Tests of the PyTorch adapter (plateau_cli.adapters.torch)."""

"""Keras compatibility cases: each model is built with Keras' own API the way keras.io shows."""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

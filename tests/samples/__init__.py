"""Tests of the bundled sample models (sample_models/)."""

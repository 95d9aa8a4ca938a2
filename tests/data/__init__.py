"""Tests of plateau_cli.data: readers, fit checks, health checks."""

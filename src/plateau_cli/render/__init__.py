"""Rendering for people (rich); the only package besides cli.py that may import rich."""

"""plateau-cli: say why training stalled, and resume a saved model with one targeted change."""

__version__ = "0.1.0"

"""A factory module that imports torchvision at the top, as pytorch/examples' do."""

import torchvision  # noqa: F401


def build() -> None:
    return None

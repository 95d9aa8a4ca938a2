"""Stands in for a torchvision wheel built for another torch: importing it fails the same way."""

raise RuntimeError("operator torchvision::nms does not exist")

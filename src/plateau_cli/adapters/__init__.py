"""Framework adapters; see `base.py` for the interface and `sniff.py` for picking one."""

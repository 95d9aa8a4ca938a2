"""The run pipeline: resume, its continuation, trial, the training loop and the interrupt guard.

Kept together because they share one life cycle (load, change, train, save, report) and one set
of crash-safety rules; nothing here imports a framework at module level.
"""

"""`--strategy auto`: choose the change most likely to break this plateau, and say why.

Two sources of evidence, used for what each can see:

- the run's log (`--log`, or the history.csv of an earlier plateau-cli run), diagnosed as
  `plateau-cli diagnose` does: the dynamics (oscillation, divergence, a bouncing plateau,
  overfitting over time) that a single checkpoint cannot show;
- the checkpoint and the data, always: training and validation loss against the chance level,
  frozen parameters, dead ReLU units, the narrowest layer, the learning rate (what a log cannot
  show: FINDINGS §2, §4). So auto works on a bare checkpoint too.

The rules (rules.py) are checked against benchmarks/escape.py: on the sample plateaus, auto's
choice is the strategy that escape.py measures best.
"""

from plateau_cli.auto.evidence import Evidence, gather
from plateau_cli.auto.rules import Choice, choose

__all__ = ["Choice", "Evidence", "choose", "gather"]

"""How often `diagnose` is right on the labelled corpus (tests/fixtures/diagnose_corpus).

    python benchmarks/diagnose_accuracy.py            # all three groups
    python benchmarks/diagnose_accuracy.py --misses   # and list every miss

For each group (split=tune: the induced runs the thresholds were tuned on; split=holdout: the
induced runs kept out of tuning; real: logs that public projects committed) it prints a
confusion matrix (rows: the hand label; columns: the verdict), the share of acceptable
verdicts and of acceptable recommended strategies, the crashes, and the stricter share of
verdicts equal to the label itself (acceptable_labels also admits the readings a careful
person could give the same numbers). Every log runs through
`plateau-cli diagnose FILE --json` in-process, as tests/e2e/test_diagnose_corpus.py runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="diagnose accuracy on the labelled corpus")
    parser.add_argument("--misses", action="store_true", help="list every unacceptable verdict")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from tests.fixtures.diagnose_corpus.corpus import confusion, load_cases, rates, run_all

    outcomes = run_all(load_cases())
    for group in ("tune", "holdout", "real"):
        chosen = [o for o in outcomes if o.case.group == group]
        if not chosen:
            continue
        verdicts, strategies, crashes = rates(chosen)
        exact = sum(o.verdict == o.case.label for o in chosen) / len(chosen)
        print(f"\n## {group}: {len(chosen)} logs")
        print(confusion(chosen))
        print(
            f"acceptable verdicts {verdicts:.0%}  acceptable recommendations {strategies:.0%}"
            f"  crashes {crashes}  (verdict = the label itself: {exact:.0%})"
        )
        if args.misses:
            for o in chosen:
                if not (o.verdict_ok and o.strategy_ok):
                    print(
                        f"  MISS {o.case.file}: label {o.case.label}, verdict {o.verdict}"
                        f" ({o.strategy}); {o.detail[:110]}"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

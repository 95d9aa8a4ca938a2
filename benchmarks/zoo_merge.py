"""Merge escape_zoo.py runs: the escapes and the random pick from an all-arms run, auto from a
`--arms continue,auto` run (same zoo, epochs and seeds), per half (tune / report).

    python benchmarks/zoo_merge.py after.json full_a.json full_b.json

auto that decides `restart` trains nothing: it scores the checkpoint unchanged (continue's
start, counted as continue). Random pick = the mean over the strategies of each one's mean
score, a refused strategy counting as continue.
"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from escape_zoo import STRATEGIES, score


def main(argv: list[str]) -> int:
    auto_rows = json.loads(Path(argv[0]).read_text())
    full = {}
    for name in argv[1:]:
        for row in json.loads(Path(name).read_text()):
            full[(row["kind"], row["dataset"])] = row
    totals = {h: {"n": 0, "esc": 0, "auto": 0, "worse": 0, "gain": []} for h in ("tune", "report")}
    print("| plateau | data (half) | continue | escapes (any strategy) | auto chose | auto |"
          " random pick |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row in auto_rows:
        kind, t = row["kind"], totals[row["half"]]
        control = [score(kind, r) for r in row["runs"]["continue"]]
        c, spread = st.mean(control), st.stdev(control)

        def escapes(values: list[float], c: float = c, spread: float = spread) -> bool:
            return c - st.mean(values) > max(st.stdev(values), spread, 0.02 * abs(c))

        ran = [score(kind, r) for r in row["runs"]["auto"] if r["applies"]]
        chosen = sorted({r.get("chosen") or "-" for r in row["runs"]["auto"] if r["applies"]})
        auto = st.mean(ran) if len(ran) == len(control) else c
        auto_escapes = len(ran) == len(control) and escapes(ran)
        found, means = [], []
        other = full.get((kind, row["dataset"]))
        for strategy in STRATEGIES if other else ():
            got = [score(kind, r) for r in other["runs"].get(strategy, []) if r["applies"]]
            means.append(st.mean(got) if len(got) == len(control) else c)
            if len(got) == len(control) and escapes(got):
                found.append(strategy)
        pick = st.mean(means) if means else float("nan")
        t["n"] += 1
        t["worse"] += auto - c > max(spread, 0.02 * abs(c))
        t["esc"] += bool(found)
        t["auto"] += bool(found) and auto_escapes
        if means:
            t["gain"].append(pick - auto)
        print(
            f"| {kind} | {row['dataset']} ({row['half']}) | {c:.3f} |"
            f" {', '.join(found) or 'nothing'} |"
            f" {', '.join(chosen) or 'restart (no training)'} | {auto:.3f}"
            f"{' (escapes)' if auto_escapes else ''} | {pick:.3f} |"
        )
    for half, t in totals.items():
        gain = f"{st.mean(t['gain']):+.3f}" if t["gain"] else "n/a"
        print(
            f"{half}: {t['n']} plateaus, some strategy escapes {t['esc']}, auto escapes"
            f" {t['auto']} of them; auto worse than continue {t['worse']}; random pick minus"
            f" auto (+ = auto better) {gain}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Merge escape_zoo.py runs into one table: per plateau the strategies that escape, auto's
choice and whether it escaped, and a random pick; totals per half (tune / report) and family.

    python benchmarks/zoo_merge.py FILE.json [FILE.json ...]

The files may split the zoo (families, kinds) or the arms (an all-arms run and a later
`--arms continue,auto` run): per plateau, the first file that ran an arm gives it. auto that
decides `restart` trains nothing: it scores the checkpoint unchanged (counted as continue).
Random pick = the mean over the strategies that were run of each one's mean score, a refused
strategy counting as continue.
"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from escape_zoo import STRATEGIES, score


def _merged(names: list[str]) -> list[dict]:
    rows: dict[tuple, dict] = {}
    for name in names:
        for row in json.loads(Path(name).read_text()):
            key = (row.get("family", "mlp"), row["kind"], row["dataset"])
            if key not in rows:
                rows[key] = {**row, "runs": dict(row["runs"])}
            else:
                for arm, runs in row["runs"].items():
                    rows[key]["runs"].setdefault(arm, runs)
    return list(rows.values())


def main(argv: list[str]) -> int:
    rows = _merged(argv)
    groups = sorted({(r.get("family", "mlp"), r["half"]) for r in rows})
    totals = {g: {"n": 0, "esc": 0, "auto": 0, "worse": 0, "gain": []} for g in groups}
    print("| family | plateau | data (half) | continue | escapes (any strategy) | auto chose |"
          " auto | random pick |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        kind, family = row["kind"], row.get("family", "mlp")
        t = totals[(family, row["half"])]
        control = [score(kind, r) for r in row["runs"]["continue"]]
        c, spread = st.mean(control), st.stdev(control)

        def escapes(values: list[float], c: float = c, spread: float = spread) -> bool:
            return c - st.mean(values) > max(st.stdev(values), spread, 0.02 * abs(c))

        auto_runs = row["runs"].get("auto", [])
        ran = [score(kind, r) for r in auto_runs if r["applies"]]
        chosen = sorted({r.get("chosen") or "-" for r in auto_runs if r["applies"]})
        auto = st.mean(ran) if len(ran) == len(control) else c
        auto_escapes = len(ran) == len(control) and escapes(ran)
        found, means = [], []
        for strategy in (s for s in STRATEGIES if s in row["runs"]):
            got = [score(kind, r) for r in row["runs"][strategy] if r["applies"]]
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
            f"| {family} | {kind} | {row['dataset']} ({row['half']}) | {c:.3f} |"
            f" {', '.join(found) or 'nothing'} |"
            f" {', '.join(chosen) or 'restart (no training)'} | {auto:.3f}"
            f"{' (escapes)' if auto_escapes else ''} | {pick:.3f} |"
        )
    for (family, half), t in totals.items():
        gain = f"{st.mean(t['gain']):+.3f}" if t["gain"] else "n/a"
        print(
            f"{family} {half}: {t['n']} plateaus, some strategy escapes {t['esc']}, auto escapes"
            f" {t['auto']} of them; auto worse than continue {t['worse']}; random pick minus"
            f" auto (+ = auto better) {gain}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

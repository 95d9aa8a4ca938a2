#!/usr/bin/env bash
# The retraining job a team puts in its pipeline, after a training run:
#
#   1. diagnose the run's log;
#   2. nothing actionable: done (exit 0);
#   3. findings: resume the saved model with the strategy the evidence points to
#      (--strategy auto reads the same log, plus the checkpoint and the data);
#   4. fail the job when the monitored metric did not improve (--require-improvement: exit 1);
#   5. keep the report, the curves and the new checkpoint as the job's artefacts.
#
# Usage: examples/ci-retrain.sh MODEL DATA LOG [OUT_DIR] [-- extra plateau-cli resume options]
#   e.g. examples/ci-retrain.sh model.keras data.npz training.log retrain -- --epochs 20
# Environment: PLATEAU_CLI (default: plateau-cli), ARTIFACTS_DIR (copy the reports there too).
# Exit codes: 0 nothing to do or improved; 1 findings that did not improve (or that no strategy
# fixes: the diagnosis's actions are printed); 2 bad input; 130 interrupted.
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
model=$1 data=$2 log=$3
out=${4:-retrain}
shift $(( $# >= 4 ? 4 : 3 ))
[ "${1:-}" = "--" ] && shift
plateau=${PLATEAU_CLI:-plateau-cli}

status=0
diagnosis=$($plateau diagnose "$log" --json --model "$model" --data "$data") || status=$?
case $status in
  0) echo "ci-retrain: no actionable finding in $log: nothing to retrain"; exit 0 ;;
  1) ;;  # findings: go on
  *) exit "$status" ;;  # bad input (2) or interrupted (130)
esac

summary=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["recommendation"]
print(d["verdict"], r["strategy"], sep="\t")
for a in r["actions"]:
    print("action:", a["id"], "-", a["text"], file=sys.stderr)
' <<<"$diagnosis")
verdict=${summary%%$'\t'*}
strategy=${summary##*$'\t'}
echo "ci-retrain: $log: $verdict (the log suggests: $strategy)"
if [ "$strategy" = "none" ]; then
  echo "ci-retrain: no resume strategy fixes this; see the actions above" >&2
  exit 1
fi

status=0
$plateau resume "$model" --strategy auto --log "$log" --data "$data" --out "$out" \
  --require-improvement "$@" || status=$?

if [ -n "${ARTIFACTS_DIR:-}" ] && [ -f "$out/report.json" ]; then
  mkdir -p "$ARTIFACTS_DIR"
  cp "$out"/report.json "$out"/report.md "$out"/history.csv "$out"/curves.png "$ARTIFACTS_DIR"/
  # The new checkpoint too: report.json names it (none when the run wrote no checkpoint).
  checkpoint=$(python3 -c '
import json, sys
output = json.load(open(sys.argv[1], encoding="utf-8")).get("output")
print(output["path"] if output else "")
' "$out/report.json")
  if [ -n "$checkpoint" ]; then
    cp -R "$checkpoint" "$ARTIFACTS_DIR"/
  fi
fi
case $status in
  0) echo "ci-retrain: improved; new checkpoint and report in $out" ;;
  1) echo "ci-retrain: resumed, but the monitored metric did not improve (report in $out)" >&2 ;;
esac
exit "$status"

#!/usr/bin/env bash
# step.sh: one line when a build step starts and one when it ends, with its time, so that the quiet
# build (`mvn -q`, the README's first command) shows what it is doing. The step's own output goes
# to a log, printed only when the step fails.
#
#   step.sh run LABEL LOG -- COMMAND...     runs COMMAND as one step
#   step.sh skip LABEL WHY                  says that the step was skipped, and why
#   step.sh begin NAME LABEL STAMP_DIR      starts a step that another tool (a Maven plugin) runs ...
#   step.sh end NAME STAMP_DIR              ... and ends it
set -euo pipefail

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

case "$1" in
run)
  label="$2" log="$3"
  shift 4  # run LABEL LOG --
  mkdir -p "$(dirname "$log")"
  echo "[fusedloss] $label ..."
  start=$(now)
  if ! "$@" > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "[fusedloss] $label FAILED after $(seconds "$start" "$(now)") s (whole log: $log)"
    exit 1
  fi
  echo "[fusedloss] $label: done in $(seconds "$start" "$(now)") s"
  ;;
skip)
  echo "[fusedloss] $2: skipped ($3)"
  ;;
begin)
  mkdir -p "$4"
  now > "$4/$2.start"
  echo "$3" > "$4/$2.label"
  echo "[fusedloss] $3 ..."
  ;;
end)
  if [ -f "$3/$2.start" ]; then
    echo "[fusedloss] $(cat "$3/$2.label"): done in $(seconds "$(cat "$3/$2.start")" "$(now)") s"
    rm -f "$3/$2.start"
  fi
  ;;
*)
  echo "usage: $0 run LABEL LOG -- COMMAND... | skip LABEL WHY | begin NAME LABEL DIR | end NAME DIR" >&2
  exit 64
  ;;
esac

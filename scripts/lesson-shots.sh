#!/usr/bin/env bash
# Screenshots of every lesson mid-run on a 1280x720 projector, two A/B pairs,
# and presenter
# mode on 1280x720 and 1920x1080, for docs/lessons.md. Needs xvfb-run and a
# build of the window (default build/release/app/poolscope).
#
#   scripts/lesson-shots.sh [POOLSCOPE] [OUT_DIR]
set -euo pipefail
app=${1:-build/release/app/poolscope}
out=${2:-docs/images/lessons}
[ -x "$app" ] || { echo "lesson-shots: no window program at $app" >&2; exit 2; }
mkdir -p "$out"
shot() { # screen, file, after-ms, args...
  local screen=$1 file=$2 after=$3
  shift 3
  xvfb-run -a -s "-screen 0 ${screen}x24" "$app" --no-settings "$@" \
    --screenshot "$out/$file" --after "$after" | tail -1
}
# Mid-run (lesson runs are paced to about 5 s, docs/lessons.md), so the
# timeline shows the run as a class sees it (lesson 3: the GIL turns).
for n in 1 2 3 4 5 6 7 8 9 10; do
  case $n in
    6) shot 1280x720 "lesson-$n-1280x720.png" 20000 --lesson $n --sweep ;;
    *) shot 1280x720 "lesson-$n-1280x720.png" 2500 --lesson $n --start ;;
  esac
done
# A/B at the end: A, B, A, B, A, B (medians of three), the time bars'
# overhead segment in lesson 7.
shot 1280x720 lesson-3-ab-1280x720.png 75000 --lesson 3 --compare
shot 1280x720 lesson-7-ab-1280x720.png 75000 --lesson 7 --compare
shot 1280x720 presenter-1280x720.png 2500 --lesson 3 --start --presenter
shot 1920x1080 presenter-1920x1080.png 2500 --lesson 3 --start --presenter
shot 1920x1080 lesson-3-1920x1080.png 2500 --lesson 3 --start

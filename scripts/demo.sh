#!/usr/bin/env bash
# The main job, end to end, on the embedded defaults: a local git forge (no GitHub, no network),
# the worked example paper `tiny-moons`, and its two example submissions pushed as a participant
# would. The post-receive hook queues each push; the worker reproduces it in the sandbox and judges
# every rubric leaf; scores come back as git notes, HTML reports and a leaderboard.
# The judge is the configured OpenAI-compatible endpoint when GRADER_OPENAI_API_KEY/OPENAI_API_KEY
# or judge.base_url is set; otherwise the DUMMY judge, and every output says so.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${REPROBOT_DEMO_DIR:-$ROOT/.reprobot/demo}
mkdir -p "$DATA"
CONFIG=$DATA/reprobot.yaml
cat >"$CONFIG" <<YAML
# written by scripts/demo.sh
data_dir: $DATA
bot:
  report_base_url: file://$DATA/results
  progress_every_s: 3
YAML
R() { "$ROOT/.venv/bin/reprobot" --config "$CONFIG" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. the local forge (a bare git repository with one paper/<id> branch per paper)"
R forge init
FORGE=$DATA/forge.git

say "2. two participants push their submissions for paper tiny-moons"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for kind in good weak; do
  git clone -q "file://$FORGE" "$WORK/$kind" 2>/dev/null
  (
    cd "$WORK/$kind"
    branch="submit/tiny-moons/$kind-example"
    # A later demo pushes a new commit on top of the earlier one (the same submission, pushed again).
    if git rev-parse -q --verify "origin/$branch" >/dev/null; then
      git checkout -q -b "$branch" "origin/$branch"
    else
      git checkout -q -b "$branch" origin/paper/tiny-moons
    fi
    cp -r "$ROOT/examples/submissions/tiny-moons-$kind/." .
    git add -A
    git -c user.name="$kind participant" -c user.email="$kind@example.invalid" \
      commit -q --allow-empty -m "tiny-moons: $kind reproduction ($(date -u +%FT%TZ))"
    git push -q origin "HEAD:refs/heads/submit/tiny-moons/$kind-example"
  )
done

say "3. the worker reproduces (Docker sandbox) and judges each queued submission"
R worker --once

say "4. the scores, as git notes on the submitted commits (git log --notes=reprobot)"
for kind in good weak; do
  git --git-dir "$FORGE" log -1 --notes=reprobot --format='%h %s%n%N' "submit/tiny-moons/$kind-example"
done

say "5. the leaderboard"
R leaderboard --results "$DATA/results"
for ext in md html csv json; do
  R leaderboard --results "$DATA/results" --out "$DATA/leaderboard.$ext" >/dev/null
done
echo
R costs
echo
echo "reports:"
find "$DATA/results" -name report.html | sort | sed 's/^/  /'
echo "leaderboard: $DATA/leaderboard.html (.md, .csv, .json)"
echo "the dashboard, reports and leaderboard in a browser: $ROOT/.venv/bin/reprobot --config $CONFIG serve --results-only"
echo "  then open http://127.0.0.1:8080/"
echo "settle an appeal: $ROOT/.venv/bin/reprobot --config $CONFIG override RESULT_DIR LEAF pass|fail REASON"
echo "queue: $ROOT/.venv/bin/reprobot --config $CONFIG jobs"

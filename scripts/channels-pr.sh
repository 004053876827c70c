#!/usr/bin/env bash
# scripts/channels-pr.sh OUT VERSION CHANNEL — turn the channels change that
# `dagger call release --channel` returned (OUT/release/channels.yaml, the
# checked-out commit's file edited by `slipway promote`) into a commit on a
# new branch off the default branch, and open a pull request with it.
#
# The edit is merged three ways (git merge-file: base = the file at HEAD,
# ours = the default branch's file, theirs = the returned file), so channel
# changes committed on the default branch since the tag are kept; a
# conflict fails the job and nothing is pushed (promote by hand:
# `slipway promote <product> VERSION --to CHANNEL`).
#
# Env: CHANNELS_BASE (default origin/main: fetched first), CHANNELS_PUSH=0
# (commit only: no fetch, no push, no pull request; used by
# scripts/dagger-e2e.sh), GH_TOKEN for `gh`.
set -euo pipefail
out=$1 version=$2 channel=$3
file=release/channels.yaml
base=${CHANNELS_BASE:-origin/main}
push=${CHANNELS_PUSH:-1}
returned=$out/$file
[[ -f $returned ]] || { echo "channels-pr: $returned missing (was release called with --channel?)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "HEAD:$file" >"$tmp/base.yaml"
if [[ $push == 1 ]]; then
  git fetch --quiet origin "${base#origin/}"
fi
branch=channels/$channel-$version
git switch --quiet -C "$branch" "$base"
if ! git merge-file -L "$base" -L "released commit" -L returned "$file" "$tmp/base.yaml" "$returned"; then
  git checkout --quiet -- "$file"
  echo "channels-pr: $file changed on $base in a way that conflicts with serving $version on $channel; promote by hand" >&2
  exit 1
fi
if git diff --quiet -- "$file"; then
  echo "channels-pr: $base already serves $version on $channel; nothing to propose"
  exit 0
fi
git add "$file"
git -c user.name="slipway release" -c user.email="slipway-release@users.noreply.github.com" \
  commit --quiet -m "channels: serve $version on $channel" -m "Proposed by the release of $version (dagger call release --channel=$channel)."
echo "channels-pr: committed on $branch:"
git show --stat --oneline HEAD | cat
[[ $push == 1 ]] || exit 0

git push --quiet --force origin "$branch"
if [[ -n $(gh pr list --head "$branch" --state open --json number --jq '.[].number') ]]; then
  echo "channels-pr: a pull request for $branch is already open (branch updated)"
  exit 0
fi
{
  echo "Serve $version on \`$channel\`: proposed by the release workflow. Merging it lets promote.yml apply it (TUF metadata re-signed)."
  echo
  echo '```'
  sed -n '/^Proposed change/,$p' "$out/report.txt"
  echo '```'
} >"$tmp/body.md"
gh pr create --base "${base#origin/}" --head "$branch" --title "channels: serve $version on $channel" --body-file "$tmp/body.md"

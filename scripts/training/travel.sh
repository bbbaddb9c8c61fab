#!/usr/bin/env bash
# Make the working tree small enough to travel to a lent GPU machine (the device tool copies tracked files and
# untracked files git does not ignore, plus what a call carries: 64 MiB in all), and put it back afterwards.
#
#   bash scripts/training/travel.sh trim [CHECKPOINT_ID ...]   # leave models/, docs/ and the other checkpoints behind
#   bash scripts/training/travel.sh size [CARRY ...]           # what a call would take, with these carried paths
#   bash scripts/training/travel.sh restore                    # as before the trim
#
# trim keeps scripts/training/checkpoints/<id>.pt for each id given (and the noise estimator, which denoiser training
# reads); with no id it keeps only the estimator (a call that just carries photos). It drops the rest from the index
# (git rm --cached: the files stay on disk) and hides them in .git/info/exclude (anchored paths), after saving that
# file, HEAD and the dropped paths under .git/restora-travel/. Nothing may be committed until restore, which unstages
# just those paths and brings the exclude file back; it refuses when HEAD has moved (a commit made while trimmed
# deletes models/, docs/ and the checkpoints: undo it first, e.g. `git reset --soft HEAD~1`). trim refuses when the
# index already holds staged changes or when the tree is already trimmed.
set -euo pipefail
cd "$(dirname "$0")/../.."
git_dir=$(git rev-parse --git-dir)
mark="$git_dir/restora-travel"
exclude="$git_dir/info/exclude"
ckpts=scripts/training/checkpoints

size() { # bytes of what a call takes: the tree git would copy, and the carried paths
  local tree carry=0
  # (a tracked file missing on disk is not copied: du's complaint about it is dropped)
  tree=$( (git ls-files -co --exclude-standard -z | du --files0-from=- -cb 2>/dev/null || true) | tail -1 | cut -f1)
  if [ $# -gt 0 ]; then carry=$( (du -cb "$@" || true) | tail -1 | cut -f1); fi
  echo "tree $((tree / 1048576)) MiB + carried $((carry / 1048576)) MiB = $(((tree + carry) / 1048576)) MiB (limit 64)"
  [ $((tree + carry)) -lt $((64 * 1048576)) ]
}

case "${1:-}" in
  trim)
    shift
    if [ -e "$mark" ]; then echo "already trimmed (restore first): $mark exists" >&2; exit 1; fi
    if ! git diff --cached --quiet; then echo "the index holds staged changes: commit or unstage them first" >&2; exit 1; fi
    keep=("$ckpts/restora-denoise-estimator.pt")
    for id in "$@"; do
      [ -f "$ckpts/$id.pt" ] || { echo "no checkpoint $ckpts/$id.pt" >&2; exit 1; }
      keep+=("$ckpts/$id.pt")
    done
    drop=(models docs)
    while IFS= read -r f; do
      case " ${keep[*]} " in *" $f "*) ;; *) drop+=("$f") ;; esac
    done < <(git ls-files "$ckpts")
    mkdir -p "$(dirname "$exclude")" "$mark"
    touch "$exclude"
    cp "$exclude" "$mark/exclude"
    git rev-parse HEAD > "$mark/head"
    printf '%s\n' "${drop[@]}" > "$mark/paths"
    git rm -r -q --cached "${drop[@]}"
    { echo "# restora travel.sh trim (restore puts this file back)"; printf '/%s\n' "${drop[@]}"; } >> "$exclude"
    echo "left behind: models/, docs/ and $((${#drop[@]} - 2)) checkpoint(s); kept: ${keep[*]}"
    size || echo "still too large for a call" >&2
    ;;
  restore)
    if [ ! -e "$mark" ]; then echo "not trimmed: nothing to restore"; exit 0; fi
    if [ "$(git rev-parse HEAD)" != "$(cat "$mark/head")" ]; then
      echo "HEAD moved since the trim: a commit made while trimmed deletes what was left behind." >&2
      echo "Undo it first (e.g. git reset --soft HEAD~1), then restore again." >&2
      exit 1
    fi
    mapfile -t paths < "$mark/paths"
    git reset -q -- "${paths[@]}"
    cp "$mark/exclude" "$exclude"
    rm -rf "$mark"
    echo "restored: ${#paths[@]} path(s) back in the index, and $exclude as before the trim"
    ;;
  size)
    shift
    size "$@"
    ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac

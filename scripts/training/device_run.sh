#!/usr/bin/env bash
# One prepared training call on a lent GPU machine (the device tool), from the repository root there:
#   bash scripts/training/device_run.sh CONFIG MINUTES WORKERS
# Needs the config's photos packed here first (pack_photos.py --out scripts/training/data-cache/pack, carried).
# Writes to $OUT: env.txt (GPU, torch), train.log, the checkpoint <id>.pt (EMA weights, as committed; the full
# state with the optimiser stays there: over the 16 MiB a returned file may have), log.jsonl, gpu.csv (utilisation
# every 15 s) and pytest.log (the training package's tests under that machine's torch, on one core beside the run).
# TESTS=0 skips the tests (their core goes to the run). DEVICE=cpu runs it here, as a smoke test. TRAIN_ARGS adds
# options to train.py (e.g. "--check-every 25"). PROBE="OPTS;OPTS;..." first times those train.py variants, each with
# TRAIN_ARGS added (speed_probe.py: about 30 s each, more with --compile, at most PROBE_TIMEOUT s, default 150, +15;
# results in $OUT/probe.json), and trains with the one that would make the most steps; MINUTES then covers the probe
# and the training, which gets what the probe left. PACK is the packed photos' folder (default
# scripts/training/data-cache/pack); every folder the config needs is checked against its manifest first.
# scripts/training/README.md, "GPU path", has the steps around it (packing, what stays behind, validating here).
set -u
cfg=$1; minutes=$2; workers=${3:-13}
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/out}
mkdir -p "$out"
{ nvidia-smi -L; nproc; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"; } > "$out/env.txt" 2>&1
cat "$out/env.txt"
pack=${PACK:-scripts/training/data-cache/pack}
dirs=()
for d in $(python3 -c "import sys, yaml; print(' '.join(yaml.safe_load(open(sys.argv[1]))['data']['dirs']))" "$cfg"); do
  dirs+=("$pack/$(basename "$d")")
done
# every packed photo must be here (a machine released between two calls has lost the first call's folders)
python3 -m scripts.training.pack_photos --verify "${dirs[@]}" > "$out/verify.txt" 2>&1
verified=$?
cat "$out/verify.txt"
if [ "$verified" != 0 ]; then
  echo "packed photos incomplete: not training"; exit 1
fi
tests=
if [ "${TESTS:-1}" != 0 ]; then
  (OMP_NUM_THREADS=1 timeout 400 python3 -m pytest -q -p no:cacheprovider scripts/training/tests > "$out/pytest.log" 2>&1
   echo "pytest rc $?" >> "$out/pytest.log") &
  tests=$!
fi
# every 15 s: GPU load, and the latest checkpoint into $OUT (what is there comes back even if the call is cut off)
(while sleep 15; do nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader >> "$out/gpu.csv"
   for f in /tmp/root/scripts/training/checkpoints/*.pt; do [ -f "$f" ] && cp -f "$f" "$out/"; done; done) &
monitor=$!
train_args=${TRAIN_ARGS:-}
if [ -n "${PROBE:-}" ]; then
  variants=()
  IFS=';' read -ra opts <<< "$PROBE"
  for v in "${opts[@]}"; do variants+=("--variant=$(echo $v ${TRAIN_ARGS:-})"); done  # each timed with TRAIN_ARGS too
  probe_start=$(date +%s)
  python3 -m scripts.training.speed_probe "$cfg" --device "${DEVICE:-cuda}" --workers "$workers" --minutes "$minutes" \
    --timeout "${PROBE_TIMEOUT:-150}" --dirs "${dirs[@]}" --out "$out/probe.json" "${variants[@]}" 2>&1 | tee "$out/probe.txt"
  picked=$(sed -n 's/^pick: //p' "$out/probe.txt" | tail -1)
  echo "probe picked: ${picked:-nothing (training with TRAIN_ARGS as given)}"
  [ -n "$picked" ] && train_args=$picked
  # MINUTES covers the probe and the training: the training gets what the probe left (at least one minute)
  minutes=$(python3 -c "import sys; print(round(max(1.0, float(sys.argv[1]) - float(sys.argv[2]) / 60), 2))" \
    "$minutes" $(($(date +%s) - probe_start)))
  echo "training for $minutes min"
fi
train_args=$(echo $train_args)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
tv=$(python3 -c "import torch; print(torch.__version__)")
export RESTORA_TRAIN_HARDWARE="1 $gpu (a lent machine, $(nproc) CPU cores: $workers data workers), torch $tv, $minutes min${train_args:+, train.py $train_args}"
# (train.py goes on from the id's committed checkpoint: /tmp/root's after a first call, else the repository's)
PYTHONUNBUFFERED=1 timeout -s TERM $((${minutes%.*} * 60 + 150)) python3 -m scripts.training.train "$cfg" --device "${DEVICE:-cuda}" \
  --workers "$workers" --threads 2 --minutes "$minutes" --root /tmp/root --dirs "${dirs[@]}" $train_args 2>&1 | tee "$out/train.log"
cp /tmp/root/scripts/training/checkpoints/*.pt /tmp/root/runs/*/log.jsonl "$out/" 2>&1
if [ -n "$tests" ]; then wait "$tests"; tail -3 "$out/pytest.log"; fi
kill "$monitor" 2>/dev/null
exit 0

#!/usr/bin/env bash
# GPU figures for the learners, run on a machine with a CUDA JAX (the lent device machine here):
# R2D2 and Agent57 at the throughput benchmark's sizes (LunarLander, batch 64 x 60, LSTM 128),
# actor alone with 16/64 copies, and R2D2 with the paper's Atari network (batch 32 x 80, LSTM
# 512) and Agent57 at NGU's (batch 64 x 120, LSTM 512). Wheels the machine lacks travel in
# .whl/ (see README, "Benchmarks": GPU). Sections: lunar, atari_r2d2, atari_agent57 (all default).
#     bash benchmarks/gpu_learner.sh OUT_DIR [SECTION...]
set -uo pipefail
out=${1:-/tmp/gpu_out}
shift || true
sections=${*:-lunar atari_r2d2 atari_agent57}
want() { [[ " $sections " == *" $1 "* ]]; }
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
        --target /tmp/site . || exit 1
    export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import jax, flax; print('jax', jax.__version__, 'flax', flax.__version__, jax.devices())" \
    | tee -a "$out/gpu.txt"
if want lunar; then
    python3 benchmarks/r2d2_throughput.py --agent agent57 --envs 16 64 --steps 50000 \
        --updates 300 2>"$out/agent57.err" | tee "$out/agent57.jsonl"
    python3 benchmarks/r2d2_throughput.py --agent r2d2 --envs 64 --steps 50000 --updates 300 \
        2>"$out/r2d2.err" | tee "$out/r2d2.jsonl"
fi
if want atari_r2d2; then
    python3 benchmarks/atari_learner.py --updates 100 2>"$out/atari.err" | tee "$out/atari.jsonl"
fi
if want atari_agent57; then
    python3 benchmarks/atari_learner.py --agent agent57 --updates 100 \
        2>"$out/atari57.err" | tee "$out/atari57.jsonl"
fi

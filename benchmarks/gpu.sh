#!/usr/bin/env bash
# The GPU figures in benchmarks/results/*gpu*.json, as run on a lent single-GPU machine with PyTorch and Lightning
# preinstalled (jsonargparse's wheels carried in .whl/; MNIST, and text/warpeace_input.txt for language, in $DATA:
# `bash benchmarks/gpu_prepare.sh STEP...` puts both beside the tree, to carry).
#   bash benchmarks/gpu.sh [smoke|speed|quiet_cpu|dcgan|gans|folder_gans|convnets|language|imdb_seeds]...     results land in benchmarks/results/ (and in $OUT when set)
set -uo pipefail
DATA=${DATA:-../shared/data}
export WANDB_MODE=${WANDB_MODE:-disabled} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

smoke() {  # every config trains on the GPU in bf16 (MNIST-like data on the device); predict runs from a checkpoint
    for config in configs/*/*.yaml; do
        case $config in configs/trainer/*|configs/sweeps/*) continue ;; esac
        on_device=$(grep -q "MNISTDataModule" "$config" && echo "--data.data_on_device true")
        LIGHTNING_ZOO_DATA="$DATA" $PY cli.py fit --config "$config" --config configs/trainer/gpu_bf16.yaml \
            $on_device --trainer.fast_dev_run true --trainer.logger false || echo "FAILED: $config"
    done
    $PY cli.py fit --config configs/classification/mlp_mnist.yaml --config configs/trainer/gpu_bf16.yaml \
        --data.data_dir "$DATA" --trainer.max_epochs 1 --trainer.logger TensorBoardLogger \
        --trainer.logger.save_dir logs/gpu_smoke --trainer.enable_progress_bar false &&
        $PY cli.py predict --config configs/classification/mlp_mnist.yaml --config configs/trainer/gpu_bf16.yaml \
            --data.data_dir "$DATA" --trainer.logger false \
            --ckpt_path logs/gpu_smoke/version_0/checkpoints/last.ckpt &&
        head -3 logs/gpu_smoke/version_0/predictions/*.csv || echo "FAILED: predict"
}

quiet_cpu() {  # the CPU speed target on a machine with no other load, at this project's 2 threads
    $PY benchmarks/classifier_speed.py --data-dir "$DATA" --rounds 8 --threads 2 --name mlp_speed_2_thread_quiet_machine
}

speed() {
    $PY benchmarks/gpu_throughput.py --data-dir "$DATA"
    $PY benchmarks/classifier_speed.py --data-dir "$DATA" --accelerator gpu --rounds 6
    $PY benchmarks/mlp_mnist.py --data-dir "$DATA" --name mlp_mnist_gpu_bf16 --trainer.accelerator gpu \
        --trainer.devices 1 --trainer.precision bf16-mixed --data.data_on_device true
}

dcgan() {  # the book's 50 epochs in float32
    $PY benchmarks/dcgan_mnist.py --data-dir "$DATA" --name dcgan_mnist_gpu --workdir logs/bench_dcgan_gpu \
        --trainer.accelerator gpu --trainer.devices 1 --data.data_on_device true
}

gans() {  # the books' full schedules that a CPU cannot run, measured with the shipped feature networks; the most
    # expensive first (ACGAN's generator is 8 M parameters of 5x5 convolutions at 14x14 and 28x28)
    for name in ${GANS:-acgan_mnist infogan_mnist cgan_mnist gan_mnist fashion_gan_fashion_mnist wgan_gp_mnist wgan_mnist lsgan_mnist}; do
        epochs=$(sed -n 's/^  max_epochs: //p' configs/gan/$name.yaml)
        $PY benchmarks/gan.py --config configs/gan/$name.yaml --data-dir "$DATA" --epochs "$epochs" \
            --name ${name}_gpu --workdir logs/bench_${name}_gpu --trainer.accelerator gpu --trainer.devices 1 \
            --data.data_on_device true || echo "FAILED: $name"
    done
}

folder_gans() {  # the RGB GANs on the 819 Pokemon artworks at their configs' schedules: losses, seconds an epoch,
    # sample grids and classifier-FID/KID every 10 epochs (819 vs 819, the shipped rotation network feature_cnn_pokemon).
    # The 64 px DCGAN and LSGAN ran their 100 epochs on 2 CPU cores (FOLDER_GANS="dcgan64_pokemon ..." adds them)
    for name in ${FOLDER_GANS:-wgan_gp64_pokemon wgan64_pokemon dcgan128_pokemon}; do
        epochs=$(sed -n 's/^  max_epochs: //p' configs/gan/$name.yaml)
        $PY benchmarks/gan.py --config configs/gan/$name.yaml --data.folder "$DATA/pokemon/images" --epochs "$epochs" \
            --name ${name}_gpu --workdir logs/bench_${name}_gpu --trainer.accelerator gpu --trainer.devices 1 \
            --data.num_workers 8 || echo "FAILED: $name"
    done
}

convnets() {  # DLwP's augmented cats-vs-dogs convnet: 160 passes (the book's 100 x 100 batches of 32), hours on a CPU;
    # its results file is the card's (the JSON records the device). CONVNET_RESUME=CKPT continues the run recorded in
    # that file from CKPT
    $PY benchmarks/classifier.py --config configs/classification/small_convnet_augmented_cats_and_dogs.yaml \
        --data-dir "$DATA" --trainer.accelerator gpu --trainer.devices 1 --data.num_workers 12 \
        ${CONVNET_RESUME:+--resume "$CONVNET_RESUME"} || echo "FAILED"
}

language() {  # the books' War and Peace schedules: 300 epochs each, early stopping on the training loss (patience 50).
    # On one H200 an epoch took 5.2 s (LSTM) and 5.4 s (SimpleRNN) with the two side by side (2026-12-04): the full
    # schedules take about 27 minutes, more than a loan's 15. MINUTES=N stops each at the first epoch's end after N
    # minutes of training (counted over all chunks: Lightning's Timer restores its time from the checkpoint);
    # LMS_PARALLEL=1 runs the two side by side, each logging to benchmarks/results/logs/<name>_gpu.log. RESUME=1
    # continues each from logs/bench_<name>_gpu/checkpoints/last.ckpt, which must be carried to the machine: the
    # SimpleRNN's (16 MB with RMSprop's state) could come back from a loan in $OUT, the LSTM's (64 MB) cannot.
    # PRECISION=bf16-mixed runs them in bf16 autocast (cuDNN's LSTM in bf16; its losses recorded as bf16's): on one H100
    # it gained E2 4 % (20.0 ms a step against 20.9; E2 alone in float32: 4.2 s an epoch, 111 epochs in 8 minutes).
    # PRECISION=auto times a training step in each (benchmarks/char_rnn_precision_speed.py) and runs bf16 only where it
    # alone brings a book figure into MINUTES (the schedule's end, or E2's epoch 151), else float32. LOGS=$OUT on a
    # lent machine brings each epoch's log line back even from a call cut short
    logs=${LOGS:-benchmarks/results/logs}
    mkdir -p "$logs"
    for name in ${LMS:-char_rnn_warpeace char_lstm_warpeace}; do
        precision=${PRECISION:-}
        if [ "$precision" = auto ]; then
            reach=$([ "$name" = char_lstm_warpeace ] && echo "--reach 151")  # the book's first E2 loss before 300
            precision=$($PY benchmarks/char_rnn_precision_speed.py --config configs/language/$name.yaml --pick $reach \
                --budget $((10#${MINUTES:-600} * 60)) --name ${name}_precision_speed_gpu | tail -1) || {
                echo "FAILED: $name's precision probe"; continue; }
        fi
        $PY benchmarks/language_curves.py --config configs/language/$name.yaml --data-dir "$DATA" --name ${name}_gpu \
            --note "seed 0, {epochs_trained} epochs ({stopped_by}), one GPU, {precision}" --trainer.accelerator gpu \
            --trainer.devices 1 --data.data_on_device true ${RESUME:+--resume} \
            ${precision:+--trainer.precision $precision} \
            ${MINUTES:+--trainer.callbacks+=pytorch_lightning.callbacks.Timer --trainer.callbacks.interval epoch \
                --trainer.callbacks.duration 00:00:$(printf %02d "$((10#$MINUTES))"):00} >"$logs/${name}_gpu.log" 2>&1 ||
            echo "FAILED: $name ($logs/${name}_gpu.log)" &
        [ -n "${LMS_PARALLEL:-}" ] || wait
    done
    wait
}

imdb_seeds() {  # E4 the book's way (the test set validates) over ten seeds, on the fused kernel (--model.recurrent_dropout
    # 0): the recurrent-dropout loop is latency-bound, 0.15 s a batch on 2 CPU cores, unmeasured on a GPU. On the CPU
    # seeds 0-5 gave 88.44 +- 0.21 % (bilstm_imdb_book_protocol{,_seeds}.json), the book's 89.6 far outside: more
    # seeds would only narrow that
    $PY benchmarks/epoch_curves.py --config configs/sequence/bilstm_imdb.yaml --data-dir "$DATA" --data.val_size 0 \
        --model.recurrent_dropout 0 --trainer.max_epochs 10 --seeds ${IMDB_SEEDS:-0 1 2 3 4 5 6 7 8 9} \
        --name bilstm_imdb_book_protocol_seeds_gpu --trainer.accelerator gpu --trainer.devices 1 || echo "FAILED: imdb_seeds"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(smoke speed quiet_cpu)
stamp=$(mktemp)
for step in "${steps[@]}"; do  # each step's results go to $OUT as soon as it ends: a later one may outlast the call
    $step
    if [ -n "${OUT:-}" ]; then find benchmarks/results -type f -newer "$stamp" -exec cp {} "$OUT"/ \; ; fi
done

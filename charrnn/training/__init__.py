"""Training: a run planned, then a model taught. Imports model and data, never decoding.

    plan.py         what the user asked for -> configs, run folder, resume source
    launch.py       a plan carried out: corpus, validation file, loop (`charrnn.train`)
    presets.py      model size presets, the size a time budget buys, fine-tuning's settings
    parent.py       fine-tuning: the model a run starts from, its lineage, merged vocabulary
    loop.py         the training loop, in named phases
    train_step.py   one teacher-forced step, and the optimiser it updates
    training_text.py what the loop reads: stream or document batches, and validation
    per_source.py   many files: held out per source, drawn by weight, validated per source
    glimpse.py      a short sample (per label) at each evaluation
    progress.py     what the loop carries from step to step
    schedule.py     the run's budget and the learning rate that follows it
    validation.py   the exact validation loss, shared between processes
    state.py        optimiser, hidden state and random generator as checkpoint tensors
    resumable.py    whether a checkpoint may be resumed with the settings asked for
    averaging.py    the moving average of the weights (--ema)
    report.py       the Reporter protocol through which the loop tells its caller
    metrics.py      metrics.jsonl, one line per logged step
    device.py       --device and --precision
    distributed.py  torchrun: ranks, streams per process, agreed decisions
    interrupts.py   Ctrl-C and SIGTERM as a stop request between steps
"""

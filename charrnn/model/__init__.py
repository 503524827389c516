"""Model: the network, and how a trained one is kept on disk. Imports only from data.

    network.py     CharRNN (embedding -> LSTM/GRU/RNN -> head) and its state helpers
    restarts.py    the same layers stepped so the state can restart mid-window (packing)
    cell_equations.py  the LSTM, GRU and RNN step written once: every Python path steps it
    checkpoint.py  the on-disk format: tensors in safetensors, everything else in JSON
    record.py      RunRecord: the checkpoint's JSON typed (configs, vocabulary, corpus, scores)
    contents.py    what a checkpoint must hold (shapes, bounds, finite weights) before use
    runs.py        run folders: which files make a run, the newest, the next free name
    shipped.py     the models that ship with charrnn (shipped/), found by name
    transplant.py  a parent's weights carried into a child's vocabulary, row by symbol
"""

"""Insight: seeing inside a trained network, not generating with it. Imports model and
data, never training or decoding (it reads the network's own layers, with autograd where
it needs gradients).

    cells.py    every cell's activation over a text, ranked by readable features
    reach.py    how far back the gradient reaches: |d loss_t / d h_(t-k)| over k

Each character's surprisal (`LanguageModel.explain`) stays in decoding/surprise.py: it
reads the decoder's distributions, as scoring does.
"""

"""Insight: seeing inside a trained network, not generating with it. Sits above decoding
(surprise reads the decoder's distributions) and imports neither training nor the API.

    surprise.py  each character's surprisal and the model's top predictions there
    cells.py     every cell's activation over a text, ranked by readable features
    reach.py     how far back the gradient reaches: |d loss_t / d h_(t-k)| over k
"""

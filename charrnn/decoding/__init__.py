"""Decoding: the engine that generates and scores text with a trained model. Imports model
and data, never training.

    matmul_routes.py    a step's matrix products, each by the route measured fastest here
    inference_step.py   the fast one-character inference step (exact fp32, or fp16/int8)
    decoder.py          the next-character distribution that everything below reads
    codec.py            text to ids and back: primes, stop strings, streamed pieces
    sampling.py         the one sampler: per-request options and generators, any rows
    constraints.py      what a text must and must not hold: the word rules, the guide
    automaton.py        rules joined into one automaton: tabulated, or explored lazily
    pattern.py          a regular expression as a DFA over the model's characters
    known_words.py      only words of a word list (a trie), or a share of new ones
    verse.py            verse forms: syllables, rhyme, acrostic
    pronunciation.py    syllables and rhyming parts (CMU Pronouncing Dictionary, a rule)
    particles.py        constrained text from the model's own distribution (weighted rows)
    next_words.py       the k most likely next whole words, each with its exact probability
    beam.py             beam search with stops, length penalty and no-repeat n-grams
    scoring.py          the loss of any text, read as one carried stream, or documents
    classify.py         which label wrote a text: a labelled model as a Bayes classifier
    novelty.py          sampled documents marked as copies (train, val) or new
    session.py          a text written with the model: feed, predict, continue, undo
    batcher.py          many generations at once, one batched step a character (serve)
"""

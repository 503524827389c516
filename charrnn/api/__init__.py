"""The Python API: `LanguageModel`, one object over a trained model that every way of
using it goes through (sample, beam, score, write, explain). It sits above decoding and
insight and composes them; the interface and `charrnn.load` build on it.

    language_model.py   LanguageModel, behind `charrnn.load`
"""

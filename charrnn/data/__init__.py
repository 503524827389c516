"""Data: from a file on disk to the ids training reads. Imports nothing above it.

    reading.py    a file as text chunks: encodings, byte-order marks, newlines, clear errors
    builtin.py    the built-in corpus (Python's standard library) and its fair held-out files
    vocab.py      symbols <-> ids, at character or byte level, with corpus counts
    text_format.py  TextFormat: what a text is (end symbol, labels, opening, documents)
    cache_folder.py  where the prepared corpora are kept ($CHARRNN_CACHE)
    cache.py      a corpus -> memory-mapped ids, prepared once, keyed by content hash
    files.py      many files in: folders, globs, and each file's name, source, label, weight
    collection.py many files -> one memory-mapped id file, each file cached on its own
    weighted_sources.py  many files cut as training reads them: held out per source, weighted
    labelled_lines.py  LABEL<TAB>text lines: a text per label, as if a file per label
    split.py      training text and validation text
    held_out.py   a prepared corpus cut as training cut it: what it learned, what it held out
    streams.py    the truncated-BPTT batcher: B contiguous streams read T at a time
    documents.py  a list of texts (--documents): cut, held out, batched by length
    download.py   the registry of public corpora, and checked, atomic downloads
    substrings.py a suffix array over a corpus: which substrings of a text it holds
    word_list.py  a corpus's words, kept in the checkpoint for --words-only
"""

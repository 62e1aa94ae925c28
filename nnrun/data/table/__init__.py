"""Tables as they come: words, blanks and dates turned into the numbers a network takes.

    cells.py     what a raw cell means: missing markers, quotes and spaces, canonical numbers
    encoding.py  the fitted encoding (a plain value in dataset.json and the model file) and the
                 one function every command calls to turn raw rows into arrays
    fit.py       deciding each column's kind from the training rows and fitting its encoding
    reading.py   `prepare csv`'s single streaming pass: raw columns into a compact scratch file

docs/formats.md ("The table encoding") describes the stored value.
"""

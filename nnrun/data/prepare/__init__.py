"""`nnrun prepare`: sources (csv, images, mnist, demo) become prepared datasets.

One module per source, and the steps they share: split.py (stratified splits), arrays.py (the
split files), manifest.py (dataset.json), output.py (building the output folder and moving it
into place whole), pool.py, image_cache.py and png.py (decoding many images, once). What
`infer` shares with them (decoding an image, reading CSV rows, which files are which) lives
one level up, in nnrun/data.
"""

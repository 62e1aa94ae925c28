"""`nnrun report RUN`: pictures of a run (learning curves, precision-recall curve, confusion
matrix, per-class precision and recall, first-layer weights and their GIF over epochs, the most
confident mistakes) as one self-contained HTML file and as files in RUN/report/.

build.py gathers them from the run folder (through nnrun.runs), page.py writes the HTML; the
drawing lives in figures, curves, confusion, weights and mistakes. matplotlib is imported only
here, never by training or inference.
"""

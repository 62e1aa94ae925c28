"""nnrun: networks as data, experiments from the command line."""
__version__ = "0.1.0"

"""Modules imported on first use.

`import torch` costs about two seconds on a small machine. Planning a network (names,
arguments, shapes), reading a checkpoint into numpy arrays, and the numpy inference engine need
no torch, so `nnrun check`-style work and a fast `kaggle-submit` do not pay for it. Code that
does use torch through one of these stand-ins imports it at that moment, once.
"""
import importlib


class OnFirstUse:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

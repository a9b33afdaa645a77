"""Collaborative filtering service: a three-model vote over scikit-surprise, served over HTTP."""

__version__ = "0.1.0"

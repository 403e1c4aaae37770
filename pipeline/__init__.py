"""Drift Inward: renders written meditation scripts into finished audio tracks.

Stages, each a module: parse → speech → pacing → beds → mix → master → export;
``library`` runs them over folders and ``cli`` is the ``drift`` command.
"""

__version__ = "0.1.0"

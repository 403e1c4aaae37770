"""Drift Inward: renders written meditation scripts into finished audio tracks.

Stages, each a module or package: script → job → speech → pacing → beds → mix → master →
export, stated once in ``render``;
``library`` runs them over folders, ``qc`` checks what they made, ``feed`` lists it for
listeners, and ``cli`` is the ``drift`` command.
"""

__version__ = "0.1.0"

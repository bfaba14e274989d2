"""mmobjectives: the four learning objectives behind multimodal models, derived, trained and checked.

The package is layered; each module imports only from the ones above it:

``config`` → ``data`` → ``models`` → ``losses`` → ``train`` / ``sampling`` / ``metrics`` → ``viz`` → ``widgets``

Notebooks import modules, not names: ``from mmobjectives import config, data, viz``.
"""

__version__ = "0.1.0"

"""The repository's tools, run as modules from the repository root: ``python -m tools.build_site``,
``python -m tools.make_student``, ``python -m tools.bench``; the tests import them as ``from tools import ...``."""

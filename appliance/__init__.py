"""Comptoir: the print-and-sync box for shops that run several POS tablets."""

from importlib.metadata import version

__version__ = version("comptoir-appliance")  # one source: pyproject.toml (an update names its version)

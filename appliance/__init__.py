"""Comptoir: the print-and-sync box for shops that run several POS tablets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("comptoir-appliance")  # one source: pyproject.toml (an update names its version)
except PackageNotFoundError:  # run from a checkout on PYTHONPATH, not installed (image/build signing a bundle)
    __version__ = "0+source"

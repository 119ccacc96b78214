"""Comptoir: the print-and-sync box for shops that run several POS tablets."""

__version__ = "0.1.0"

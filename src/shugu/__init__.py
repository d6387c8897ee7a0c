"""shugu (数谷): a trusted data space.

Organisations list data products with an intermediary, data users contract to use them, the
computation goes to the data, and every step lands in a tamper-evident log.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

"""finsentry: streaming sentiment monitoring for financial news."""

__version__ = "0.1.0"

"""What a value read from a file (a checkpoint's fields, its resume state) is, for the checks
that refuse a stranger's file before anything uses it, and how such a value is quoted in their
one-line errors."""
import math
import numbers


def is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """A finite real number (NaN and infinities are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def kind(value):
    return "nothing" if value is None else type(value).__name__


def shown(value):
    """The value as an error message quotes it, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

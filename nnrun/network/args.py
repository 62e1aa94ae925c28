"""Argument checks for layers: each takes (value, name) and returns the value or raises.

They raise `ValueError` with a message about the value only; the planner adds the place
(layer index, id, name) so every message reads the same way.
"""
import math
import numbers

REQUIRED = object()


# The largest size or count a layer argument may be: torch's dimensions are int64, and a layer
# of 2**31 units is already far beyond any machine's memory (the planner checks the total).
LARGEST = 2**31 - 1


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and -LARGEST <= value <= LARGEST


def _bound(value):
    """', at most N' when an integer is refused for its size alone."""
    return f", at most {LARGEST:,}" if isinstance(value, numbers.Integral) and abs(value) > LARGEST else ""


def _is_number(value):
    """A finite number: NaN would pass every range check below, and nothing takes infinity."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1{_bound(value)}, got {value!r}")
    return int(value)


def pad_or_same(value, name):
    if value == "same":
        return "same"
    if not _is_int(value) or value < 0:
        raise ValueError(f'{name} must be a whole number ≥ 0{_bound(value)} or "same", got {value!r}')
    return int(value)


def non_negative_number(value, name):
    if not _is_number(value) or value < 0:
        raise ValueError(f"{name} must be a number ≥ 0, got {value!r}")
    return float(value)


def positive_number(value, name):
    if not _is_number(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def keep_probability(value, name):
    if not _is_number(value) or not 0 < value <= 1:
        raise ValueError(f"{name} is the KEEP probability, in (0, 1] (0.9 drops 10%), got {value!r}")
    return float(value)


def fraction(value, name):
    if not _is_number(value) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def boolean(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def choice(*options):
    def check(value, name):
        if value not in options:
            listed = ", ".join(str(o) for o in options)
            raise ValueError(f"{name} must be one of {listed}, got {value!r}")
        return value
    return check


def node_id(value, name):
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise ValueError(f"{name} must be a name, got {value!r}")
    return str(value)


def node_ids(value, name):
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of layer ids, got {value!r}")
    return [node_id(v, name) for v in value]

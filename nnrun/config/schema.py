"""A small validation vocabulary for config sections.

A section is a dict of `Field`s. `validate_map` fills in defaults, checks every value, and
rejects unknown keys with a suggestion. Checks take (value, key path) and return the value
(possibly normalised) or raise UserError naming the key path, e.g. `train.optimizer.learning-rate`.
"""
import math
import numbers
from dataclasses import dataclass

from nnrun.errors import UserError, did_you_mean


@dataclass(frozen=True)
class Field:
    check: object
    default: object = None
    doc: str = ""
    aliases: tuple = ()


def _kind(value):
    return "null" if value is None else type(value).__name__


def key_path(path, key):
    """`train` + `batch-size` -> `train.batch-size`; the top level has the empty path."""
    return f"{path}.{key}" if path else str(key)


def validate_map(value, fields, path):
    """The map `value` checked against `fields`, with defaults for missing keys.

    `path` is the map's key path (`train.optimizer`), or "" for the top level of a config."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise UserError(f"{path or 'the config'}: must be a map, got {_kind(value)} {value!r}")
    names = {}
    for key, field in fields.items():
        names[key] = key
        for alias in field.aliases:
            names[alias] = key
    given = {}
    for key, item in value.items():
        if key not in names:
            where = f"{path}: unknown key" if path else "unknown top-level key"
            raise UserError(f'{where} "{key}"{did_you_mean(key, fields)}')
        canonical = names[key]
        if canonical in given:
            raise UserError(f"{key_path(path, canonical)}: given twice (the second time as {key})")
        given[canonical] = item
    resolved = {}
    for key, field in fields.items():
        where = key_path(path, key)
        if key in given:
            resolved[key] = field.check(given[key], where)
        else:
            resolved[key] = field.check(field.default, where) if field.default is not None else None
    return resolved


LARGEST_INTEGER = 2**63 - 1  # what numpy and torch hold; a config number beyond it is a mistake


def integer(minimum=None, maximum=LARGEST_INTEGER, null=False):
    def check(value, path):
        if value is None and null:
            return None
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise UserError(f"{path}: must be a whole number, got {_kind(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise UserError(f"{path}: must be ≥ {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise UserError(f"{path}: must be ≤ {maximum:,}, got {value:,}")
        return int(value)
    return check


def number(minimum=None, maximum=None, null=False, above=None):
    def check(value, path):
        if value is None and null:
            return None
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise UserError(f"{path}: must be a number, got {_kind(value)} {value!r}")
        if not math.isfinite(value):  # NaN passes every comparison below; inf is never meant
            raise UserError(f"{path}: must be a finite number, got {value}")
        if minimum is not None and value < minimum:
            raise UserError(f"{path}: must be ≥ {minimum}, got {value}")
        if above is not None and value <= above:
            raise UserError(f"{path}: must be > {above}, got {value}")
        if maximum is not None and value > maximum:
            raise UserError(f"{path}: must be ≤ {maximum}, got {value}")
        return float(value)
    return check


def number_range(minimum, maximum):
    """[low, high] with minimum < low ≤ high ≤ maximum (a scale or aspect range)."""
    def check(value, path):
        if not isinstance(value, list) or len(value) != 2:
            raise UserError(f"{path}: must be [low, high], got {_kind(value)} {value!r}")
        low, high = (number(above=minimum, maximum=maximum)(v, f"{path}[{i}]") for i, v in enumerate(value))
        if low > high:
            raise UserError(f"{path}: low {low} is above high {high}")
        return [low, high]
    return check


def one_of(*options, null=False):
    def check(value, path):
        if value is None and null:
            return None
        if value not in options:
            listed = ", ".join(str(o) for o in options)
            raise UserError(f'{path}: must be one of {listed}, got {value!r}{did_you_mean(value, options)}')
        return value
    return check


def boolean(value, path):
    if not isinstance(value, bool):
        raise UserError(f"{path}: must be true or false, got {_kind(value)} {value!r}")
    return value


def text(null=False):
    def check(value, path):
        if value is None and null:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise UserError(f"{path}: must be text, got {_kind(value)} {value!r}")
        return str(value)
    return check


def section(fields, shorthand=None):
    """A nested map; `shorthand` turns a plain value into a map (`optimizer: adam`)."""
    def check(value, path):
        if shorthand is not None and value is not None and not isinstance(value, dict):
            value = shorthand(value, path)
        return validate_map(value, fields, path)
    return check


def list_of(check_item, null=False):
    def check(value, path):
        if value is None:
            return None if null else []
        if not isinstance(value, list):
            raise UserError(f"{path}: must be a list, got {_kind(value)} {value!r}")
        return [check_item(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return check


def any_of(*checks):
    """The first check that accepts the value; the last one's error otherwise."""
    def check(value, path):
        for candidate in checks[:-1]:
            try:
                return candidate(value, path)
            except UserError:
                pass
        return checks[-1](value, path)
    return check

"""Class names and stratified train/validation/test splits.

Everything here is a pure function of its arguments (labels, sizes, seed), so the same seed gives
the same split on every machine. Stratified means every class is split in the same proportion as
the whole: a class's share of a split is the exact share rounded up or down, never further off,
and the split's total is exactly the size asked for.
"""
import math

import numpy as np

from nnrun.errors import UserError

SPLIT_ORDER = ("train", "validation", "test")


def parse_size(text, option):
    """'0.2' -> 0.2 (a fraction of the rows), '50000' -> 50000 (a count), '0' -> 0 (no split)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = text
    else:
        raw = str(text).strip()
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise UserError(f'{option} "{raw}" is neither a count (50000) nor a fraction (0.2)') from None
    if isinstance(value, float):
        if value.is_integer() and value >= 1:
            value = int(value)
        elif not 0 <= value < 1:
            raise UserError(f"{option} {value} must be a count (1, 2, ...) or a fraction in (0, 1)")
        elif value == 0:
            value = 0
    if isinstance(value, int) and value < 0:
        raise UserError(f"{option} {value} must not be negative")
    return value


def size_to_count(size, available, option):
    """How many examples a size (count or fraction) means when `available` can be taken from."""
    if isinstance(size, float):
        count = int(round(size * available))
        if count == 0:
            raise UserError(f"{option} {size} of {available} examples rounds to none; "
                            f"give a count, a larger fraction, or 0 for no such split")
        return count
    if size > available:
        raise UserError(f"{option} {size} is more than the {available} examples there are to take from")
    return size


def class_names(raw_labels):
    """Sorted distinct class names, and each raw label's index into them.

    Labels that all read as numbers are named canonically ("1.0" -> "1") and sorted numerically,
    so classes 2 and 10 come out as ["2", "10"]; any other labels sort as strings.
    """
    distinct = sorted(set(raw_labels))
    canonical = {}
    numeric = True
    for label in distinct:
        try:
            number = float(label)
        except (TypeError, ValueError):
            numeric = False
            break
        if not math.isfinite(number):
            numeric = False
            break
        canonical[label] = str(int(number)) if number.is_integer() else repr(number)
    if numeric:
        values = {name: float(name) for name in canonical.values()}
        names = sorted(values, key=values.get)
    else:
        canonical = {label: str(label) for label in distinct}
        names = sorted(set(canonical.values()))
    index = {name: i for i, name in enumerate(names)}
    return names, {label: index[canonical[label]] for label in distinct}


def require_two_classes(classes, place):
    if len(classes) < 2:
        only = f' ("{classes[0]}")' if classes else ""
        raise UserError(f"{place} has only one class{only}; classification needs at least two")


def allocate(counts, total, caps, split, classes):
    """Per-class quotas summing to `total`, each the exact share rounded down or up.

    The exact share of class c is counts[c] * total / sum(counts). Every class gets its share
    rounded down; the examples still missing go one each to the classes whose share was rounded
    down, first to those that would otherwise get none (every class should appear in every
    split), then to the largest remainders, ties by class index. No class gets more than caps[c]
    (what must stay behind for the later splits).
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    exact = counts * total / n if n else np.zeros(len(counts))
    quotas = np.floor(exact).astype(np.int64)
    over = np.flatnonzero(quotas > caps)
    if len(over):
        c = int(over[0])
        raise _too_few(classes[c], counts[c], split)
    missing = total - int(quotas.sum())
    remainder = exact - quotas
    order = sorted(np.flatnonzero((remainder > 0) & (quotas < caps)),
                   key=lambda c: (quotas[c] > 0, -remainder[c], c))
    for c in order[:missing]:
        quotas[c] += 1
    missing = total - int(quotas.sum())
    if missing or (total and np.any((quotas == 0) & (counts > 0))):
        raise UserError(
            f"the {split} split of {total} examples cannot hold at least one example of each of the "
            f"{int(np.count_nonzero(counts))} classes in proportion (the smallest class has "
            f"{int(counts[counts > 0].min())}); make the split larger")
    return quotas


def _too_few(name, count, split):
    return UserError(
        f'class "{name}" has only {count} example{"s" if count != 1 else ""}, too few to give '
        f"the {split} split its share and keep one for training; add examples or make the split smaller")


def stratified_split(labels, classes, test_size, validation_size, seed):
    """Split example indices by class: {"train": idx, "validation": idx, "test": idx}.

    The test split is taken first from all examples; the validation split then from what remains
    (so `--validation-size 0.2` is a fifth of the non-test examples). Sizes are counts or
    fractions (see parse_size); 0 means no such split. Every class keeps at least one training
    example and appears in every split asked for. Each split's indices are sorted, so stored
    splits keep the source's order; which examples land where is decided by `seed`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=len(classes))
    require_two_classes([c for c, k in zip(classes, counts) if k], "the data")
    n_test = size_to_count(test_size, len(labels), "--test-size")
    n_val = size_to_count(validation_size, len(labels) - n_test, "--validation-size")
    wanted = [name for name, n in (("test", n_test), ("validation", n_val)) if n]
    for c, k in enumerate(counts):
        if k < len(wanted) + 1:
            raise UserError(
                f'class "{classes[c]}" has only {k} example{"s" if k != 1 else ""}; '
                f"the train{''.join(', ' + w for w in wanted)} splits need at least {len(wanted) + 1} "
                f"(one each)")
    rng = np.random.default_rng(seed)
    shuffled = [rng.permutation(np.flatnonzero(labels == c)) for c in range(len(classes))]

    test_q = allocate(counts, n_test, counts - 1 - (1 if n_val else 0), "test", classes)
    left = counts - test_q
    val_q = allocate(left, n_val, left - 1, "validation", classes)
    splits = {"train": [], "validation": [], "test": []}
    for c, members in enumerate(shuffled):
        t, v = test_q[c], val_q[c]
        splits["test"].append(members[:t])
        splits["validation"].append(members[t:t + v])
        splits["train"].append(members[t + v:])
    joined = {name: np.sort(np.concatenate(splits[name])).astype(np.int64) for name in SPLIT_ORDER}
    return {name: index for name, index in joined.items() if name == "train" or len(index)}

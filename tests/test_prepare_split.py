"""Split sizes, class order and stratified splitting (pure functions, no files)."""
import numpy as np
import pytest

from nnrun.data.prepare.split import class_names, parse_size, stratified_split
from nnrun.errors import UserError


@pytest.mark.parametrize("text, value", [("0.2", 0.2), ("50000", 50000), ("0", 0), ("0.0", 0), ("1e-1", 0.1),
                                         ("100.0", 100), (0.5, 0.5), (7, 7)])
def test_sizes_are_counts_or_fractions(text, value):
    parsed = parse_size(text, "--test-size")
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["abc", "-3", "1.5", "-0.2", ""])
def test_bad_sizes_name_the_option(text):
    with pytest.raises(UserError, match="--test-size"):
        parse_size(text, "--test-size")


def test_numeric_classes_sort_by_value_and_are_named_canonically():
    names, index = class_names(["10", "2", "1.0", "1", "0"])
    assert names == ["0", "1", "2", "10"]
    assert index["1.0"] == index["1"] == 1 and index["10"] == 3


def test_string_classes_sort_as_strings():
    names, index = class_names(["dog", "cat", "bird"])
    assert names == ["bird", "cat", "dog"] and index == {"bird": 0, "cat": 1, "dog": 2}


def check_stratified(labels, splits, n_classes, sizes):
    """Every split's per-class count is within one of its exact share, totals are exact,
    splits are disjoint and together cover everything."""
    everything = np.concatenate(list(splits.values()))
    assert len(everything) == len(set(everything.tolist())) == len(labels)
    counts = np.bincount(labels, minlength=n_classes)
    remaining = counts.copy()
    for name in ("test", "validation"):
        if name not in splits:
            continue
        got = np.bincount(labels[splits[name]], minlength=n_classes)
        assert len(splits[name]) == sizes[name]
        exact = remaining * sizes[name] / remaining.sum()
        assert np.all(np.abs(got - exact) < 1), (name, got, exact)
        remaining = remaining - got
    assert np.array_equal(np.bincount(labels[splits["train"]], minlength=n_classes), remaining)
    for index in splits.values():
        assert np.all(np.diff(index) > 0)  # sorted: stored splits keep the source order


@pytest.mark.parametrize("seed", range(20))
def test_stratification_is_within_one_example_of_exact(seed):
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 12))
    counts = rng.integers(3, 400, n_classes)
    labels = rng.permutation(np.repeat(np.arange(n_classes), counts))
    test, validation = float(rng.uniform(0.05, 0.4)), float(rng.uniform(0.05, 0.4))
    splits = stratified_split(labels, [str(c) for c in range(n_classes)], test, validation, seed)
    n_test = round(test * len(labels))
    check_stratified(labels, splits, n_classes,
                     {"test": n_test, "validation": round(validation * (len(labels) - n_test))})


def test_count_sizes_are_exact_and_fraud_like_imbalance_is_kept():
    labels = np.array([0] * 9508 + [1] * 492)
    splits = stratified_split(labels, ["0", "1"], 5000, 1000, 1)
    check_stratified(labels, splits, 2, {"test": 5000, "validation": 1000})
    assert np.bincount(labels[splits["test"]]).tolist() == [4754, 246]


def test_same_seed_same_split_other_seed_other_split():
    labels = np.arange(1000) % 3
    first = stratified_split(labels, ["a", "b", "c"], 0.2, 0.1, 5)
    again = stratified_split(labels, ["a", "b", "c"], 0.2, 0.1, 5)
    other = stratified_split(labels, ["a", "b", "c"], 0.2, 0.1, 6)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["test"], other["test"])


def test_no_validation_split_unless_asked():
    splits = stratified_split(np.arange(100) % 2, ["0", "1"], 0.2, 0, 0)
    assert list(splits) == ["train", "test"]
    assert list(stratified_split(np.arange(100) % 2, ["0", "1"], 0, 0, 0)) == ["train"]


def test_every_class_appears_in_every_split():
    labels = np.array([0] * 1000 + [1] * 3)
    splits = stratified_split(labels, ["0", "1"], 0.1, 0.1, 0)
    assert all(1 in labels[index] for index in splits.values())


def test_a_class_too_small_for_the_splits_is_an_error_naming_it():
    labels = np.array([0] * 50 + [1] * 2)
    with pytest.raises(UserError, match='class "rare" has only 2 examples'):
        stratified_split(labels, ["common", "rare"], 0.2, 0.2, 0)


def test_a_split_too_small_for_every_class_is_an_error():
    labels = np.array([0] * 1000 + [1] * 5 + [2] * 5)
    with pytest.raises(UserError, match="test split of 10 examples"):
        stratified_split(labels, ["a", "b", "c"], 10, 0, 0)


def test_only_one_class_is_an_error():
    with pytest.raises(UserError, match='only one class \\("a"\\)'):
        stratified_split(np.zeros(10, np.int64), ["a"], 0.2, 0, 0)


def test_a_count_larger_than_the_data_is_an_error():
    with pytest.raises(UserError, match="--test-size 500 is more than the 100"):
        stratified_split(np.arange(100) % 2, ["0", "1"], 500, 0, 0)

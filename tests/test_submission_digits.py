"""Submission probabilities: nothing written rounds to exactly 0 or 1, the default clip is
[EPSILON, 1 − EPSILON], and the summary says what the cells hold."""
import numpy as np

from nnrun.infer.predict import Decision
from nnrun.infer.submission import EPSILON, Labeller, _fmt


def test_confident_probabilities_keep_their_distance_to_one():
    for value in (0.9999995, 0.9999999871, 1 - 1e-12, np.nextafter(1.0, 0.0), 1e-9, 0.3, 0.51):
        text = _fmt(value)
        assert 0.0 < float(text) < 1.0, text
        assert abs((1 - float(text)) - (1 - value)) <= 1e-5 * (1 - value) + 1e-16
    assert _fmt(0.9999999871) == "0.9999999871" and _fmt(0.25) == "0.25"


def test_probabilities_are_clipped_by_default_and_described():
    decision = Decision(["cat", "dog"], 1, 0.5)
    labeller = Labeller.make("probability", decision)
    assert labeller.clip == (EPSILON, 1 - EPSILON)
    cells = labeller.cells(np.array([[0.0, 1.0], [1.0, 0.0], [0.4, 0.6]]))
    values = [float(row[0]) for row in cells]
    assert values[0] == 1 - EPSILON and values[1] == EPSILON and values[2] == 0.6
    assert all(0.0 < v < 1.0 for v in values)
    assert labeller.describe().startswith("P(dog) clipped to [1e-15, 0.999999999999999]")
    chosen = Labeller.make("probability", decision, (0.05, 0.95))
    assert chosen.clip == (0.05, 0.95) and "[0.05, 0.95]" in chosen.describe()
    # class cells: the rule that made them, as infer says it
    assert Labeller.make("class", decision).describe() == \
        'classes: "dog" when P(dog) >= 0.5 (the checkpoint\'s threshold), else "cat"'
    assert Labeller.make("class", Decision(["a", "b", "c"])).describe() == "classes"  # the most probable

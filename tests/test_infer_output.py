"""The CSV writer's batch path writes exactly what csv.writer writes cell by cell."""
import io

import numpy as np

from nnrun.infer.output import CsvWriter, Results, number


def test_batch_formatting_equals_the_cell_by_cell_writer():
    rng = np.random.default_rng(0)
    edges = [[1, 0, 0], [0, 1, 0], [1e-12, 0.5, 1 - 1e-12], [3.5e-5, 0.123456789, 0.9999999]]
    p = np.concatenate([rng.random((300, 3)), np.array(edges)]).astype(np.float32)
    names = [f"rows.csv:{i}" for i in range(len(p))]
    names[3], names[4] = 'a,"b"', "x\ny"
    labels = ["x"] * len(p)
    labels[5] = "y,z"
    for labelled in (False, True):
        result = Results(names, labels=labels if labelled else None, p=p, chosen=p.argmax(1))
        fast, slow = io.StringIO(), io.StringIO()
        CsvWriter(fast, ["x", "y,z", "w"], labelled=labelled).write(result)
        reference = CsvWriter(slow, ["x", "y,z", "w"], labelled=labelled)
        reference.out.writerows(reference.cells(result, i, number) for i in range(len(names)))
        assert fast.getvalue() == slow.getvalue()
        assert "1.0" in fast.getvalue() and '"a,""b"""' in fast.getvalue()

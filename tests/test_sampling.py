"""Endless class-balanced and shuffled streams: Cortex's sampling, vectorised, seeded, resumable."""
import pytest
import torch

from nnrun.train.sampling import ClassBalancedStream, ShuffleStream, make_sampler, shard


def labels_for(counts):
    return torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(counts)])


def test_class_balanced_takes_one_from_each_class_in_turn():
    labels = labels_for([50, 3, 7])
    stream = ClassBalancedStream(labels, seed=1)
    first = stream.take(10)
    second = stream.take(11)  # the turn continues across takes (epochs)
    drawn = torch.cat([first, second])
    assert labels[drawn].tolist() == [0, 1, 2] * 7


def test_each_class_stream_is_reshuffled_when_exhausted():
    labels = labels_for([40, 5])
    stream = ClassBalancedStream(labels, seed=2)
    drawn = stream.take(2 * 5 * 4)  # four passes over the 5 positives
    positives = drawn[labels[drawn] == 1].view(4, 5)
    for row in positives:  # every pass holds each positive exactly once
        assert sorted(row.tolist()) == list(range(40, 45))
    assert len({tuple(row.tolist()) for row in positives}) > 1  # and the order changes
    negatives = drawn[labels[drawn] == 0]
    assert len(set(negatives.tolist())) == len(negatives)  # 20 of 40: no repeat within a pass


def test_balanced_batches_on_an_imbalanced_split():
    labels = labels_for([9900, 100])
    epoch = ClassBalancedStream(labels, seed=0).take(20000)
    for batch in epoch.view(-1, 100):
        assert int(labels[batch].sum()) == 50


def test_classes_missing_from_the_split_are_left_out():
    labels = torch.tensor([0, 0, 2, 2, 2])
    drawn = ClassBalancedStream(labels, seed=0).take(6)
    assert labels[drawn].tolist() == [0, 2, 0, 2, 0, 2]


def test_shuffle_gives_permutations_pass_after_pass():
    stream = ShuffleStream(torch.zeros(10, dtype=torch.int64), seed=3)
    drawn = stream.take(25)
    assert sorted(drawn[:10].tolist()) == list(range(10))
    assert sorted(drawn[10:20].tolist()) == list(range(10))
    assert drawn[:10].tolist() != drawn[10:20].tolist()


def test_seeded_and_resumable_from_state():
    labels = labels_for([30, 4, 9])
    for kind in ("class-balanced", "shuffle"):
        a = make_sampler(kind, labels, seed=7)
        b = make_sampler(kind, labels, seed=7)
        assert torch.equal(a.take(57), b.take(57))
        state = a.state_dict()
        after = a.take(100)
        c = make_sampler(kind, labels, seed=99)  # a different seed: the state decides
        c.load_state_dict(state)
        assert torch.equal(c.take(100), after)
        assert not torch.equal(make_sampler(kind, labels, seed=8).take(57), make_sampler(kind, labels, seed=7).take(57))


def test_state_survives_a_checkpoint_round_trip(tmp_path):
    from nnrun.checkpoint import read_checkpoint, write_checkpoint
    labels = labels_for([30, 4])
    a = ClassBalancedStream(labels, seed=5)
    a.take(13)
    write_checkpoint(tmp_path / "s", {"sampler": a.state_dict()})
    b = ClassBalancedStream(labels, seed=0)
    b.load_state_dict(read_checkpoint(tmp_path / "s")["sampler"])
    assert torch.equal(a.take(40), b.take(40))


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_put_every_global_batch_back_together(world):
    """Each step's parts, in rank order, are the one-process batch; the last batch may be short."""
    epoch = ClassBalancedStream(labels_for([20, 20, 9]), seed=1).take(103)
    parts = [shard(epoch, rank, world, 10) for rank in range(world)]
    done = [0] * world
    for step in range(11):
        batch = []
        for rank, (indices, counts) in enumerate(parts):
            count = int(counts[step])
            batch.append(indices[done[rank]:done[rank] + count])
            done[rank] += count
        assert torch.equal(torch.cat(batch), epoch[step * 10:(step + 1) * 10])
    assert done == [len(indices) for indices, _ in parts]


def test_each_rank_part_of_a_batch_is_class_balanced():
    labels = labels_for([300, 30, 50])
    epoch = ClassBalancedStream(labels, seed=2).take(600)
    for rank in range(2):
        indices, counts = shard(epoch, rank, 2, 60)
        for step in range(10):
            part = labels[indices[step * 30:(step + 1) * 30]]
            assert torch.bincount(part, minlength=3).tolist() == [10, 10, 10]


def test_a_large_epoch_is_fast():
    import time
    labels = torch.cat([torch.zeros(60000, dtype=torch.int64), torch.ones(400, dtype=torch.int64)])
    stream = ClassBalancedStream(labels, seed=0)
    start = time.perf_counter()
    stream.take(200_000)
    assert time.perf_counter() - start < 1.0

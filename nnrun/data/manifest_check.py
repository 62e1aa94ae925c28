"""The fields of a dataset manifest beyond its format and kind, checked before anything uses them.

`nnrun prepare` writes sound manifests; these checks are for a damaged or edited one, which must
give one line naming the field (`data/dataset.json: normalisation.std: ...`) rather than a
traceback later, or a silently wrong normalisation or label.
"""
import math
import numbers

from nnrun.errors import UserError

LARGEST_IMAGE = 4096     # `nnrun prepare images --size` allows no more
CHANNELS = (1, 3)


def check_manifest_fields(manifest, path, split_names):
    """UserError naming `path` and the field unless the manifest's fields are sound."""
    def fail(field, problem):
        raise UserError(f"{path}: {field}: {problem}")

    classes = manifest["classes"]
    if not all(isinstance(c, str) and c for c in classes):
        fail("classes", "must be a list of class names")
    if len(set(classes)) != len(classes):
        fail("classes", f'"{next(c for c in classes if classes.count(c) > 1)}" is named twice')
    if not isinstance(manifest.get("labelled", True), bool):
        fail("labelled", "must be true or false")
    features = manifest.get("features")
    if features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        fail("features", "must be a list of column names")
    if manifest.get("encoding") is not None:
        from nnrun.data.table.encoding_check import check_encoding

        check_encoding(manifest["encoding"], features or [], fail)
    if manifest.get("image") is not None and not isinstance(manifest["image"], dict):
        fail("image", "must be a map with size and channels")
    if manifest["kind"] == "images":
        image = manifest["image"]
        if not (1 <= image["size"] <= LARGEST_IMAGE) or isinstance(image["size"], bool):
            fail("image.size", f"must be from 1 to {LARGEST_IMAGE}, got {image['size']}")
        if image["channels"] not in CHANNELS or isinstance(image["channels"], bool):
            fail("image.channels", f"must be 1 or 3, got {image['channels']}")
        width, what = image["channels"], "channels"
    else:
        width, what = len(features), "features"
    for name in split_names:
        entry = manifest["splits"][name]
        if not isinstance(entry, dict):
            fail(f"splits.{name}", "must be a map")
        count = entry.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            fail(f"splits.{name}.count", f"must be a whole number ≥ 0, got {count!r}")
        counts = entry.get("class-counts")
        if counts is not None and not (isinstance(counts, dict) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values())):
            fail(f"splits.{name}.class-counts", "must map class names to counts")
    stats = manifest.get("normalisation")
    if stats is None:
        return
    if not isinstance(stats, dict):
        fail("normalisation", "must be a map with mean and std")
    for key in ("mean", "std"):
        values = stats.get(key)
        if not isinstance(values, list) or not all(_finite(v) for v in values):
            fail(f"normalisation.{key}", "must be a list of finite numbers")
        if len(values) != width:
            fail(f"normalisation.{key}", f"has {len(values)} values for {width} {what}")
    if any(v < 0 for v in stats["std"]):
        fail("normalisation.std", "a standard deviation cannot be negative")


def check_ids(ids, path, count):
    """A split's ids as strings: a list of `count` distinct text or whole-number ids."""
    if not isinstance(ids, list):
        raise UserError(f"{path} should list {count} ids (one per example of the split), but holds a "
                        f"{type(ids).__name__}")
    if len(ids) != count:
        raise UserError(f"{path} should list {count} ids (one per example of the split), but lists {len(ids)}")
    for position, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            raise UserError(f"{path}: item {position} is {value!r}, not an id (text or a whole number)")
    texts = [str(i) for i in ids]
    if len(set(texts)) != len(texts):
        seen = set()
        twice = next(t for t in texts if t in seen or seen.add(t))
        raise UserError(f'{path}: id "{twice}" is listed twice; each example needs its own id')
    return texts


def _finite(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)

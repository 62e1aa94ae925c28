"""Read a config file (YAML or EDN) into plain data, and apply `--set key.path=value` overrides."""
from pathlib import Path

import yaml

from nnrun.config import edn
from nnrun.config.limits import check_yaml_shape
from nnrun.data.files import not_regular
from nnrun.errors import UserError

YAML_SUFFIXES = (".yaml", ".yml")
EDN_SUFFIXES = (".edn",)


def read_config_file(path):
    """The config at `path` as plain data (dicts, lists, strings, numbers)."""
    path = Path(path)
    if path.suffix.lower() not in YAML_SUFFIXES + EDN_SUFFIXES:
        raise UserError(f"{path}: unknown config type '{path.suffix}' (use .yaml, .yml or .edn)")
    kind = not_regular(path) if path.exists() else None
    if kind and kind != "a folder":  # a named pipe would block the read for ever
        raise UserError(f"{path}: is {kind}, not a config file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise UserError(f"{path}: cannot read: {problem}") from None
    if path.suffix.lower() in EDN_SUFFIXES:
        data = edn.loads(text, source=str(path))
    else:
        data = _load_yaml(text, str(path))
    if isinstance(data, list):  # a bare network, as a Cortex description is
        data = {"network": data}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config is a map with a 'network' section, got {type(data).__name__}")
    return data


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one map is an error, not ignored."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice in one map", key_node.start_mark)
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                pass
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text, source):
    try:
        check_yaml_shape(text, source)  # before building: deep nesting, alias bombs, sheer size
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        what = getattr(problem, "problem", None) or str(problem).splitlines()[0]
        if "'?'" in what:  # `{non-trainable?: true}`: YAML ends a plain key at '?' inside {...}
            what += ' (inside {...} quote a key that ends in "?": {"non-trainable?": true})'
        raise UserError(f"{source}: YAML syntax error at {where}: {what}") from None
    if data is None:
        raise UserError(f"{source}: the file is empty")
    return data


def parse_override(text):
    """`train.optimizer.lr=0.01` -> (["train", "optimizer", "lr"], 0.01); the value is YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {text}: expected KEY.PATH=VALUE")
    try:
        check_yaml_shape(raw, f"--set {key.strip()}=")
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw  # not YAML: take the text as it is (a path with odd characters, say)
    path = []
    for part in key.strip().split("."):
        if not part:
            raise UserError(f"--set {text}: empty part in key path '{key}'")
        path.append(int(part) if part.isdigit() else part)
    return path, value


# Keys whose plain value is short for a map, and the key that value stands for.
SHORTHANDS = {("data",): "path", ("train", "optimizer"): "type", ("train", "metric"): "name",
              ("train", "schedule"): "type"}


def apply_overrides(config, overrides):
    """Return `config` with each `--set` override applied (creating maps on the way)."""
    for text in overrides or ():
        path, value = parse_override(text)
        node = config
        for depth, part in enumerate(path[:-1]):
            where = ".".join(str(p) for p in path[: depth + 1])
            if isinstance(node, list):
                if not isinstance(part, int) or part >= len(node):
                    raise UserError(f"--set {text}: '{where}' is not an index of a {len(node)}-item list")
                node = node[part]
                continue
            if not isinstance(node, dict):
                raise UserError(f"--set {text}: '{where}' is inside a value that is not a map")
            current = node.get(part)
            if current is None:
                node[part] = {}
            elif not isinstance(current, (dict, list)):
                # `data: PATH`, `optimizer: sgd`: the short form of a map; expand it, keep the value
                main = SHORTHANDS.get(tuple(p for p in path[: depth + 1] if not isinstance(p, int)))
                if main is None:
                    raise UserError(f"--set {text}: '{where}' is {current!r}, not a map")
                node[part] = {main: current}
            node = node[part]
        last = path[-1]
        if isinstance(node, list):
            if not isinstance(last, int) or last >= len(node):
                raise UserError(f"--set {text}: no item {last} in a {len(node)}-item list")
        elif not isinstance(node, dict):
            raise UserError(f"--set {text}: cannot set a key inside a value that is not a map")
        main = SHORTHANDS.get(tuple(p for p in path if not isinstance(p, int)))
        if main is not None and isinstance(node.get(last), dict) and value is not None \
                and not isinstance(value, (dict, list)):
            # `--set data=FOLDER`, `--set train.optimizer=adam` on a map: the plain value is short
            # for the map's main key, and the map's other keys stay (replacing the whole map would
            # quietly drop a weight decay or change how inputs are scaled). `--set 'K={...}'`
            # replaces the map.
            node[last] = {**node[last], main: value}
            continue
        node[last] = value
    return config

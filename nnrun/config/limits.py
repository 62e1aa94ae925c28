"""Limits on a config's shape that no real config comes near.

A hostile file must be refused with a message, not exhaust the stack (lists nested thousands
deep: the YAML and EDN readers, and everything that walks the data after them, recurse) or
memory (a YAML "billion laughs": anchors whose aliases multiply into billions of values when
anything walks the tree). Both are measured before the data is built: YAML on its event stream
(the parser does not recurse), EDN on its brackets.
"""
import yaml

from nnrun.errors import UserError

MAX_DEPTH = 64          # nesting of lists and maps; a real config is under 10 deep
MAX_VALUES = 1_000_000  # values in the config once every alias is expanded


def check_yaml_shape(text, source):
    """UserError when the YAML text nests too deep or its aliases expand too far.
    Syntax errors come out as yaml.YAMLError, for the caller to report as it reports them."""
    try:
        _measure(yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), source)
    except yaml.YAMLError:
        # libyaml (ten times faster) and the pure-Python parser the config is read with differ
        # on a few edge cases: let the latter decide what is a syntax error
        _measure(yaml.parse(text, Loader=yaml.SafeLoader), source)


def _measure(events, source):
    stack = []      # per open collection: [values inside so far, its anchor]
    sizes = {}      # anchor -> values in the node it names
    total = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([0, event.anchor])
            if len(stack) > MAX_DEPTH:
                raise UserError(f"{source}: nested more than {MAX_DEPTH} lists or maps deep "
                                f"(line {event.start_mark.line + 1})")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            count, anchor = stack.pop()
            size = count + 1
        elif isinstance(event, yaml.ScalarEvent):
            size, anchor = 1, event.anchor
        elif isinstance(event, yaml.AliasEvent):
            size, anchor = sizes.get(event.anchor, 1), None
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        if stack:
            stack[-1][0] += size
        else:
            total += size
        if total + sum(count for count, _ in stack) > MAX_VALUES:
            raise UserError(f"{source}: more than {MAX_VALUES:,} values once its aliases (*name) are "
                            f"expanded (line {event.start_mark.line + 1})")


def check_depth(depth, source, line):
    """UserError when EDN brackets nest deeper than MAX_DEPTH (`line`: where the limit is passed)."""
    if depth > MAX_DEPTH:
        raise UserError(f"{source}: nested more than {MAX_DEPTH} lists, vectors or maps deep (line {line})")

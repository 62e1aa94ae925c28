"""Limits on a config's shape that no real config comes near.

A hostile file must be refused with a message, not exhaust the stack (lists nested thousands
deep: the YAML and EDN readers, and everything that walks the data after them, recurse), memory
(a YAML "billion laughs": anchors whose aliases multiply into billions of values when anything
walks the tree) or time (the readers build Python objects at tens of thousands of values a
second: a file of millions of them takes minutes). All are measured before the data is built:
YAML on its event stream (the parser does not recurse), EDN on its brackets and tokens.
"""
import re

import yaml

from nnrun.errors import UserError

MAX_DEPTH = 64          # nesting of lists and maps; a real config is under 10 deep
MAX_VALUES = 1_000_000  # values in the config once every alias is expanded
# values written in the file: 10,000 layers (the most a network has, nnrun.network.plan) of a
# few options each come to under 100,000, which the YAML reader builds in seconds (a million
# took a minute)
MAX_WRITTEN = 100_000


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
    total = written = 0
    for event in events:
        if isinstance(event, (yaml.CollectionStartEvent, yaml.ScalarEvent, yaml.AliasEvent)):
            written += 1
            if written > MAX_WRITTEN:
                raise _too_many(source, event.start_mark.line + 1)
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


def _too_many(source, line):
    return UserError(f"{source}: more than {MAX_WRITTEN:,} values written in it (line {line}); "
                     f"a config holds far fewer (a network has at most 10,000 layers)")


# An EDN token: a string (escapes included), a comment, or anything else up to a separator.
_EDN_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|;[^\n]*|[^\s,()\[\]{};"]+|[(\[{]')


def check_edn_size(text, source):
    """UserError when EDN text writes more than MAX_WRITTEN values (atoms and collections),
    counted by a regular expression before the parser builds anything."""
    count = 0
    for token in _EDN_TOKEN.finditer(text):
        if token.group().startswith(";"):
            continue
        count += 1
        if count > MAX_WRITTEN:
            raise _too_many(source, text.count("\n", 0, token.start()) + 1)


def check_depth(depth, source, line):
    """UserError when EDN brackets nest deeper than MAX_DEPTH (`line`: where the limit is passed)."""
    if depth > MAX_DEPTH:
        raise UserError(f"{source}: nested more than {MAX_DEPTH} lists, vectors or maps deep (line {line})")

"""EDN (Cortex's Clojure data) to nnrun's plain data.

A Cortex description pastes in as it is: `[(layers/input 28 28 1 :id :data) (layers/linear 10)]`.
Keywords and symbols become plain strings without their namespace (`:layers/input` -> "input"),
maps become dicts, vectors become lists, and a list `(name arg ... :key value)` - Cortex's call
syntax - becomes a *call*: a list whose first element is the layer name, exactly the shape the
YAML form `[convolutional, 5, 0, 1, 20, {id: c1}]` has, so one parser serves both.
"""
import re
from collections.abc import Mapping

import edn_format
from edn_format import Keyword, Symbol

from nnrun.config.limits import check_depth, check_edn_size
from nnrun.errors import UserError


def _name(token):
    return token.name.split("/")[-1]


def to_plain(value):
    """Convert parsed EDN into dicts, lists, strings and numbers."""
    if isinstance(value, (Keyword, Symbol)):
        return _name(value)
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            key = to_plain(key)
            if isinstance(key, (list, dict)):  # EDN allows any key; a config's keys are names
                raise UserError(f"a map key must be a name or a number, got {key!r}")
            plain[key] = to_plain(item)
        return plain
    if isinstance(value, tuple):  # a (call ...) form
        return _call_to_plain(value)
    if isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "__iter__"):  # vectors (ImmutableList), sets
        return [to_plain(v) for v in value]
    return value


def _call_to_plain(form):
    """`(name a b :k v {:k2 v2})` -> ["name", a, b, {"k": v, "k2": v2}]."""
    if not form:
        return []
    head, rest = form[0], list(form[1:])
    positional, keywords = [], {}
    i = 0
    while i < len(rest):
        item = rest[i]
        if isinstance(item, Keyword):
            if i + 1 >= len(rest):
                raise UserError(f"({to_plain(head)} ...): keyword :{item.name} has no value")
            keywords[_name(item)] = to_plain(rest[i + 1])
            i += 2
            continue
        if isinstance(item, Mapping) and i == len(rest) - 1:
            keywords.update(to_plain(item))
        else:
            positional.append(to_plain(item))
        i += 1
    call = [to_plain(head), *positional]
    if keywords:
        call.append(keywords)
    return call


def loads(text, source="config"):
    """Parse EDN text; a file of several forms (e.g. `(def net [...])`) keeps the last value."""
    check_edn_size(text, source)
    _check_depth(text, source)
    try:
        forms = edn_format.loads_all(text)
    except Exception as problem:  # the EDN library raises several types, none with a line number
        where, detail = _locate(text), _describe(problem)
        detail = "" if detail in where else f": {detail}"
        raise UserError(f"{source}: EDN syntax error {where}{detail}") from None
    if not forms:
        raise UserError(f"{source}: the file is empty")
    value = forms[-1]
    # Clojure source pasted as it is: (def name value) or (def name "doc" value)
    if isinstance(value, tuple) and value and isinstance(value[0], Symbol) and value[0].name == "def":
        value = value[-1]
    try:
        return to_plain(value)
    except UserError as mistake:
        raise UserError(f"{source}: {mistake}") from None


def _describe(problem):
    """The parser's message without its internals: `LexToken(VECTOR_END,']',1,27)` -> unexpected ']'."""
    text = str(problem)
    token = re.match(r"LexToken\(\w+,'(.*)',\d+,\d+\)$", text)
    if token:
        return f"unexpected '{token.group(1)}'"
    if text.startswith("EOF Reached"):
        return "the text ends inside an unclosed form"
    return re.sub(r" with lexpos \d+", "", text).splitlines()[0]


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def _brackets(text):
    """(character, line, position) of each bracket outside strings, comments and character literals."""
    line, i, n = 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == ";":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line += 1
                i += 1
        elif ch == "\\":  # character literal such as \( or \space
            i += 2
            continue
        elif ch in _OPEN or ch in _CLOSE:
            yield ch, line, i
        i += 1


def _check_depth(text, source):
    """Refuse deep nesting before the parser (and to_plain, which recurse) see it."""
    depth = 0
    for ch, line, _ in _brackets(text):
        depth += 1 if ch in _OPEN else -1
        check_depth(depth, source, line)


def _locate(text):
    """Find the line of an EDN syntax error the parser could not place.

    Unbalanced brackets are found by scanning (strings and comments skipped); otherwise the
    innermost map or collection that fails to parse on its own is reported.
    """
    stack, spans = [], []
    for ch, line, i in _brackets(text):
        if ch in _OPEN:
            stack.append((ch, line, i))
            continue
        if not stack:
            return f"at line {line} (unexpected '{ch}')"
        opener, open_line, start = stack.pop()
        if _OPEN[opener] != ch:
            return f"at line {line} ('{ch}' closes the '{opener}' opened at line {open_line})"
        spans.append((start, i + 1, open_line))
    if stack:
        opener, open_line, _ = stack[-1]
        return f"at line {open_line} ('{opener}' is never closed)"
    for start, end, open_line in spans:  # innermost first: closers come in that order
        try:
            edn_format.loads(text[start:end])
        except Exception:
            return f"at line {open_line}"
    match = re.search(r"line (\d+)", str(text))
    return f"at line {match.group(1)}" if match else "(line unknown)"

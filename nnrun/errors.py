"""The one error type for user mistakes.

A `UserError` carries a one-line message that names the place (key path, layer, file, row).
The CLI prints it without a traceback and exits 2. Anything else is a bug: traceback, exit 1.
"""
import difflib


class UserError(Exception):
    """A mistake in what the user gave us (config, data, paths, flags)."""


LONGEST_MESSAGE = 1000  # characters of a message shown; a value quoted in one can be megabytes


def one_line(mistake):
    """A UserError's text as the one line the CLI prints: line breaks (from a quoted value)
    escaped, and the middle of an overlong message cut out, keeping its start and end."""
    text = str(mistake).replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > LONGEST_MESSAGE:
        keep = LONGEST_MESSAGE // 2
        text = f"{text[:keep]} [... {len(text) - 2 * keep:,} characters ...] {text[-keep:]}"
    return text


def did_you_mean(word, choices):
    """' (did you mean "x"?)' for the closest choice, or '' when nothing is close."""
    if len(str(word)) > 100:  # no name is this long, and difflib would take minutes over it
        return ""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def os_problem(problem, path, doing="cannot write"):
    """A UserError for an OSError met while reading or writing user paths (a full disk, a
    read-only folder, a file where a folder should be): one line naming the path it concerns."""
    where = problem.filename if getattr(problem, "filename", None) else path
    return UserError(f"{doing} {where}: {problem.strerror or problem}")

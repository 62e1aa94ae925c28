"""How many cores this process may use: the default number of workers of prepare, infer and
kaggle-submit, and what sweep jobs share."""
import os


def available_cores():
    """The cores this process may run on (its CPU affinity, which a container or taskset can
    narrow), else every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1

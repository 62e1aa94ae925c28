"""Telling numpy's BLAS (OpenBLAS) how many threads to use, after numpy is imported.

The numpy engine runs in image-decoding worker processes, one per core, each with one BLAS
thread: more threads than cores makes OpenBLAS's spinning threads fight over them, which on a
busy two-core machine turned a half-second job into several seconds. This does what
threadpoolctl does for OpenBLAS: find the loaded library and call its setter. Best effort: on a
platform where it finds nothing it changes nothing.
"""
import ctypes
import os

SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
           "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads_64_")


def loaded_openblas():
    """Paths of the OpenBLAS libraries this process has loaded (Linux: /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as maps:
            found = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(found)


def set_blas_threads(count):
    """Set the thread count of every loaded OpenBLAS; True when one was found and set."""
    done = False
    for path in loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(int(count))
                done = True
                break
    return done


def one_thread_unless_told(environ=os.environ):
    """Before numpy is imported: OpenBLAS starts one thread per core when it loads, and they spin
    for a while even if they never get work (a tenth of a second of a core, measured, that the
    image workers need). The numpy engine wants one thread per process anyway, so ask for that
    unless the user chose a number."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if environ.get(name):
            return
    environ["OPENBLAS_NUM_THREADS"] = "1"

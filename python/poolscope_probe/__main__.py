"""python3 -m poolscope_probe script.py [args...]

Runs script.py as __main__ (as `python3 script.py args...` would) with the
probe enabled, under the name of the script."""

import os
import runpy
import sys

USAGE = """usage: python3 -m poolscope_probe script.py [args...]

Runs the script with its concurrent.futures pools and asyncio's
run_in_executor published for PoolScope (docs/attach.md), e.g.
    python3 -m poolscope_probe examples/python/threads_submit.py
then watch it with `poolscope-cli top --attach threads_submit.py` or the
window's File > Attach...

Environment: POOLSCOPE_ATTACH_DIR (where the socket goes),
POOLSCOPE_PROBE_WAIT=1 (wait for a viewer to watch each pool),
POOLSCOPE_PROBE_WAIT_TIMEOUT (seconds, default 30).
"""


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    script = args[0]
    if not os.path.isfile(script):
        sys.stderr.write("poolscope_probe: no such script: %s\n" % script)
        return 2
    import poolscope_probe
    # As `python3 script.py`: argv[0] is the script, and its directory
    # comes first on sys.path (the probe's own directory stays reachable
    # for ProcessPoolExecutor children started with spawn/forkserver).
    here = os.path.dirname(os.path.dirname(os.path.abspath(
        poolscope_probe.__file__)))
    sys.argv = list(args)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    if here not in sys.path:
        sys.path.append(here)
    poolscope_probe.enable(name=os.path.basename(script))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())

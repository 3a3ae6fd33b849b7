"""Command line: ``python -m course_lib info`` and ``python -m course_lib reproduce NAME``."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, JAX devices and the datasets available offline")
    rep = sub.add_parser("reproduce", help="run a reproducible experiment and print its results")
    rep.add_argument("name", help="experiment name (run with 'list' to see them)")
    rep.add_argument("--seeds", type=int, default=1, help="number of seeds (default 1)")
    rep.add_argument("--json", action="store_true", help="print one JSON object per line")
    rep.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    args = parser.parse_args(argv)

    if args.command == "info":
        from course_lib.info import report

        print(report())
        return 0

    from course_lib.reproduce import registry

    experiments = registry()
    if args.name == "list":
        print("\n".join(sorted(experiments)) or "(no experiments)")
        return 0
    if args.name not in experiments:
        print(f"unknown experiment {args.name!r}; available: {', '.join(sorted(experiments))}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"--seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    for row in experiments[args.name](seeds=args.seeds, quick=args.quick):
        print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

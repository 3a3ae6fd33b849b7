"""``python -m benchmarks [--json] [--quick] [--only NAMES]``: run the benchmark suite.

Without ``--quick`` the results are saved to benchmarks/results/ (a dated file and
latest.json); ``--update-readme`` also rewrites the table in benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time

BENCHMARKS = ("throughput", "quality", "widgets", "course", "flow_matching", "transformer")
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def run_all(names=BENCHMARKS, *, quick: bool = False, notebook_method: str | None = None,
            notebook_cache: bool = False) -> dict:
    """Run the named benchmarks; a failing one is recorded as ``{"error": ...}``, not raised."""
    import dataclasses

    from benchmarks import _common, course, flow_matching, quality, throughput, transformer, widgets

    configs = {
        "throughput": (throughput.run, throughput.QUICK if quick else throughput.FULL),
        "quality": (quality.run, quality.QUICK if quick else quality.FULL),
        "widgets": (widgets.run, widgets.QUICK if quick else widgets.FULL),
        "course": (course.run, course.QUICK if quick else course.FULL),
        "flow_matching": (flow_matching.run, flow_matching.QUICK if quick else flow_matching.FULL),
        "transformer": (transformer.run, transformer.QUICK if quick else transformer.FULL),
    }
    if notebook_method is not None:
        configs["course"] = (course.run, dataclasses.replace(configs["course"][1], method=notebook_method))
    if notebook_cache:
        configs["course"] = (course.run, dataclasses.replace(configs["course"][1], notebook_cache=True))
    results = {"machine": _common.machine_description(), "quick": quick, "benchmarks": {}, "seconds": {}}
    for name in names:
        fn, cfg = configs[name]
        start = time.perf_counter()
        try:
            results["benchmarks"][name] = fn(cfg)
        except Exception as err:  # noqa: BLE001 - report the failure and go on with the others
            results["benchmarks"][name] = {"error": f"{type(err).__name__}: {err}"}
        results["seconds"][name] = time.perf_counter() - start
    results["load_average_at_end"] = _common.load_average()
    return results


def save(results: dict, folder: pathlib.Path = RESULTS) -> pathlib.Path:
    """Write ``results`` to folder/<UTC date-time>.json and folder/latest.json; returns the dated path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    text = json.dumps(results, indent=1, sort_keys=False) + "\n"
    path = folder / f"{stamp}.json"
    path.write_text(text)
    (folder / "latest.json").write_text(text)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON (else as tables)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--notebooks", choices=("nbval", "nbclient"), default=None,
                        help="how to execute the notebooks (default nbval)")
    parser.add_argument("--notebook-cache", action="store_true",
                        help="also run every notebook twice on a fresh persistent compilation cache")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the table in benchmarks/README.md")
    parser.add_argument("--from-file", type=pathlib.Path, default=None,
                        help="print (or put in the README) a saved results file instead of running")
    args = parser.parse_args(argv)

    from benchmarks import report

    if args.from_file is not None:
        results = json.loads(args.from_file.read_text())
    else:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(BENCHMARKS))
        if unknown:
            print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        results = run_all(names, quick=args.quick, notebook_method=args.notebooks,
                          notebook_cache=args.notebook_cache)
        if not args.quick and not args.no_save:
            path = save(results)
            print(f"saved {path.relative_to(RESULTS.parent.parent)}", file=sys.stderr)
    table = report.markdown(results)
    if args.update_readme:
        report.update_readme(RESULTS.parent / "README.md", table)
    print(json.dumps(results, indent=1) if args.json else table)
    failed = [n for n, r in results["benchmarks"].items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The results as a Markdown table (printed by the CLI and pasted into benchmarks/README.md)."""
from __future__ import annotations

import pathlib
import re

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _f(value, fmt: str = ".1f", unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:{fmt}}{unit}"


def _ok(flag) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[flag]


def _throughput(r: dict) -> list[str]:
    c = r["config"]
    sizes = "-".join(str(v) for v in (784, *c["hidden"], c["z_dim"]))
    rows = [f"| Training throughput (VAE {sizes}, batch {c['batch_size']}, Adam) | steps/s (median) "
            "| CPU ms/step | GFLOP/s | of matmul peak |", "|---|---|---|---|---|"]
    cpu = r.get("cpu_ms_per_step", {})
    for name, s in r["steps_per_s"].items():
        rows.append(f"| {name} | {_f(s['median'])} | {_f(cpu.get(name, {}).get('median'))} | "
                    f"{_f(r['achieved_gflops'][name])} | {_f(100 * r['fraction_of_matmul_peak'][name], '.0f', '%')} |")
    peak = r["matmul_peak_gflops"]
    rows.append(f"| float32 matmul peak ({peak['n']}x{peak['n']}; jax {_f(peak['jax'])}, "
                f"torch {_f(peak.get('torch'))}) | {_f(r['steps_per_s_at_peak'])} at peak | | "
                f"{_f(peak['peak'])} | 100% |")
    probe = r.get("matmul_precision_probe")
    if probe:
        rows.append(f"| matmul {probe['shape']}: float32 {_f(probe['float32'])} GFLOP/s, bfloat16 "
                    f"{_f(probe['bfloat16'])} GFLOP/s | | | | x{_f(probe['bfloat16_speedup'], '.2f')} |")
    rows += ["", "| Ratio (paired rounds, median) | value | target | met |", "|---|---|---|---|"]
    targets = {"jax_scan_epoch / torch_eager": (r["targets"]["speedup_vs_torch_eager"],
                                                r["meets_targets"]["speedup_vs_torch_eager"])}
    for name, value in r["ratios"].items():
        target, met = targets.get(name, (None, None))
        rows.append(f"| {name} | {_f(value, '.2f', 'x')} | {_f(target, '.1f', 'x')} | {_ok(met) if target else ''} |")
    work = r.get("cpu_work_ratio_torch_1thread_over_jax_scan")
    if work is not None:
        rows.append(f"| CPU time per step, torch_eager_1thread / jax_scan_epoch | {_f(work, '.2f', 'x')} | | |")
    frac = r["fraction_of_matmul_peak"]["jax_scan_epoch"]
    rows.append(f"| jax_scan_epoch fraction of matmul peak | {_f(100 * frac, '.0f', '%')} | "
                f"{_f(100 * r['targets']['fraction_of_matmul_peak'], '.0f', '%')} | "
                f"{_ok(r['meets_targets']['fraction_of_matmul_peak'])} |")
    return rows


def _quality(r: dict) -> list[str]:
    rows = ["| Time to quality (section recipe, compile included) | target | reached after | seconds "
            "| confirmed |", "|---|---|---|---|---|"]
    for key, label, unit in (("vae", "VAE (04_vae, vae-digits)", "epochs"),
                             ("gan", "GAN (05_gan, gan-ring)", "steps")):
        q = r[key]
        if q.get("reached"):
            rows.append(f"| {label} | {q['target_text']} | {q[unit]} {unit} | {_f(q['seconds'])} "
                        f"| {_ok(q['confirmed'])} |")
        else:
            rows.append(f"| {label} | {q['target_text']} | not reached | n/a | |")
    return rows


def _widgets(r: dict) -> list[str]:
    rows = ["| Widget latency (kernel side) | median ms | p95 ms | target | met |", "|---|---|---|---|---|"]
    for key, label, target in (("latent_explorer", "latent explorer update", "30 ms median"),
                               ("gan_lab", "GAN-lab frame", ">= 10 frames/s")):
        w = r[key]
        if "wall_ms" not in w:
            rows.append(f"| {label} | n/a | n/a | {target} | {w.get('skipped', '')} |")
            continue
        met = r["meets_targets"].get(f"{key}_median_ms" if key == "latent_explorer" else "gan_lab_frames_per_s")
        rows.append(f"| {label} | {_f(w['wall_ms']['median'])} | {_f(w['wall_ms']['p95'])} | {target} "
                    f"| {_ok(met)} |")
    return rows


def _course(r: dict) -> list[str]:
    nb = r["notebooks"]
    cached = any("warm_cache_seconds" in row for row in nb["per_notebook"].values())
    extra = " cold cache s | warm cache s |" if cached else ""
    rows = [f"| Course execution ({nb['method']}, no compilation cache) | seconds | target | met |{extra}",
            "|---|---|---|---|" + ("---|---|" if cached else "")]
    for name, row in nb["per_notebook"].items():
        more = (f" {_f(row.get('cold_cache_seconds'))} | {_f(row.get('warm_cache_seconds'))} |" if cached else "")
        rows.append(f"| {name} | {_f(row['seconds'])} | < 60 | {_ok(row['ok'] and row['seconds'] < 60)} |{more}")
    rows.append(f"| whole course | {_f(nb['total_seconds'])} | < 300 | {_ok(nb['meets_targets']['whole_course'])} |"
                + (" | |" if cached else ""))
    imp = r["import"]["cumulative_seconds"]
    rows += ["", "| Import (fresh interpreter, cumulative) | seconds |", "|---|---|"]
    rows.append(f"| bare interpreter | {_f(r['import']['bare_interpreter_seconds'], '.2f')} |")
    rows += [f"| + {name} | {_f(t, '.2f')} |" for name, t in imp.items()]
    c = r["compile"]
    rows += ["", "| First call of the VAE epoch (fresh interpreter) | first call s | compile s |", "|---|---|---|"]
    for mode, label in (("no_cache", "no persistent cache"), ("cold_cache", "cache on, empty (compile + write)"),
                        ("warm_cache", "cache on, filled (read)")):
        first, compiled = c[mode]["first_call_seconds"], c[mode]["compile_seconds"]
        rows.append(f"| {label} | {_f(first, '.2f')} | {_f(compiled, '.2f')} |")
    return rows


def markdown(results: dict) -> str:
    """All available benchmark results as Markdown tables, with the machine line first."""
    m = results["machine"]
    lines = [f"Measured {m['date_utc']} on {m['cpu']} ({m['threads_used']} threads used of {m['logical_cpus']}), "
             f"load average {m['load_average_at_start']} at start and {results.get('load_average_at_end')} at end; "
             f"jax {m['versions']['jax']}, torch {m['versions']['torch']}"
             f"{' (QUICK sizes: not a result)' if results.get('quick') else ''}.", ""]
    from benchmarks import flow_matching
    from benchmarks.transformer import markdown_lines as _transformer

    builders = {"throughput": _throughput, "quality": _quality, "widgets": _widgets, "course": _course,
                "flow_matching": flow_matching.report_rows, "transformer": _transformer}
    for name, result in results["benchmarks"].items():
        if "error" in result or name not in builders:
            lines += [f"**{name}** failed: {result.get('error', 'unknown benchmark')}", ""]
            continue
        lines += builders[name](result) + [""]
    return "\n".join(lines).rstrip() + "\n"


def update_readme(readme: pathlib.Path, table: str) -> None:
    """Replace the text between the results markers of ``readme`` with ``table``."""
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme.name} has no {START} ... {END} block")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}{END}", text))

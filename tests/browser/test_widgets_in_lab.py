"""Every notebook with a widget, run for real in JupyterLab in headless Chromium.

For each committed notebook whose saved outputs contain a widget: open it in a fresh
JupyterLab, clear the outputs, run all cells, and check that no cell errors or writes to
stderr. Then, for every widget: it renders; each control is used as a person would
(slider dragged with the mouse, dropdown changed, number typed + Enter, button clicked,
Play pressed then paused); the picture or status the widget shows changes when it should;
no status line reports a crash (an exception); and the browser console stays free of errors, with no
request leaving the machine. Screenshots go to artifacts/screenshots/ (git-ignored).

What "changes when it should" means, generically: a button or Play must change what the
widget shows; a value control (slider, dropdown, text box, checkbox) must change it too,
unless the widget has buttons (then value controls may be settings that apply on the
next Step / Train, like a learning rate) or shows a warning of its own (a run that
diverged at step 1 looks the same for 300 or 350 steps). ``EXPECT`` adds per-notebook
requirements that hold regardless.
"""
from __future__ import annotations

import re
import time

import pytest

from lab_harness import (JS_CELL_SUMMARY, JS_INSTALL_BUSY_COUNTER, JS_KERNEL_STATE, JS_MARK_CELL,
                         JS_PANEL_READY, JS_SIGNATURE, SCREENSHOTS, widget_notebooks)
from page_watch import watch

pytestmark = pytest.mark.browser

NOTEBOOKS = widget_notebooks()
RUN_ALL_TIMEOUT_S = 420  # a notebook runs in <= 60 s under nbclient; the browser adds overhead
SETTLE_TIMEOUT_S = 120   # one widget update (a Train button may run many steps)
QUIET_S = 10.0           # no kernel activity for this long after an input: nothing was asked of it

# Per notebook (file stem): how many widgets it must show, and controls (by description or
# button text) that must change the display even when the generic rule would not require it.
EXPECT = {
    "00_start_here": {"widgets": 1, "must_change": {"distribution", "samples", "seed"}},
    "01_concepts": {"widgets": 1, "must_change": {"data", "family"}},
    "02_probability": {"widgets": 2, "must_change": {"target p", "mu", "sigma"}},
    "03_gradient_descent": {"widgets": 1, "must_change": {"surface", "optimizer"}},
    "04_vae": {"widgets": 1, "must_change": {"z1", "z2", "beta", "image a", "image b"}},
    "05_gan": {"widgets": 1, "must_change": {"target", "loss"}},
    "07_beyond": {"widgets": 2, "must_change": {"layer", "data", "t"}},
    "08_vector_fields": {"widgets": 2, "must_change": {"data", "path", "sampler", "steps", "digit", "weight w"}},
    "09_language_models": {"widgets": 2, "must_change": {"temperature", "layer", "name"}},
}

# A status line showing an unexpected Python exception (guarded() writes "unexpected error
# (ExcType): message"; older code wrote "ExcType: message") means a
# callback crashed. Other warnings ("diverged at step 7 ... try a smaller learning rate")
# are the widget teaching something, and are reported but allowed.
CRASH = re.compile(r"\u26a0\s*(?:[A-Za-z_][\w.]*(?:Error|Exception)\s*:|unexpected error \()")
TIMING = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b")


def _shown(signature: dict) -> tuple:
    """What the widget shows, without latencies (they change on every update)."""
    return tuple(signature["images"]), tuple(TIMING.sub("<t>", t) for t in signature["texts"])


def _wait_run_all(page, name: str) -> list[dict]:
    deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
    while time.monotonic() < deadline:
        cells = [c for c in page.evaluate(JS_CELL_SUMMARY) if c["type"] == "code"]
        bad = [c for c in cells if c["errors"]]
        if bad:
            pytest.fail(f"{name}: code cell {bad[0]['index']} raised {bad[0]['errors'][0]}")
        state = page.evaluate(JS_KERNEL_STATE)
        if all(c["count"] for c in cells) and state["status"] == "idle":
            return cells
        time.sleep(0.5)
    pytest.fail(f"{name}: 'Run all' did not finish within {RUN_ALL_TIMEOUT_S} s")


def _wait_settled(page, busy_before: int) -> bool:
    """Wait until the kernel handled what the last input asked; False if it was never asked."""
    start = time.monotonic()
    while time.monotonic() - start < SETTLE_TIMEOUT_S:
        state = page.evaluate(JS_KERNEL_STATE)
        if state["busy"] > busy_before and state["status"] == "idle":
            time.sleep(0.4)  # let the front end draw what arrived just before "idle"
            again = page.evaluate(JS_KERNEL_STATE)
            if again["status"] == "idle" and again["busy"] == state["busy"]:
                return True
        elif state["busy"] == busy_before and time.monotonic() - start > QUIET_S:
            return False
        time.sleep(0.1)
    pytest.fail(f"the kernel was still busy {SETTLE_TIMEOUT_S} s after an input")


def _label(control) -> str:
    """A control's description (its <label>) or a button's text/tooltip."""
    text = control.evaluate("""el => {
        const box = el.closest('.widget-inline-hbox') || el.parentElement;
        const label = box && box.querySelector('label.widget-label');
        if (label && label.innerText.trim()) return label.innerText.trim();
        return (el.innerText || el.title || el.getAttribute('aria-label') || '').trim();
    }""")
    return text or "(unlabelled)"


def _controls(root) -> list[tuple[str, str, object]]:
    """(kind, label, locator) for each control of one widget, value controls first."""
    found = []
    for sel in root.locator(".widget-dropdown select").all():
        found.append(("dropdown", _label(sel), sel))
    for box in root.locator(".widget-slider").all():
        handle = box.locator(".noUi-handle").first
        found.append(("slider", _label(box.locator(".slider-container")), handle))
    for inp in root.locator(".widget-text input").all():
        found.append(("text", _label(inp), inp))
    for inp in root.locator(".widget-checkbox input[type=checkbox]").all():
        found.append(("checkbox", _label(inp), inp))
    for box in root.locator(".widget-toggle-buttons").all():
        names = " / ".join(t.strip() for t in box.locator("button").all_inner_texts())
        described = box.locator("label.widget-label")
        label = described.first.inner_text().strip() if described.count() else ""
        found.append(("toggle", label or names, box))
    buttons = [b for b in root.locator("button.jupyter-button").all()
               if not b.evaluate("el => !!el.closest('.widget-play, .widget-toggle-buttons')")]
    # A reset button goes last, so that it has something to reset.
    buttons.sort(key=lambda b: "reset" in _label(b).lower())
    found += [("button", _label(b), b) for b in buttons]
    for play in root.locator(".widget-play").all():
        found.append(("play", "Play", play))
    return found


def _use(page, kind: str, control) -> str:
    """Operate one control like a person; return what was done."""
    if kind == "dropdown":
        values = control.evaluate("el => [...el.options].map(o => o.value)")
        current = control.input_value()
        target = values[(values.index(current) + 1) % len(values)] if current in values else values[0]
        control.select_option(target)
        return f"chose {target!r}"
    if kind == "slider":
        before = control.get_attribute("aria-valuenow")
        box = control.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # A short drag to the right (or left, at the end); longer ones for sliders with few
        # positions (a selection slider of three values), then the keyboard as a person would.
        for dx in (15, -15, 50, -50, 120, -120):
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + dx, y, steps=5)
            page.mouse.up()
            after = control.get_attribute("aria-valuenow")
            if after != before:
                return f"dragged {before} -> {after}"
        for key in ("ArrowRight", "ArrowLeft"):
            control.focus()
            page.keyboard.press(key)
            after = control.get_attribute("aria-valuenow")
            if after != before:
                return f"moved with {key}: {before} -> {after}"
        raise AssertionError(f"neither dragging nor the arrow keys moved the slider (value {before})")
    if kind == "text":
        current = control.input_value() or "0"
        try:  # an integer goes up by one; a float (a learning rate) is doubled, or set if zero
            target = str(int(current) + 1)
        except ValueError:
            try:
                value = float(current)
                target = repr(value * 2 if value else 0.5)
            except ValueError:
                target = current + "x"
        control.fill(target)
        control.press("Enter")
        return f"typed {target}"
    if kind == "toggle":  # ToggleButtons: pick the first option that is not selected
        option = control.locator("button:not(.mod-active)").first
        text = option.inner_text().strip()
        option.click()
        return f"picked {text!r}"
    if kind in ("checkbox", "button"):
        control.click()
        return "clicked"
    raise ValueError(kind)


@pytest.mark.skipif(not NOTEBOOKS, reason="no committed notebook shows a widget")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widgets_respond_in_jupyterlab(path, lab_server, browser):
    name = path.stem
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    record = watch(page)
    report = []
    try:
        page.goto(lab_server.url(path.name))
        page.wait_for_function(JS_PANEL_READY, timeout=120_000, polling=250)
        page.evaluate(JS_INSTALL_BUSY_COUNTER)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        cells = _wait_run_all(page, name)
        stderr = [(c["index"], c["stderr"][0][:300]) for c in cells if c["stderr"]]
        assert not stderr, f"{name}: cells wrote to stderr: {stderr}"

        widget_cells = [c["index"] for c in cells if c["widget"]]
        expect = EXPECT.get(name, {})
        assert widget_cells, f"{name}: the saved notebook has a widget but the run showed none"
        interactive = 0
        for k, index in enumerate(widget_cells):
            page.evaluate(JS_MARK_CELL, index)
            cell = page.locator(f'[data-test-cell="{index}"]')
            cell.scroll_into_view_if_needed()
            root = cell.locator(".jp-OutputArea-output:has(.jupyter-widgets)").first
            root.locator(".jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
            # every image of the widget drawn (not empty)
            page.wait_for_function(
                "el => [...el.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)",
                arg=root.element_handle(), timeout=30_000)
            shot = f"{name}_w{k}"
            root.screenshot(path=SCREENSHOTS / f"{shot}_0_start.png")
            start = _shown(page.evaluate(JS_SIGNATURE, root.element_handle()))
            assert start[0] or start[1], f"{name}: widget {k} shows neither an image nor text"

            controls = _controls(root)
            if not controls:  # a progress bar (tqdm.auto) is a widget without controls
                assert root.locator(".widget-progress, progress").count(), (
                    f"{name}: widget {k} has no control to interact with")
                report.append(f"widget {k}: a progress bar (nothing to interact with)")
                continue
            interactive += 1
            has_actions = any(kind in ("button", "play") for kind, _, _ in controls)
            for step, (kind, label, control) in enumerate(controls, start=1):
                before = _shown(page.evaluate(JS_SIGNATURE, root.element_handle()))
                busy = page.evaluate(JS_KERNEL_STATE)["busy"]
                if kind == "play":
                    buttons = control.locator("button")
                    buttons.nth(0).click()  # play
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        if _shown(page.evaluate(JS_SIGNATURE, root.element_handle())) != before:
                            break
                        time.sleep(0.3)
                    root.screenshot(path=SCREENSHOTS / f"{shot}_{step}_playing.png")
                    buttons.nth(1).click()  # pause
                    done = "pressed Play, then Pause"
                    busy = page.evaluate(JS_KERNEL_STATE)["busy"]
                    _wait_settled(page, busy)
                else:
                    done = _use(page, kind, control)
                    _wait_settled(page, busy)
                after = _shown(page.evaluate(JS_SIGNATURE, root.element_handle()))
                changed = after != before
                report.append(f"widget {k}: {kind} {label!r}: {done}; display changed: {changed}")
                slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or kind
                root.screenshot(path=SCREENSHOTS / f"{shot}_{step}_{slug}.png")
                crashes = [t for t in after[1] if CRASH.search(t)]
                assert not crashes, f"{name}: after {kind} {label!r} ({done}) the widget reports: {crashes}"
                report += [f"widget {k}:   it warns (by design): {t}" for t in after[1] if "\u26a0" in t]
                # A widget showing a warning (diverged, say) may rightly ignore a setting.
                warned = any("\u26a0" in t for t in before[1] + after[1])
                required = (kind in ("button", "play") or (not has_actions and not warned)
                            or label in expect.get("must_change", ()))
                if required:
                    assert changed, f"{name}: {kind} {label!r} ({done}) did not change what the widget shows"
                page.wait_for_function(
                    "el => [...el.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)",
                    arg=root.element_handle(), timeout=30_000)
            assert _shown(page.evaluate(JS_SIGNATURE, root.element_handle())) != start, (
                f"{name}: widget {k} shows the same thing after every interaction")
        if "widgets" in expect:
            assert interactive == expect["widgets"], f"{name}: {interactive} interactive widgets"
        problems = record.problems()
        assert not problems, f"{name}: " + "; ".join(problems)
    finally:
        print(f"\n{name}:\n  " + "\n  ".join(report))  # shown with -s, or -rA, or on failure
        context.close()
        lab_server.shutdown_kernels()

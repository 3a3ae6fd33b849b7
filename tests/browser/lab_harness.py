"""A throwaway JupyterLab server and the page helpers the browser tests drive it with.

The server runs on 127.0.0.1 with a random token, from a temporary copy of notebooks/
(so nothing the browser does, autosave included, can touch the committed notebooks),
with its own config, data, runtime, settings and workspace folders (so no setting of
the person running the tests leaks in), with autosave, news and update checks off.
"""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Flags for Debian's Chromium in a container with a closed network (see the issue).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

# JupyterLab user settings written into the temporary settings folder.
LAB_SETTINGS = {
    # never write the notebook back to disk
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # every cell stays attached to the DOM, so tests can find any output
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # no request to the news feed or the update check
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def find_chromium() -> str | None:
    """Path of a Chromium binary: $CHROMIUM_PATH, else Debian's /usr/bin/chromium, else PATH."""
    env = os.environ.get("CHROMIUM_PATH")
    if env:
        return env if os.access(env, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def widget_notebooks() -> list[pathlib.Path]:
    """Committed notebooks whose saved outputs include a live widget."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if any(WIDGET_MIME in out.get("data", {})
               for cell in nb["cells"] if cell["cell_type"] == "code"
               for out in cell.get("outputs", [])):
            found.append(path)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``with LabServer(tmp) as lab:`` starts JupyterLab; ``lab.url(path)`` opens a notebook."""

    def __init__(self, workdir: pathlib.Path, *, startup_timeout: float = 120.0):
        self.workdir = pathlib.Path(workdir)
        self.root = self.workdir / "notebooks"
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterlab.log"

    # ------------------------------------------------------------------ lifecycle
    def _prepare(self) -> dict:
        shutil.copytree(NOTEBOOKS, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "src"))
        dirs = {name: self.workdir / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for plugin, values in LAB_SETTINGS.items():
            target = dirs["settings"] / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values), encoding="utf-8")
        config = {
            "ServerApp": {"ip": "127.0.0.1", "port": self.port, "port_retries": 0, "open_browser": False,
                          "root_dir": str(self.root), "terminals_enabled": False,
                          # CI containers run as root; the server only listens on loopback
                          "allow_root": hasattr(os, "geteuid") and os.geteuid() == 0},
            "IdentityProvider": {"token": self.token},
            "LabApp": {"news_url": None, "expose_app_in_browser": True, "extension_manager": "readonly",
                       "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        }
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config), encoding="utf-8")
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "1",
        })
        return env

    def __enter__(self) -> "LabServer":
        env = self._prepare()
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser"],
            cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n{self.log()}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: jupyter_server shuts its kernels down
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    # ------------------------------------------------------------------ helpers
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def shutdown_kernels(self) -> None:
        """Stop every kernel of the server (each test starts its own)."""
        def call(method, path):
            request = urllib.request.Request(f"{self.base}{path}", method=method,
                                             headers={"Authorization": f"token {self.token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        for kernel in call("GET", "/api/kernels") or []:
            call("DELETE", f"/api/kernels/{kernel['id']}")

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except OSError:
            return ""


# ---------------------------------------------------------------------- page side
# JavaScript run in the page through ``window.jupyterapp`` (LabApp.expose_app_in_browser).

JS_PANEL_READY = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.context.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && panel.sessionContext.kernelDisplayStatus === 'idle';
}"""

# Count the kernel's busy periods, so a test can wait for "went busy, then idle again".
JS_INSTALL_BUSY_COUNTER = """() => {
  const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
  window.__busy = 0;
  ctx.statusChanged.connect((_, status) => { if (status === 'busy') window.__busy += 1; });
  return true;
}"""

JS_KERNEL_STATE = """() => {
  const ctx = window.jupyterapp.shell.currentWidget.sessionContext;
  return {status: ctx.kernelDisplayStatus, busy: window.__busy || 0};
}"""

JS_CELL_SUMMARY = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map((cell, i) => {
    const m = cell.model;
    if (m.type !== 'code') return {index: i, type: m.type};
    const outputs = m.outputs.toJSON();
    return {
      index: i, type: 'code', count: m.executionCount,
      errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
      stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr').map(o => [].concat(o.text).join('')),
      widget: outputs.some(o => o.data && o.data['application/vnd.jupyter.widget-view+json']),
    };
  });
}"""

JS_MARK_CELL = """(i) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
  cell.node.setAttribute('data-test-cell', String(i));
  return true;
}"""

# What a widget output shows: a digest of the bytes of every image, and its texts.
JS_SIGNATURE = """async (root) => {
  const digest = (buf) => {  // FNV-1a over the bytes: a cheap content fingerprint
    let h = 0x811c9dc5; const a = new Uint8Array(buf);
    for (let k = 0; k < a.length; k++) { h ^= a[k]; h = Math.imul(h, 0x01000193) >>> 0; }
    return h.toString(16) + ':' + a.length;
  };
  const images = [];
  for (const img of root.querySelectorAll('img')) {
    if (!img.src) { images.push('empty'); continue; }
    try { images.push(digest(await (await fetch(img.src)).arrayBuffer())); }
    catch (e) { images.push('unreadable:' + img.src.slice(0, 40)); }
  }
  // Texts that widgets *show* (HTML/status lines, Label widgets, Output widgets, progress
  // bars); not the controls' own descriptions and readouts, which change with any input.
  const texts = [...root.querySelectorAll('.widget-html-content, .widget-label:not(label), .widget-output, progress')]
    .map(e => (e.tagName === 'PROGRESS' ? String(e.value) : (e.innerText || '')).trim());
  const sizes = [...root.querySelectorAll('img')].map(i => i.naturalWidth + 'x' + i.naturalHeight);
  return {images, texts, sizes};
}"""

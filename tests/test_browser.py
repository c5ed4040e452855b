"""Notebook 00 in a real JupyterLab, driven by headless Chromium (Debian's ``chromium`` through
Playwright's Python package; Playwright's own browser download is never used).

The server runs on 127.0.0.1 at a free port with a token, rooted at the repository; its
environment gives the kernel ``HASHLIB_PROFILE=smoke`` and the data root. The test runs all
cells from the Run menu, checks the tables are rendered and no cell shows an error or writes
to stderr, then adds one cell (never saved: autosave is off and the file is checked unchanged)
that draws a widget progress bar and shows the figure the notebook saved. Screenshots go to
``$HASHLIB_CACHE/artefacts/``. Outside CI a missing chromium or playwright skips the test with
the reason; under ``CI=true`` it fails instead (``.ci/run`` installs both).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hashlib_core.paths import cache_root, data_root

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/00_data_and_metrics.ipynb"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 90


def _missing() -> list[str]:
    missing = []
    if CHROMIUM is None:
        missing.append("Debian's chromium (apt-get update && apt-get install -y chromium)")
    for module, what in (("playwright.sync_api", "playwright (pip install playwright)"),
                         ("jupyterlab", "jupyterlab (the notebooks extra)"),
                         ("ipywidgets", "ipywidgets (the notebooks extra)")):
        try:
            __import__(module)
        except ImportError:
            missing.append(what)
    return missing


@pytest.fixture(scope="module", autouse=True)
def _browser_requirements():
    missing = _missing()
    if missing:
        message = "the browser test needs " + ", ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: .ci/run installs them)", pytrace=False)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_settings(folder: Path) -> None:
    """User settings of the throw-away JupyterLab: no autosave (the test must not write to the
    repository's notebook), no news or update checks (no network, no toasts over the page)."""
    settings = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        # start the notebook's own kernel (python3 of this environment) without asking
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True,
                                                                             # every cell in the DOM, so
                                                                             # every prompt can be read
                                                                             "windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server rooted at the repository; yields (base URL, token)."""
    port, token = _free_port(), hashlib.sha256(os.urandom(16)).hexdigest()[:32]
    _lab_settings(tmp_path / "lab-settings")
    env = dict(os.environ)
    env.pop("HASHLIB_PROGRESS", None)  # widget bars, as a user gets them
    env.update({
        "HASHLIB_PROFILE": "smoke",
        "HASHLIB_DATA": str(data_root()),
        "HASHLIB_CACHE": str(cache_root()),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
    })
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={REPO}", "--LabApp.news_url=", "--ServerApp.open_browser=False",
           # checkpoints outside the checkout (an absolute path is taken as is)
           f"--FileCheckpoints.checkpoint_dir={tmp_path / 'checkpoints'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token
    finally:
        try:  # the server's own shutdown stops its kernels too
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _select_kernel_if_asked(page) -> None:
    """Accept the notebook's own kernel should JupyterLab still ask (autoStartDefaultKernel)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True).click(timeout=3000)
    except PlaywrightTimeout:
        pass


def _wait_for_idle_kernel(base: str, token: str) -> None:
    """Until the server reports the notebook's kernel idle (started and ready)."""
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as response:
            sessions = json.loads(response.read())
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("path") == NOTEBOOK and s.get("kernel")]
        if states == ["idle"]:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the kernel of {NOTEBOOK} did not become idle within {START_TIMEOUT_S} s")


def _artefacts() -> Path:
    folder = cache_root() / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_notebook_00_runs_in_jupyterlab(jupyterlab):
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab
    notebook_file = REPO / NOTEBOOK
    before = hashlib.sha256(notebook_file.read_bytes()).hexdigest()
    n_code_cells = sum(c["cell_type"] == "code" for c in json.loads(notebook_file.read_text())["cells"])
    shots = _artefacts()
    t0 = time.time()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=START_TIMEOUT_S * 1000)
            _select_kernel_if_asked(page)
            _wait_for_idle_kernel(base, token)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            # every code cell has an execution count and none is still running ([*])
            page.wait_for_function(
                """n => {
                    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                        .map(p => p.textContent.trim());
                    return prompts.length === n && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
                }""", arg=n_code_cells, timeout=RUN_TIMEOUT_S * 1000)
            notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")

            errors = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
            stderr = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            assert errors.count() == 0, errors.all_inner_texts()
            assert stderr.count() == 0, stderr.all_inner_texts()

            tables = notebook.locator(".jp-RenderedHTMLCommon table")
            texts = tables.all_inner_texts()
            sizes = [t for t in texts if "checksum" in t and "cifar10-dshfmdf" in t]
            sanity = [t for t in texts if "mAP (tie-aware)" in t and "label codes" in t]
            assert len(sizes) == 1 and all(p in sizes[0] for p in
                                           ("cifar10-dshc", "cifar10-selfsup", "cifar10-mosaic")), texts
            assert len(sanity) == 1, texts
            assert "outputs in" in notebook.inner_text()  # the last cell ran past its asserts
            tables.first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser_00_tables.png"))

            # one more cell, typed as a user would: a widget progress bar and the saved figure
            notebook.locator(".jp-Cell").last.click()
            page.keyboard.press("Escape")
            page.keyboard.press("b")
            page.keyboard.press("Enter")
            page.keyboard.insert_text(
                "from IPython.display import Image; from hashlib_core.progress import tqdm; "
                "_ = list(tqdm(range(3), desc='widget bar')); "
                "Image(filename=str(report.dir / 'sample_grid.png'))")
            page.keyboard.press("Shift+Enter")
            last_cell = notebook.locator(".jp-CodeCell").nth(n_code_cells)
            figure = last_cell.locator(".jp-OutputArea-output img")
            figure.wait_for(timeout=30_000)
            size = figure.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size[0] > 800 and size[1] > 200, size  # the 2 x 8 sample grid (12 x 3.6 in at 130 dpi)
            bar = last_cell.locator(".jupyter-widgets.widget-hprogress")
            assert bar.count() == 1, "tqdm did not draw an ipywidgets progress bar"
            bar_text = last_cell.inner_text().replace("\u2007", " ")  # tqdm pads with figure spaces
            assert "widget bar: 100%" in bar_text and "3/3" in bar_text, bar_text
            assert errors.count() == 0 and stderr.count() == 0, stderr.all_inner_texts()
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser_00_figure.png"))
        except Exception:
            page.screenshot(path=str(shots / "browser_00_failure.png"))
            prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
            print(f"failed after {time.time() - t0:.0f} s; prompts {prompts}; screenshot {shots}/browser_00_failure.png")
            raise
        finally:
            browser.close()
    assert hashlib.sha256(notebook_file.read_bytes()).hexdigest() == before, "the notebook file was modified"
    assert not (notebook_file.parent / ".ipynb_checkpoints").exists(), "the server wrote into the checkout"
    assert time.time() - t0 < 120

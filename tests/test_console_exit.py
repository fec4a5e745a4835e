"""The console script ends without the interpreter's teardown, but only when the teardown has nothing to do."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import backprop_lint

CHECKOUT = str(Path(backprop_lint.__file__).resolve().parent.parent)
#: an object whose finaliser says whether the interpreter tore the module down
TORN_DOWN_PROBE = (
    "import sys\n"
    "class Probe:\n"
    "    def __del__(self):\n"
    "        sys.stdout.write('torn down\\n'); sys.stdout.flush()\n"
    "probe = Probe()\n"
)


def run(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in ``python -S``: no `site`, whose `.pth` files may register exit callbacks of their own."""
    env = dict(os.environ, PYTHONPATH=CHECKOUT)
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_exit_skips_the_teardown_after_flushing_output() -> None:
    done = run(TORN_DOWN_PROBE + "sys.stdout.write('unflushed output')\n"
               "from backprop_lint.cli import exit_without_teardown\nexit_without_teardown(3)\n")
    assert done.returncode == 3
    assert done.stdout == "unflushed output"


def test_exit_keeps_the_teardown_when_an_atexit_callback_is_pending() -> None:
    done = run(TORN_DOWN_PROBE + "import atexit\natexit.register(lambda: print('callback ran'))\n"
               "from backprop_lint.cli import exit_without_teardown\nexit_without_teardown(4)\n")
    assert done.returncode == 4
    assert "callback ran" in done.stdout and "torn down" in done.stdout


def test_exit_keeps_the_teardown_while_a_thread_runs() -> None:
    done = run(TORN_DOWN_PROBE + "import threading, time\n"
               "threading.Thread(target=lambda: (time.sleep(0.2), print('thread finished'))).start()\n"
               "from backprop_lint.cli import exit_without_teardown\nexit_without_teardown(5)\n")
    assert done.returncode == 5
    assert "thread finished" in done.stdout


def test_console_main_prints_whole_output_and_exit_status(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "d" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
                   'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n'
                   'layer { name: "bad" type: "ReLU" bottom: "missing" top: "z" }\n')
    env = dict(os.environ, PYTHONPATH=CHECKOUT)
    done = subprocess.run([sys.executable, "-m", "backprop_lint", "simulate", str(net)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "Unknown bottom blob" in json.loads(done.stdout)["error"]["message"]


NET = 'name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n'


def test_only_the_console_script_freezes_what_the_import_made(tmp_path: Path) -> None:
    """``gc.freeze`` would also keep a longer-lived caller's garbage forever: only a whole process freezes."""
    net = tmp_path / "net.prototxt"
    net.write_text(NET)
    code = (
        "import gc, io, sys; from backprop_lint.cli import main; sys.stdout = io.StringIO()\n"
        "frozen = []\n"
        "for whole in (False, True):\n"
        f"    for command in (['simulate', {str(net)!r}], ['check', '--no-progress', {str(net)!r}]):\n"
        "        main(command, whole_process=whole); frozen.append(gc.get_freeze_count() > 0); gc.unfreeze()\n"
        "sys.stdout = sys.__stdout__; print(frozen)\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[False, False, True, True]"

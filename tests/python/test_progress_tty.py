# SPDX-License-Identifier: Apache-2.0
"""Progress on a terminal (issue 13, item 7): a 4-configuration sweep run in a pseudo-terminal leaves
at most ~10 lines (one owner bar, cleared when done; nested loops in its postfix; log lines above
it), shows s/it or it/s and an overall count, prints its table before the opt-in sensitivity, and
draws nothing when stderr is not a terminal."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios

from harness import QTOOL, qtool


def run_in_pty(args, cols=120, timeout=600):
    """Runs qtool with stdin/stdout/stderr on one pseudo-terminal, as in an interactive shell."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # bars are off in CI; this test wants them
    env["TERM"] = "xterm"
    env["QTOOL_PROGRESS_INTERVAL_MS"] = "0"  # every update drawn: what the bar shows does not depend on timing
    p = subprocess.Popen([str(QTOOL), *map(str, args)], stdin=slave, stdout=slave, stderr=slave, env=env,
                         close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=timeout)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def screen_lines(raw):
    """What stays on the screen: every newline is a line; \\r + erase-line rewrites the same line."""
    return raw.count("\n")


def test_sweep_on_a_terminal_prints_few_lines(digits_model, tmp_path):
    d = digits_model
    rc, raw = run_in_pty(["sweep", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy",
                          "--labels", d / "test_labels.npy", "--bits", "8,4", "--sparsity", "0,0.5",
                          "--out-dir", tmp_path / "sweep"])
    assert rc == 0, raw
    lines = screen_lines(raw)
    print(f"{lines} lines on the terminal; {len(raw)} bytes written")
    assert lines <= 10, raw
    assert "\rsweep [" in raw and "/5" in raw  # one owner bar with the overall step count (fp32 + 4)
    assert re.search(r"\d+\.\d (s/it|it/s)", raw)  # a rate in the unit that reads well
    assert re.search(r"\| (evaluate|calibrate|hessians) \d+/\d+", raw)  # nested loops in the postfix
    bars = set(re.findall(r"\r(\w+) \[", raw))
    assert bars == {"sweep"}, bars  # nested loops draw no bars of their own
    assert "\x1b[K" in raw and raw.rstrip().endswith("report.{json,csv,svg,html}")  # bar cleared, table last


def test_sensitivity_is_opt_in_and_after_the_table(digits_model, tmp_path):
    d = digits_model
    rc, raw = run_in_pty(["sweep", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy",
                          "--bits", "8", "--out-dir", tmp_path / "s", "--sensitivity"])
    assert rc == 0, raw
    table, after = raw.index("written:"), raw.index("per-layer sensitivity:")
    assert table < raw.index("\rsensitivity [") < after  # the table first, then the sensitivity bar
    assert "Per-layer sensitivity" in (tmp_path / "s" / "report.html").read_text()
    rc, raw = run_in_pty(["sweep", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy",
                          "--bits", "8", "--out-dir", tmp_path / "n"])
    assert "\rsensitivity [" not in raw and "Per-layer sensitivity" not in (tmp_path / "n" / "report.html").read_text()


def test_log_lines_go_above_the_bar(digits_model, tmp_path):
    d = digits_model
    # quantize int8 without --calib logs a warning while nothing else runs; with a bar owner (sweep,
    # binary + sparsity warns before work) every log line must start on a fresh line
    rc, raw = run_in_pty(["sweep", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy",
                          "--bits", "8,1", "--sparsity", "0,0.5", "--out-dir", tmp_path / "w", "-v"])
    assert rc == 0, raw
    for m in re.finditer(r"\[(debug|info|warning)\]", raw):
        before = raw[:m.start()].replace("\x1b[32m", "").replace("\x1b[33m", "").replace("\x1b[1m", "")
        before = re.sub(r"\x1b\[[0-9;]*m$", "", before)
        assert before.endswith(("\n", "\r\x1b[K")) or before == "", repr(raw[max(0, m.start() - 80):m.start() + 20])


def test_no_bar_without_a_terminal(digits_model, tmp_path):
    d = digits_model
    r = qtool("sweep", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy", "--bits", "8",
              "--out-dir", tmp_path / "p")
    assert "\r" not in r.stderr and "[=" not in r.stderr and "\x1b[K" not in r.stderr


def test_auto_shows_an_overall_bar(digits_model, tmp_path):
    d = digits_model
    rc, raw = run_in_pty(["auto", d / "digits_mlp.onnx", "--calib", d / "calib.npy", "--data", d / "test.npy",
                          "--labels", d / "test_labels.npy", "-o", tmp_path / "a.onnx"])
    assert rc == 0, raw
    bars = set(re.findall(r"\r(\w+) \[", raw))
    assert bars == {"auto"}, bars  # one owner bar; sensitivity/calibration/evaluation in its postfix
    assert re.search(r"\rauto \[[^\r]*\] \[\d\d:\d\d<\d\d:\d\d\] \d+/\d+", raw), raw[-2000:]  # ETA, step count
    assert screen_lines(raw) <= 20, raw

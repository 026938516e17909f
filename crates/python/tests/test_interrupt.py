"""Ctrl-C during a long call: KeyboardInterrupt within 2 s, and the next call works."""

import signal
import subprocess
import sys
import time

# A simulation of about an hour (1000 seeds at n = 5500, p = 20000, a few seconds each),
# interrupted after 1.5 s; then a short prediction in the same process, which must not see a
# stale stop. (The zeroing of a new Gram buffer cannot be interrupted: ~0.4 s at this n.)
SCRIPT = r"""
import time
import imbalance

print("started", flush=True)
try:
    imbalance.simulate(counts=[1000] * 5 + [100] * 5, dim=20000, snr=8, method="ce",
                       time=1e6, seeds=1000)
except KeyboardInterrupt:
    out = imbalance.predict(counts=[100, 10], dim=1000, snr=5, method="la", time=1e4)
    print("recovered", out["balanced_error"], flush=True)
    raise
print("finished", flush=True)
"""


def test_sigint_raises_keyboard_interrupt_within_2_s_and_the_next_call_runs():
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(1.5)  # well inside the simulation (its first seed alone takes seconds)
        assert p.poll() is None, "the simulation ended before the signal"
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
    assert "KeyboardInterrupt" in err, err
    assert "recovered" in out and "finished" not in out, out
    assert p.returncode != 0
    assert elapsed < 2.0, f"exited {elapsed:.2f} s after SIGINT"

"""Ctrl-C during ebm.train: KeyboardInterrupt at a minibatch boundary, after the state is saved."""

import os
import signal
import subprocess
import sys
import textwrap

import ebm

SCRIPT = textwrap.dedent(
    """
    import sys
    import ebm

    def on_epoch(m):
        print("epoch", m["epoch"], flush=True)

    config = ebm.Config().set("training.epochs", 50)
    try:
        ebm.train(config, out=sys.argv[1], on_epoch=on_epoch)
    except KeyboardInterrupt as e:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
    """
)


def test_ctrl_c_raises_keyboard_interrupt_after_saving(tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout.readline().strip() == "epoch 1"
        p.send_signal(signal.SIGINT)
        rest = p.stdout.read()
        assert p.wait(timeout=60) == 3, rest
    finally:
        if p.poll() is None:
            p.kill()
    assert rest.strip().endswith("interrupted")
    net = ebm.Net.load(out / "checkpoint.npz")
    assert net.sizes == [784, 500, 10]
    assert not [f for f in os.listdir(out) if f.startswith(".ebm-tmp")]

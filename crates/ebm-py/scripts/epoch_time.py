"""Paired timing: ep-1h epochs through Python against the CLI, alternating, 1 thread each.

    EBM_BIN=target/release/ebm python crates/ebm-py/scripts/epoch_time.py PAIRS [DATA_DIR]

(in an environment with the `ebm` wheel installed; DATA_DIR defaults to ../shared/data/mnist).
Each pair trains 2 epochs of ep-1h both ways (checked bit-identical) and compares the training
seconds of the epochs; prints each pair and a JSON summary of the ratios.
"""
import json, subprocess, sys, statistics, tempfile, os
import ebm

EBM = os.environ.get("EBM_BIN", "target/release/ebm")
DATA = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist")
SETS = {"training.epochs": 2, "training.train_eval_every": 0}
pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
cli_s, py_s, ratios = [], [], []
for i in range(pairs):
    with tempfile.TemporaryDirectory() as tmp:
        args = [EBM, "train", "--preset", "ep-1h", "--data", DATA, "--threads", "1", "-q", "--out", tmp, "--force"]
        for k, v in SETS.items():
            args += ["--set", f"{k}={v}"]
        order = ["cli", "py"] if i % 2 == 0 else ["py", "cli"]
        got = {}
        for who in order:
            if who == "cli":
                subprocess.run(args, check=True)
                s = json.load(open(os.path.join(tmp, "summary.json")))
                got["cli"] = (sum(s["epoch_seconds"]), s["model_sha256"])
            else:
                c = ebm.Config.preset("ep-1h")
                for k, v in SETS.items():
                    c = c.set(k, v)
                r = ebm.train(c, data=DATA, threads=1)
                got["py"] = (sum(m["seconds"] for m in r.history), r.model_sha256)
        assert got["cli"][1] == got["py"][1], "not bit-identical"
        cli_s.append(got["cli"][0]); py_s.append(got["py"][0]); ratios.append(got["py"][0] / got["cli"][0])
        print(f"pair {i}: cli {got['cli'][0]:.3f} s, python {got['py'][0]:.3f} s, ratio {ratios[-1]:.4f}", flush=True)
print(json.dumps({
    "pairs": pairs,
    "cli_median_s_2_epochs": statistics.median(cli_s),
    "python_median_s_2_epochs": statistics.median(py_s),
    "ratio_median": statistics.median(ratios),
    "ratio_mean": statistics.mean(ratios),
    "ratio_sd": statistics.stdev(ratios),
    "ratio_min": min(ratios), "ratio_max": max(ratios),
    "sha256": got["cli"][1],
}, indent=1))

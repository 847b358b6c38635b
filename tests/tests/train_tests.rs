//! `ebm train` and `ebm eval` end to end on a small slice of the embedded data.

use std::path::Path;
use std::process::Output;

use ebm_tests::{read_json, run_in, stderr, stdout};

const SMALL: &[&str] = &[
    "--set",
    "model.layers=[784, 40, 10]",
    "--set",
    "training.epochs=2",
    "--set",
    "data.train_limit=400",
    "--set",
    "data.test_limit=100",
];

/// `ebm train --out OUT` on the small slice, with `extra` arguments, in `dir`.
fn train_small(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--out", out];
    args.extend(SMALL);
    args.extend(extra);
    run_in(dir, &args)
}

#[test]
fn train_writes_results_and_eval_reads_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_small(dir.path(), "run", &["--seed", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("test error"), "{}", stdout(&out));
    let run = dir.path().join("run");
    for f in ["summary.json", "metrics.csv", "learning_curve.svg", "checkpoint.npz"] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["epochs"], 2);
    assert_eq!(summary["epoch_seconds"].as_array().unwrap().len(), 2);
    let test_error = summary["final_test_error"].as_f64().unwrap();
    assert!((0.0..0.9).contains(&test_error), "{test_error}");
    assert_eq!(std::fs::read_to_string(run.join("metrics.csv")).unwrap().lines().count(), 3);

    // Same seed, same numbers.
    assert!(train_small(dir.path(), "run2", &["--seed", "3"]).status.success());
    let s2 = read_json(&dir.path().join("run2/summary.json"));
    assert_eq!(s2["final_test_error"], summary["final_test_error"]);
    assert_eq!(s2["final_train_error_running"], summary["final_train_error_running"]);

    // An existing results directory is not overwritten without --force.
    let out = train_small(dir.path(), "run", &["--seed", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"));

    let out = run_in(
        dir.path(),
        &["eval", "--checkpoint", "run/checkpoint.npz", "--set", "data.test_limit=100"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("test error"));
}

#[test]
fn resume_continues_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    assert!(train_small(dir.path(), "full", &[]).status.success());
    assert!(train_small(dir.path(), "part", &["--set", "training.epochs=1"]).status.success());
    let out = run_in(dir.path(), &["train", "--resume", "part", "--set", "training.epochs=2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = |d: &str| read_json(&dir.path().join(d).join("summary.json"));
    assert_eq!(summary("full")["final_test_error"], summary("part")["final_test_error"]);
    // run_seconds covers both epochs, the one before the resume included.
    let csv = std::fs::read_to_string(dir.path().join("part/metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (secs, evals) = (col("seconds"), col("eval_seconds"));
    let epoch_sum: f64 = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap_or(f64::NAN)).collect();
            f[secs] + f[evals]
        })
        .sum();
    let run_seconds = summary("part")["run_seconds"].as_f64().unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(run_seconds > 0.0 && (run_seconds - epoch_sum).abs() <= 1e-9 * epoch_sum, "{csv}");
    let arrays = |d: &str| {
        let file = std::fs::File::open(dir.path().join(d).join("checkpoint.npz")).unwrap();
        let mut npz = ndarray_npy::NpzReader::new(file).unwrap();
        let w: Vec<ndarray::Array2<f32>> =
            ["W0.npy", "W1.npy", "train_s1.npy"].iter().map(|n| npz.by_name(n).unwrap()).collect();
        let b: Vec<ndarray::Array1<f32>> =
            ["b0.npy", "b1.npy"].iter().map(|n| npz.by_name(n).unwrap()).collect();
        (w, b)
    };
    assert_eq!(arrays("full"), arrays("part"), "resumed run ends with different weights");
}

#[test]
fn missing_data_directory_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["train", "--data", "no-such-dir", "--out", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
}

#[test]
fn gradcheck_measures_a_trained_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_small(dir.path(), "run", &["--seed", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_in(
        dir.path(),
        &[
            "gradcheck",
            "--checkpoint",
            "run/checkpoint.npz",
            "--out",
            "g",
            "--set",
            "gradcheck.hidden_layers=[1]",
            "--set",
            "gradcheck.hidden_size=10",
            "--set",
            "gradcheck.examples=8",
            "--set",
            "gradcheck.betas=[1e-4, 0.5]",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = read_json(&dir.path().join("g/summary.json"));
    let rows = summary["rows"].as_array().unwrap();
    let trained: Vec<_> = rows.iter().filter(|r| r["net"] == "run/checkpoint.npz").collect();
    // 2 weight layers x 2 betas x 2 nudgings; the Glorot 1-hidden net is measured as well.
    assert_eq!(trained.len(), 8, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["net"] == "glorot").count(), 8);
    let get = |layer: u64, beta: f64, nudging: &str, field: &str| {
        trained
            .iter()
            .find(|r| r["layer"] == layer && r["beta"] == beta && r["nudging"] == nudging)
            .unwrap()[field]
            .as_f64()
            .unwrap()
    };
    for layer in 0..2 {
        assert_eq!(trained.iter().filter(|r| r["layer"] == layer).count(), 4);
        let cosine = get(layer, 1e-4, "centred", "cosine");
        assert!(cosine > 0.99, "layer {layer}: centred cosine {cosine}");
        assert!(
            get(layer, 0.5, "one-sided", "relative_error")
                > get(layer, 1e-4, "one-sided", "relative_error"),
            "layer {layer}: the one-sided bias grows with beta"
        );
    }
    // The trained net's examples are those with non-zero cost, recorded.
    let chosen = &summary["trained_examples"][0];
    assert_eq!(chosen["net"], "run/checkpoint.npz");
    assert_eq!(chosen["examples"].as_array().unwrap().len(), 8, "{chosen}");
    let depths = summary["depths"].as_array().unwrap();
    assert!(depths.iter().any(|d| d["net"] == "run/checkpoint.npz" && d["hidden_layers"] == 1));
}

#[test]
fn a_validation_split_selects_an_epoch_and_keeps_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--set",
        "data.train_limit=300",
        "--set",
        "data.validation=1000",
        "--set",
        "training.select=\"best-validation\"",
        "--set",
        "training.epochs=3",
    ];
    let out = train_small(dir.path(), "run", &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.path().join("run");
    let s = read_json(&run.join("summary.json"));
    assert_eq!(s["examples"]["train"], 300);
    assert_eq!(s["examples"]["validation"], 1000);
    let selected = &s["selected"];
    assert_eq!(selected["rule"], "best-validation");
    assert_eq!(selected["model"], "best-model.npz");
    let epoch = selected["epoch"].as_u64().unwrap() as usize;
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = metrics.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let val: Vec<f64> = rows.iter().map(|r| r[col("validation_error")].parse().unwrap()).collect();
    let min = val.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(val[epoch - 1], min, "{val:?}");
    assert_eq!(selected["validation_error"].as_f64(), Some(min));
    let test: f64 = rows[epoch - 1][col("test_error")].parse().unwrap();
    assert_eq!(selected["test_error"].as_f64(), Some(test));
    // the kept model is that epoch's: eval scores the selected test error, and the selected
    // validation error on the run's validation split (where evaluation settings are chosen)
    let eval =
        run_in(dir.path(), &["-q", "eval", "--checkpoint", "run/best-model.npz", "--out", "ev"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(
        stdout(&eval).contains(&format!("test error {:.2}%", 100.0 * test)),
        "{}",
        stdout(&eval)
    );
    assert!(stdout(&eval).contains(&format!("validation error {:.2}%", 100.0 * min)));
    let ev = read_json(&dir.path().join("ev/summary.json"));
    assert_eq!(ev["validation_error"].as_f64(), Some(min));
    assert_eq!(ev["validation_examples"], 1000);
}

/// The `data:` URIs of a report's `<img>` tags, decoded.
fn report_images(html: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    html.split("<img")
        .skip(1)
        .map(|tag| {
            let src = tag.split("src=\"data:").nth(1).expect("a data: URI");
            let (mime, rest) = src.split_once(";base64,").expect("base64");
            let data = rest.split('"').next().unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).expect("base64");
            (mime.to_owned(), bytes)
        })
        .collect()
}

#[test]
fn train_writes_its_pictures_and_a_self_contained_report_and_relax_draws_any_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = train_small(dir.path(), "run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.path().join("run");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    // Finished: no reload; nothing from the network; every picture inline and decodable.
    assert!(!html.contains("http-equiv=\"refresh\""));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("Finished: 2 of 2 epochs"), "{html:.400}");
    let images = report_images(&html);
    let files = [
        "learning_curve.svg",
        "receptive_fields.png",
        "input_weights.png",
        "training_dynamics.svg",
        "relaxation.svg",
        "hidden_states.svg",
    ];
    assert_eq!(images.len(), files.len());
    for ((mime, bytes), file) in images.iter().zip(files) {
        // The inline picture is the file's bytes.
        assert_eq!(bytes, &std::fs::read(run.join(file)).unwrap(), "{file}");
        if mime == "image/png" {
            let img = image::load_from_memory(bytes).unwrap();
            // 40 hidden units: a 7x7 grid of 28x28 tiles with 1-pixel gaps, 3x zoomed.
            assert_eq!(img.width(), 7 * 29 * 3 + 3, "{file}");
        } else {
            assert!(std::str::from_utf8(bytes).unwrap().contains("<svg"), "{file}");
        }
    }
    // The relaxation picture names both phases; the histogram the saturated share.
    let relax = std::fs::read_to_string(run.join("relaxation.svg")).unwrap();
    assert!(relax.contains("free phase") && relax.contains("nudged phase"));
    assert!(std::fs::read_to_string(run.join("hidden_states.svg")).unwrap().contains("saturated"));

    let out =
        run_in(dir.path(), &["relax", "--checkpoint", "run", "--examples", "3", "--out", "r"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("free phase: mean energy"), "{}", stdout(&out));
    let trace = read_json(&dir.path().join("r/relax.json"));
    assert_eq!(trace["labels"].as_array().unwrap().len(), 3);
    let energy = trace["trace"]["free"]["energy"].as_array().unwrap();
    assert_eq!(energy.len(), trace["free_steps"].as_u64().unwrap() as usize + 1);
    assert!(dir.path().join("r/report.html").exists());

    let out =
        run_in(dir.path(), &["relax", "--checkpoint", "run", "--examples", "0", "--out", "r0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--examples 0"), "{}", stderr(&out));
}

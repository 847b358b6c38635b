//! `ebm train` with the local learning rules and `ebm compare` end to end, on a small slice of
//! the embedded data.

use ebm_tests::{run_in, stderr};

const SMALL: &[&str] = &[
    "--set",
    "model.layers=[784, 100, 10]",
    "--set",
    "training.epochs=3",
    "--set",
    "data.train_limit=1000",
    "--set",
    "data.test_limit=100",
];

#[test]
fn every_rule_trains_and_compare_plots_their_curves() {
    let dir = tempfile::tempdir().unwrap();
    for rule in ["contrastive", "temporal", "spiking"] {
        let set = format!("training.rule={rule}");
        let mut args = vec!["train", "-q", "--out", rule, "--set", &set];
        args.extend(SMALL);
        let out = run_in(dir.path(), &args);
        assert!(out.status.success(), "{rule}: {}", stderr(&out));
    }
    let out = run_in(
        dir.path(),
        &["compare", "-q", "contrastive", "temporal", "spiking", "--out", "cmp"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cmp = dir.path().join("cmp");
    for f in ["compare.csv", "summary.json", "test_error.svg", "test_error_persistent.svg"] {
        assert!(cmp.join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(cmp.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 3, "{csv}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cmp.join("summary.json")).unwrap()).unwrap();
    let rules: Vec<&str> =
        summary["runs"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["contrastive", "temporal", "spiking"]);
    // Each rule learns: 3 epochs on 1000 examples beat chance (90%) clearly (measured: 28%).
    for r in summary["runs"].as_array().unwrap() {
        let e = r["final_test_error"].as_f64().unwrap();
        assert!(e < 0.4, "{}: test error {e}", r["rule"]);
    }

    // A directory that is not a run: exit 2 naming it.
    let out = run_in(dir.path(), &["compare", "contrastive", "nowhere", "--out", "cmp2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
    assert!(!dir.path().join("cmp2").exists(), "no output left behind");
}

#[test]
fn plot_draws_columns_of_a_csv_and_names_a_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.csv"),
        "run,epoch,test_error\na,1,0.05\na,2,0.04\nb,1,0.06\nb,2,0.03\n",
    )
    .unwrap();
    let out = ebm_tests::run_in(
        dir.path(),
        &[
            "plot",
            "c.csv",
            "--x",
            "epoch",
            "--y",
            "test_error",
            "--group",
            "run",
            "--percent",
            "--svg",
            "p.svg",
        ],
    );
    assert!(out.status.success(), "{}", ebm_tests::stderr(&out));
    assert!(ebm_tests::stdout(&out).contains("2 series"), "{}", ebm_tests::stdout(&out));
    let svg = std::fs::read_to_string(dir.path().join("p.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg:.300}");
    let out = ebm_tests::run_in(
        dir.path(),
        &["plot", "c.csv", "--x", "epoch", "--y", "cost", "--svg", "q.svg"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        ebm_tests::stderr(&out)
            .contains("no column `cost` (the columns are run, epoch, test_error)"),
        "{}",
        ebm_tests::stderr(&out)
    );
}

//! Run safety end to end (issue 17): a run records its data and provenance, and `eval` and
//! `--resume` use them; a results directory has one owner at a time; `--force` removes the
//! earlier run; `--resume` refuses changes to the saved state's meaning and forks into `--out`;
//! numpy files of any layout are read or refused; impossible sizes are refused before
//! allocating; a closed or full output is exit 2 with one line. Each case is listed in
//! `docs/reliability.md`.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ebm_tests::{
    SMALL, ebm, ebm_path, fails, mnist_dir, read_json, run_in, snapshot, stderr, stdout,
};

/// Run `ebm -q args` in `dir`, which must succeed; returns the output.
fn ok(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["-q"];
    all.extend(args);
    let out = run_in(dir, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

/// `ebm -q train --out OUT` with `SMALL` and `extra`, which must succeed.
fn train(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--out", out];
    args.extend(SMALL);
    args.extend(extra);
    ok(dir, &args)
}

#[test]
fn runs_record_their_data_and_eval_and_resume_use_it() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = mnist_dir(w, "mnist", 100, 50);
    train(w, "run", &["--data", "mnist"]);
    let s = read_json(&w.join("run/summary.json"));
    let recorded = &s["provenance"]["data"];
    assert_eq!(recorded["source"], std::path::absolute(&data).unwrap().to_str().unwrap());
    let fingerprint = recorded["fingerprint"].as_str().unwrap().to_owned();
    assert!(fingerprint.starts_with("sha256:"), "{fingerprint}");
    for key in
        ["version", "git_commit", "command", "started", "finished", "threads", "host_cores", "simd"]
    {
        assert!(!s["provenance"][key].is_null(), "provenance.{key} missing: {s}");
    }
    // eval without --data scores the recorded data: the same as naming it
    let plain = stdout(&ok(w, &["eval", "--checkpoint", "run/checkpoint.npz"]));
    let named = stdout(&ok(w, &["eval", "--checkpoint", "run/checkpoint.npz", "--data", "mnist"]));
    assert_eq!(plain, named);
    assert!(plain.contains("of 50 misclassified") && !plain.contains("not the run's"), "{plain}");
    // the model file scores the same from zero states
    let model = stdout(&ok(w, &["eval", "--checkpoint", "run/model.npz"]));
    assert_eq!(model.split(" from zero states").next(), plain.split(" from zero states").next());
    // other data: eval says so; resume refuses, naming both fingerprints
    mnist_dir(w, "other", 100, 60);
    let other = stdout(&ok(w, &["eval", "--checkpoint", "run", "--data", "other"]));
    assert!(
        other.contains("of 50 misclassified") && other.contains("not the run's data"),
        "{other}"
    );
    let resume_other =
        ["train", "--resume", "run", "--data", "other", "--set", "training.epochs=2"];
    fails(w, &resume_other, &["not the data the run recorded", &fingerprint]);
    // resume without --data continues on the recorded data
    ok(w, &["train", "--resume", "run", "--set", "training.epochs=2"]);
    assert_eq!(read_json(&w.join("run/summary.json"))["epochs"], 2);
    // the data moved: exit 2 saying to pass --data; the same data elsewhere is accepted
    std::fs::rename(&data, w.join("moved")).unwrap();
    let gone = ["no longer exists", "pass --data DIR", &fingerprint];
    fails(w, &["eval", "--checkpoint", "run"], &gone);
    fails(w, &["train", "--resume", "run", "--set", "training.epochs=3"], &gone);
    let moved = stdout(&ok(w, &["eval", "--checkpoint", "run", "--data", "moved"]));
    assert!(!moved.contains("not the run's"), "{moved}");
    ok(w, &["train", "--resume", "run", "--data", "moved", "--set", "training.epochs=3"]);
    let s = read_json(&w.join("run/summary.json"));
    assert_eq!(s["epochs"], 3);
    assert_eq!(s["provenance"]["resumed_from"].as_array().map(Vec::len), Some(2), "{s}");
    assert_eq!(s["provenance"]["data"]["fingerprint"], fingerprint.as_str());
}

#[test]
fn eval_out_writes_the_summary_the_confusion_matrix_and_every_prediction() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    train(w, "run", &[]);
    let line = stdout(&ok(w, &["eval", "--checkpoint", "run", "--out", "ev"]));
    let s = read_json(&w.join("ev/summary.json"));
    let errors = s["test_errors"].as_u64().unwrap();
    assert!(line.contains(&format!("({errors} of 50 misclassified")), "{line}");
    assert_eq!(s["test_examples"], 50);
    assert_eq!(s["same_data_as_run"], true);
    assert!(s["test_error_persistent"].as_f64().is_some(), "a checkpoint has particles: {s}");
    assert_eq!(s["per_class_error"].as_array().unwrap().len(), 10);
    assert_eq!(s["model_sha256"], read_json(&w.join("run/summary.json"))["model_sha256"]);
    let confusion = std::fs::read_to_string(w.join("ev/confusion.csv")).unwrap();
    let cells: Vec<Vec<u64>> = confusion
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(cells.len(), 10);
    let total: u64 = cells.iter().flatten().sum();
    let right: u64 = (0..10).map(|c| cells[c][c]).sum();
    assert_eq!((total, total - right), (50, errors));
    let predictions = std::fs::read_to_string(w.join("ev/predictions.csv")).unwrap();
    assert_eq!(predictions.lines().next(), Some("index,label,prediction"));
    assert_eq!(predictions.lines().count(), 51);
    assert!(w.join("ev/confusion.svg").exists());
}

/// The run of the concurrency test: long enough for 20 tries from other processes, writing a
/// checkpoint (through a temporary file) after every minibatch.
const LONG: &[&str] = &[
    "--set",
    "model.layers=[784, 16, 10]",
    "--set",
    "training.epochs=100",
    "--set",
    "data.train_limit=400",
    "--set",
    "data.test_limit=100",
    "--set",
    "training.checkpoint_every_batches=1",
];

#[test]
fn a_directory_in_use_is_refused_and_its_run_is_undisturbed() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut reference = vec!["train", "--out", "reference"];
    reference.extend(LONG);
    ok(w, &reference);
    let mut args = vec!["-q", "train", "--out", "run"];
    args.extend(LONG);
    let mut first = ebm().args(&args).current_dir(w).stdout(Stdio::null()).spawn().unwrap();
    let pid = first.id().to_string();
    let lock = w.join("run/.ebm-lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |owner| owner.trim() != pid) {
        assert!(start.elapsed() < Duration::from_secs(30), "the run never took its directory");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut plain = vec!["train", "--out", "run"];
    plain.extend(SMALL);
    let mut force = plain.clone();
    force.push("--force");
    let resume = vec!["train", "--resume", "run", "--set", "training.epochs=20"];
    let eval_out = vec!["eval", "--checkpoint", "reference", "--out", "run", "--force"];
    let seconds: [&[&str]; 4] = [&plain, &force, &resume, &eval_out];
    for i in 0..20 {
        assert!(first.try_wait().unwrap().is_none(), "the run finished before try {i}");
        fails(w, seconds[i % 4], &["results directory run is in use by process", &pid]);
    }
    assert!(first.wait().unwrap().success(), "the first run failed");
    let digest = |run: &str| read_json(&w.join(run).join("summary.json"))["model_sha256"].clone();
    assert_eq!(digest("run"), digest("reference"), "the run's result changed");
    assert!(!lock.exists(), "the lock file outlived the run");
}

/// Spawn `ebm args` in `dir` with its log on a pipe, and kill it (SIGKILL) once a log line
/// contains `pattern`.
fn kill_after(dir: &Path, args: &[&str], pattern: &str) {
    let mut child = ebm().args(args).current_dir(dir).stderr(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let seen = lines.map(Result::unwrap).any(|line| line.contains(pattern));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen, "`{pattern}` never appeared");
}

#[test]
fn force_removes_the_earlier_runs_files_and_only_those() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    train(w, "run", &[]);
    std::fs::write(w.join("run/notes.txt"), "mine").unwrap();
    // a --force run killed before its first checkpoint leaves nothing of the earlier run
    let mut args = vec!["train", "--out", "run", "--force"];
    args.extend(SMALL);
    args.extend(["--set", "training.epochs=1000", "--set", "data.train_limit=2000"]);
    kill_after(w, &args, "training [784, 20, 10]");
    for f in ["checkpoint.npz", "model.npz", "summary.json", "metrics.csv", "learning_curve.svg"] {
        assert!(!w.join("run").join(f).exists(), "{f} of the earlier run is still there");
    }
    fails(w, &["train", "--resume", "run"], &["holds no checkpoint.npz"]);
    assert_eq!(std::fs::read_to_string(w.join("run/notes.txt")).unwrap(), "mine");
    // without --force a directory holding anything is refused
    let mut plain = vec!["train", "--out", "run"];
    plain.extend(SMALL);
    fails(w, &plain, &["not empty", "--force"]);
}

#[test]
fn resume_refuses_changes_to_the_saved_state_and_forks_into_out() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    train(w, "run", &["--set", "training.checkpoint_every_batches=2"]);
    let before = snapshot(&w.join("run"));
    for (set, key) in [
        ("training.batch_size=10", "training.batch_size (20 -> 10)"),
        ("training.data_order=\"fixed\"", "training.data_order (\"shuffled\" -> \"fixed\")"),
        ("seed=2", "seed (1 -> 2)"),
        ("model.layers=[784, 30, 10]", "model.layers"),
        ("dynamics.free_steps=50", "dynamics.free_steps"),
        ("training.rule=\"temporal\"", "training.rule"),
        ("data.train_limit=90", "data.train_limit"),
    ] {
        let args = ["train", "--resume", "run", "--set", "training.epochs=2", "--set", set];
        fails(w, &args, &["cannot resume run/checkpoint.npz", key, "start a new run"]);
    }
    fails(w, &["train", "--resume", "run", "--preset", "ep-1h"], &["not --config or --preset"]);
    assert_eq!(snapshot(&w.join("run")), before, "a refused resume changed the run");
    // --resume A --out B continues in B and leaves A untouched
    let args = ["train", "--resume", "run", "--out", "fork", "--set", "training.epochs=2"];
    ok(w, &args);
    assert_eq!(snapshot(&w.join("run")), before, "the fork changed the original run");
    let fork = read_json(&w.join("fork/summary.json"));
    assert_eq!(fork["epochs"], 2);
    let csv = std::fs::read_to_string(w.join("fork/metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "the fork's metrics hold both epochs");
    // the keys that may change do
    let args = [
        "train",
        "--resume",
        "run",
        "--set",
        "training.epochs=2",
        "--set",
        "training.alphas=[0.05, 0.02]",
    ];
    ok(w, &args);
    assert_eq!(read_json(&w.join("run/summary.json"))["epochs"], 2);
}

/// Replace (or add) raw entries of the zip archive at `path`.
fn replace_entries(path: &Path, replace: &[(&str, Vec<u8>)]) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        entries.push((f.name().to_owned(), bytes));
    }
    for (name, bytes) in replace {
        entries.retain(|(n, _)| n != name);
        entries.push(((*name).to_owned(), bytes.clone()));
    }
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap();
}

/// A `.npy` file (format 1.0) with the given header fields and data bytes.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape =
        if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// `W0` of a run's checkpoint, row-major.
fn w0(path: &Path) -> ndarray::Array2<f32> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    npz.by_name("W0.npy").unwrap()
}

#[test]
fn numpy_arrays_in_any_layout_are_read_and_impossible_ones_refused() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    train(w, "run", &[]);
    let path = w.join("run/model.npz");
    let eval = || stdout(&ok(w, &["eval", "--checkpoint", "run/model.npz"]));
    let expected = eval();
    let weights = w0(&path);
    let (rows, cols) = weights.dim();
    // the values in column-major order, for a Fortran-order array
    let column_major: Vec<f32> = weights.t().iter().copied().collect();
    let bytes = |values: &mut dyn Iterator<Item = [u8; 4]>| values.flatten().collect::<Vec<u8>>();
    let layouts: [(&str, Vec<u8>); 4] = [
        (
            "Fortran order",
            npy(
                "<f4",
                true,
                &[rows, cols],
                &bytes(&mut column_major.iter().map(|v| v.to_le_bytes())),
            ),
        ),
        (
            "big-endian",
            npy(">f4", false, &[rows, cols], &bytes(&mut weights.iter().map(|v| v.to_be_bytes()))),
        ),
        (
            "float64",
            npy(
                "<f8",
                false,
                &[rows, cols],
                &weights.iter().flat_map(|&v| f64::from(v).to_le_bytes()).collect::<Vec<u8>>(),
            ),
        ),
        (
            "float64, Fortran order, big-endian",
            npy(
                ">f8",
                true,
                &[rows, cols],
                &column_major.iter().flat_map(|&v| f64::from(v).to_be_bytes()).collect::<Vec<u8>>(),
            ),
        ),
    ];
    let good = std::fs::read(&path).unwrap();
    for (what, entry) in layouts {
        std::fs::write(&path, &good).unwrap();
        replace_entries(&path, &[("W0.npy", entry)]);
        assert_eq!(eval(), expected, "{what}: another result");
    }
    // declared sizes far beyond the file are refused before anything is allocated
    std::fs::write(&path, &good).unwrap();
    replace_entries(&path, &[("W0.npy", npy("<f4", false, &[400_000, 250_000], &[0; 16]))]);
    fails(
        w,
        &["eval", "--checkpoint", "run/model.npz"],
        &["array W0 has shape (400000, 250000), the config needs (784, 20)"],
    );
    std::fs::write(&path, &good).unwrap();
    replace_entries(&path, &[("meta.npy", npy("|u1", false, &[400_000_000_000], &[0; 16]))]);
    fails(w, &["eval", "--checkpoint", "run/model.npz"], &["array meta holds 400000000000 bytes"]);
    std::fs::write(&path, &good).unwrap();
    replace_entries(&path, &[("W0.npy", npy("<i8", false, &[rows, cols], &[0; 16]))]);
    fails(
        w,
        &["eval", "--checkpoint", "run/model.npz"],
        &["array W0 has dtype '<i8', expected float32 or float64"],
    );
    std::fs::write(&path, &good).unwrap();
    replace_entries(&path, &[("W0.npy", npy("<f4", false, &[rows, cols], &[0; 16]))]);
    fails(w, &["eval", "--checkpoint", "run/model.npz"], &["array `W0`", "model.npz"]);
}

#[test]
fn sizes_that_cannot_fit_and_empty_sets_are_refused_before_anything_is_allocated() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let start = Instant::now();
    fails(
        w,
        &[
            "train",
            "--out",
            "huge",
            "--set",
            "model.layers=[784, 2000000, 10]",
            "--set",
            "training.alphas=[0.1, 0.05]",
        ],
        &["model.layers = [784, 2000000, 10]", "needs about", "GB of memory"],
    );
    assert!(start.elapsed() < Duration::from_secs(20), "refused only after {:?}", start.elapsed());
    assert!(!w.join("huge").exists());
    mnist_dir(w, "no-test", 100, 0);
    let mut args = vec!["train", "--data", "no-test", "--out", "run"];
    args.extend(SMALL);
    fails(w, &args, &["t10k-images-idx3-ubyte.gz: holds no examples"]);
    assert!(!w.join("run").exists());
}

#[test]
fn a_closed_or_full_standard_output_is_exit_2_with_one_line() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let check = |out: Output, what: &str| {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("error: cannot write to standard output"), "{what}: {err}");
    };
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let out = ebm().args(["-q", "config", "presets"]).stdout(full()).output().unwrap();
    check(out, "config presets > /dev/full");
    let mut args = vec!["-q", "train", "--out", "run"];
    args.extend(SMALL);
    let out = ebm().args(&args).current_dir(w).stdout(full()).output().unwrap();
    check(out, "train > /dev/full");
    assert!(w.join("run/checkpoint.npz").exists(), "the results are written before the line");
    // `| true`: the reader is gone before the line is written (closed before the process
    // starts, so that the test does not race the process on a loaded machine)
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ebm().args(["-q", "config", "show"]).stdout(writer).output().unwrap();
    check(out, "config show | true");
}

/// Run `ebm args` in a fresh mount namespace where `dir` is a tmpfs mounted with `options`
/// (e.g. `size=100k` or `ro`), after running `setup` (shell) there; the working directory is
/// `dir`.
fn in_tmpfs(dir: &Path, options: &str, setup: &str, args: &[&str]) -> Output {
    let script =
        format!("mount -t tmpfs -o {options} tmpfs \"$0\" && cd \"$0\" && {setup} exec \"$@\"");
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .arg(dir)
        .arg(ebm_path())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        !stderr(&out).contains("unshare failed"),
        "mount namespaces are needed: {}",
        stderr(&out)
    );
    out
}

#[test]
fn an_unwritable_or_full_disk_is_exit_2_with_one_line_naming_the_file() {
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let one_line = |out: &Output, what: &str, expected: &[&str]| {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: not one line: {err}");
        assert!(err.starts_with("error: ") && !err.contains("panicked"), "{what}: {err}");
        for e in expected {
            assert!(err.contains(e), "{what}: expected `{e}` in {err}");
        }
    };
    let mut train = vec!["-q", "train", "--out", "run"];
    train.extend(SMALL);
    // a full disk while training: the message once, no ZipWriter noise
    let out = in_tmpfs(&mnt, "size=96k", "", &train);
    one_line(&out, "ENOSPC in train", &["cannot write", "run/", "No space left on device"]);
    assert_eq!(stderr(&out).matches("No space left on device").count(), 1, "{}", stderr(&out));
    // a full disk while writing the STDP figures
    let stdp =
        ["-q", "stdp", "--out", "stdp", "--set", "stdp.sequences=20", "--set", "stdp.trains=20"];
    let out = in_tmpfs(&mnt, "size=24k", "", &stdp);
    one_line(&out, "ENOSPC in stdp", &["cannot write", "No space left on device"]);
    assert_eq!(stderr(&out).matches("No space left on device").count(), 1, "{}", stderr(&out));
    // a read-only place for --out, new or existing: refused before the first epoch
    let out = in_tmpfs(&mnt, "ro", "", &train);
    one_line(
        &out,
        "read-only, new",
        &["cannot use results directory run", "Read-only file system"],
    );
    let out = in_tmpfs(&mnt, "rw", "mkdir run && mount -o remount,ro \"$0\" &&", &train);
    one_line(
        &out,
        "read-only, existing",
        &["cannot use results directory run", "Read-only file system"],
    );
}

#[test]
fn fetch_gives_up_on_a_mirror_that_never_answers_and_leaves_no_directory() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let work = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let args = ["data", "fetch", "mnist", "--dir", "m", "--mirror", &url, "--read-timeout", "1"];
    fails(work.path(), &args, &["train-images-idx3-ubyte.gz: every mirror failed", &url]);
    assert!(start.elapsed() < Duration::from_secs(15), "waited {:?}", start.elapsed());
    assert!(!work.path().join("m").exists(), "an empty directory was left behind");
}

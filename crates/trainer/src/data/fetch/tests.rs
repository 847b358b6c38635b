//! Tests of `fetch` against a small HTTP server on 127.0.0.1 serving in-memory files, one
//! connection per request, a bounded number of connections per server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use super::*;

/// How a test server answers.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The file as is.
    Good,
    /// Full `Content-Length`, then the connection is closed after half the body.
    DropMidBody,
    /// The file with one byte changed (right length, wrong checksum).
    Corrupt,
    /// Accept the connection, read the request, then send nothing (holding it open).
    Silent,
    /// Headers and half the body, then nothing more (holding the connection open).
    StallMidBody,
}

/// How long a stalling test server holds a connection open: far longer than the read timeout
/// the tests use, far shorter than a test run.
const HOLD: Duration = Duration::from_secs(20);

/// Serve `files` on 127.0.0.1 for at most `connections` connections; returns the base URL.
fn serve(files: &[(&str, Vec<u8>)], mode: Mode, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let files: HashMap<String, Vec<u8>> =
        files.iter().map(|(n, b)| (format!("/{n}"), b.clone())).collect();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers (bounded).
            for _ in 0..100 {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let Some(body) = files.get(path) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            if matches!(mode, Mode::Silent) {
                std::thread::spawn(move || {
                    std::thread::sleep(HOLD);
                    drop(stream);
                });
                continue;
            }
            let mut body = body.clone();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            match mode {
                Mode::Good => {}
                Mode::DropMidBody => body.truncate(body.len() / 2),
                Mode::Corrupt => body[0] ^= 1,
                Mode::Silent => unreachable!("answered above"),
                Mode::StallMidBody => {
                    let _ = stream.write_all(&body[..body.len() / 2]);
                    let _ = stream.flush();
                    std::thread::spawn(move || {
                        std::thread::sleep(HOLD);
                        drop(stream);
                    });
                    continue;
                }
            }
            let _ = stream.write_all(&body);
            let _ = stream.flush();
            // dropping the stream closes the connection
        }
    });
    base
}

/// Two small files and their specs (hashes of the good contents).
fn files() -> (Vec<(&'static str, Vec<u8>)>, Vec<RemoteFile>) {
    let contents = vec![
        ("a.gz", (0..5000u32).map(|i| (i % 251) as u8).collect()),
        ("b.gz", b"some labels".to_vec()),
    ];
    let specs = contents
        .iter()
        .map(|(name, bytes)| RemoteFile {
            name,
            sha256: Box::leak(vec![&*Box::leak(sha256_hex(bytes).into_boxed_str())].into()),
            md5: &[],
        })
        .collect();
    (contents, specs)
}

fn options(mirrors: Vec<String>) -> FetchOptions {
    FetchOptions {
        mirrors,
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(1),
        max_bytes: 1 << 20,
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn downloads_verifies_and_writes_each_file() {
    let (contents, specs) = files();
    let good = serve(&contents, Mode::Good, 2);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new/sub");
    let got = fetch(&specs, &target, &options(vec![good.clone()])).unwrap();
    assert_eq!(got.len(), 2);
    for ((name, bytes), f) in contents.iter().zip(&got) {
        assert_eq!(std::fs::read(target.join(name)).unwrap(), *bytes);
        assert_eq!(f.url.as_deref(), Some(format!("{good}{name}").as_str()));
        assert_eq!(f.bytes, bytes.len() as u64);
    }
    assert_eq!(names_in(&target), ["a.gz", "b.gz"]);
}

#[test]
fn wrong_checksum_falls_back_to_the_next_mirror() {
    let (contents, specs) = files();
    let corrupt = serve(&contents, Mode::Corrupt, 2);
    let good = serve(&contents, Mode::Good, 2);
    let dir = tempfile::tempdir().unwrap();
    let got = fetch(&specs, dir.path(), &options(vec![corrupt, good.clone()])).unwrap();
    assert!(got.iter().all(|f| f.url.as_deref().unwrap().starts_with(&good)));
    assert_eq!(std::fs::read(dir.path().join("a.gz")).unwrap(), contents[0].1);
}

#[test]
fn dropped_connection_falls_back_to_the_next_mirror() {
    let (contents, specs) = files();
    let dropping = serve(&contents, Mode::DropMidBody, 2);
    let good = serve(&contents, Mode::Good, 2);
    let dir = tempfile::tempdir().unwrap();
    let got = fetch(&specs, dir.path(), &options(vec![dropping, good.clone()])).unwrap();
    assert!(got.iter().all(|f| f.url.as_deref().unwrap().starts_with(&good)));
    assert_eq!(names_in(dir.path()), ["a.gz", "b.gz"]);
}

#[test]
fn a_mirror_that_stalls_is_given_up_after_the_read_timeout() {
    let (contents, specs) = files();
    for mode in [Mode::Silent, Mode::StallMidBody] {
        let stalling = serve(&contents, mode, 2);
        let good = serve(&contents, Mode::Good, 2);
        let dir = tempfile::tempdir().unwrap();
        let start = std::time::Instant::now();
        let got = fetch(&specs, dir.path(), &options(vec![stalling, good.clone()])).unwrap();
        let waited = start.elapsed();
        assert!(got.iter().all(|f| f.url.as_deref().is_some_and(|u| u.starts_with(&good))));
        // two files, each waiting one read timeout (1 s) on the stalling mirror
        assert!(waited < Duration::from_secs(10), "{mode:?}: waited {waited:?}");
        assert_eq!(names_in(dir.path()), ["a.gz", "b.gz"]);
    }
}

#[test]
fn a_failed_fetch_leaves_no_directory_it_created() {
    let (contents, specs) = files();
    let silent = serve(&contents, Mode::Silent, 1);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new");
    let err = fetch(&specs, &target, &options(vec![silent])).unwrap_err();
    assert!(err.to_string().contains("a.gz"), "{err}");
    assert!(!target.exists(), "an empty directory was left behind");
}

#[test]
fn all_mirrors_failing_leaves_no_file_and_says_why() {
    let (contents, specs) = files();
    let dropping = serve(&contents, Mode::DropMidBody, 1);
    let corrupt = serve(&contents, Mode::Corrupt, 1);
    let empty = serve(&[], Mode::Good, 1);
    let dir = tempfile::tempdir().unwrap();
    let err =
        fetch(&specs, dir.path(), &options(vec![dropping.clone(), corrupt.clone(), empty.clone()]))
            .unwrap_err();
    let DataError::AllMirrorsFailed { name, attempts } = &err else { panic!("{err}") };
    assert_eq!(name, "a.gz");
    assert_eq!(attempts.len(), 3);
    assert!(attempts[0].starts_with(&format!("{dropping}a.gz: download")), "{}", attempts[0]);
    assert!(attempts[1].contains("checksum mismatch"), "{}", attempts[1]);
    assert!(attempts[2].contains("404"), "{}", attempts[2]);
    assert!(names_in(dir.path()).is_empty(), "{:?}", names_in(dir.path()));
}

#[test]
fn oversized_body_is_refused() {
    let (contents, specs) = files();
    let good = serve(&contents, Mode::Good, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(vec![good]);
    opts.max_bytes = 100;
    let err = fetch(&specs, dir.path(), &opts).unwrap_err();
    assert!(matches!(err, DataError::AllMirrorsFailed { .. }), "{err}");
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn present_file_with_accepted_hash_is_kept() {
    let (contents, specs) = files();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &contents {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    // No server: a request would fail.
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let got = fetch(&specs, dir.path(), &options(vec![refused])).unwrap();
    assert!(got.iter().all(|f| f.url.is_none()));
}

#[test]
fn a_publishers_md5_is_accepted_and_a_wrong_one_refused() {
    let (contents, specs) = files();
    let md5 = |bytes: &[u8]| hex(&md5::Md5::digest(bytes));
    let by_md5: Vec<RemoteFile> = specs
        .iter()
        .zip(&contents)
        .map(|(f, (_, bytes))| RemoteFile {
            name: f.name,
            sha256: &[],
            md5: Box::leak(vec![&*Box::leak(md5(bytes).into_boxed_str())].into()),
        })
        .collect();
    let good = serve(&contents, Mode::Good, 2);
    let dir = tempfile::tempdir().unwrap();
    let got = fetch(&by_md5, dir.path(), &options(vec![good])).unwrap();
    assert_eq!(got.len(), 2);
    let corrupt = serve(&contents, Mode::Corrupt, 1);
    let dir = tempfile::tempdir().unwrap();
    let err = fetch(&by_md5, dir.path(), &options(vec![corrupt])).unwrap_err();
    assert!(err.to_string().contains("expected one of MD5"), "{err}");
}

#[test]
fn named_data_sets_have_the_four_idx_files_with_checksums() {
    for name in ["mnist", "fashion-mnist", "kmnist", "Fashion-MNIST"] {
        let d = dataset(name).unwrap();
        let names: Vec<&str> = d.files.iter().map(|f| f.name.trim_end_matches(".gz")).collect();
        assert_eq!(names, crate::data::MNIST_FILES, "{name}");
        assert!(d.files.iter().all(|f| f.sha256.len() + f.md5.len() > 0), "{name}");
        assert!(!d.mirrors.is_empty());
    }
}

#[test]
fn unknown_dataset_and_no_mirror_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_dataset("cifar", dir.path(), &FetchOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }), "{err}");
    assert!(err.to_string().contains("known: mnist, fashion-mnist, kmnist"), "{err}");
    let err = fetch(MNIST_REMOTE_FILES, dir.path(), &options(vec![])).unwrap_err();
    assert!(matches!(err, DataError::NoMirrors), "{err}");
}

#[test]
fn mnist_hashes_match_the_shared_copy() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mnist"));
    if !dir.is_dir() {
        return;
    }
    for file in MNIST_REMOTE_FILES {
        let (sha, _) = hash_file(&dir.join(file.name)).unwrap();
        assert!(accepted(file, &sha), "{}: {sha:?}", file.name);
        assert!(file.sha256.iter().all(|h| h.len() == 64));
    }
}

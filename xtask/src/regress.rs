//! `cargo xtask regress [NAME...] [--update-baselines]`: the regression experiments of
//! `xtask/regressions.toml` (the file documents its fields). Each runs one release `ebm`
//! command (or a cargo example) into `results/regress/NAME/` and checks bounds on figures of its
//! `summary.json`. The verdicts go to a table on stderr, to `$GITHUB_STEP_SUMMARY` as markdown
//! when set, and to `results/regress/junit.xml`; any failed bound fails the command.
//! `--update-baselines` rewrites the measured values in the file, never the bounds.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::util::{cargo, ebm, mnist_dir, read_json, root, run};

/// The file of regression experiments.
fn file() -> PathBuf {
    root().join("xtask/regressions.toml")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    regression: Vec<Regression>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Regression {
    name: String,
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    command: Vec<String>,
    example: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    data: Data,
    check: Vec<Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Data {
    None,
    Embedded,
    Mnist,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    metric: String,
    reduce: Option<Reduce>,
    min: Option<f64>,
    max: Option<f64>,
    equals: Option<bool>,
    baseline: Option<f64>,
    embedded_min: Option<f64>,
    embedded_max: Option<f64>,
    embedded_baseline: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Reduce {
    Min,
    Max,
    All,
}

/// One checked figure.
#[derive(Debug)]
struct Verdict {
    regression: String,
    metric: String,
    baseline: Option<f64>,
    now: Value,
    bound: String,
    pass: bool,
    /// Index of the regression and of the check in the file, and whether the embedded
    /// figures apply (for `--update-baselines`).
    at: (usize, usize, bool),
}

/// `cargo xtask regress`.
pub fn run_regress(args: &[String]) -> Result<()> {
    let update = args.iter().any(|a| a == "--update-baselines");
    let names: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let text = std::fs::read_to_string(file()).context("cannot read xtask/regressions.toml")?;
    let parsed: File = toml::from_str(&text).context("xtask/regressions.toml")?;
    for n in &names {
        if !parsed.regression.iter().any(|r| &&r.name == n) {
            bail!("no regression experiment `{n}` in xtask/regressions.toml");
        }
    }
    let mnist = mnist_dir();
    let mut verdicts = Vec::new();
    for (i, r) in parsed.regression.iter().enumerate() {
        if !names.is_empty() && !names.contains(&&r.name) {
            continue;
        }
        eprintln!("xtask: regression experiment {}", r.name);
        let out = root().join("results/regress").join(&r.name);
        // The embedded figures apply when a full-MNIST experiment falls back to the subset.
        let embedded = r.data == Data::Mnist && mnist.is_none();
        let mut cmd = match &r.example {
            Some(example) => {
                let mut cmd =
                    cargo(&["run", "--release", "--quiet", "-p", "examples", "--example"]);
                cmd.arg(example).arg("--").args(&r.args);
                cmd
            }
            None => {
                let mut cmd = ebm()?;
                cmd.args(&r.command).args(["--force", "-q"]);
                cmd
            }
        };
        cmd.arg("--out").arg(&out);
        if let (Data::Mnist, Some(dir)) = (r.data, &mnist) {
            cmd.arg("--data").arg(dir);
        }
        cmd.stdout(std::process::Stdio::null());
        run(cmd, &r.name)?;
        let summary = read_json(&out.join("summary.json"))?;
        for (j, c) in r.check.iter().enumerate() {
            verdicts.push(check(&r.name, c, &summary, embedded).map(|mut v| {
                v.at = (i, j, embedded);
                v
            })?);
        }
    }
    report(&verdicts)?;
    if update {
        update_baselines(&text, &verdicts)?;
    }
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.pass)
        .map(|v| format!("{} {} = {} (bound {})", v.regression, v.metric, v.now, v.bound))
        .collect();
    if !failed.is_empty() {
        bail!("regression experiments failed:\n  {}", failed.join("\n  "));
    }
    Ok(())
}

/// Evaluate one check of `summary`.
fn check(name: &str, c: &Check, summary: &Value, embedded: bool) -> Result<Verdict> {
    let values = select(summary, &c.metric).with_context(|| format!("{name}: {}", c.metric))?;
    let now = match (c.reduce, values.as_slice()) {
        (None, [one]) => (*one).clone(),
        (None, many) => bail!("{name}: {} selects {} values: give `reduce`", c.metric, many.len()),
        (Some(Reduce::All), vs) => Value::Bool(vs.iter().all(|v| v.as_bool() == Some(true))),
        (Some(reduce), vs) => {
            let nums: Vec<f64> = vs.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
            let pick = if reduce == Reduce::Min { f64::min } else { f64::max };
            let init = if reduce == Reduce::Min { f64::INFINITY } else { f64::NEG_INFINITY };
            serde_json::json!(nums.iter().copied().fold(init, pick))
        }
    };
    let (min, max, baseline) = if embedded {
        (c.embedded_min.or(c.min), c.embedded_max.or(c.max), c.embedded_baseline)
    } else {
        (c.min, c.max, c.baseline)
    };
    let (pass, bound) = if let Some(want) = c.equals {
        (now.as_bool() == Some(want), format!("= {want}"))
    } else {
        let x = now.as_f64().unwrap_or(f64::NAN);
        let ok = min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m);
        let bound = match (min, max) {
            (Some(a), Some(b)) => format!("[{a}, {b}]"),
            (Some(a), None) => format!(">= {a}"),
            (None, Some(b)) => format!("<= {b}"),
            (None, None) => bail!("{name}: {} has no bound (min, max or equals)", c.metric),
        };
        (ok && !x.is_nan(), bound)
    };
    Ok(Verdict {
        regression: name.to_owned(),
        metric: if embedded { format!("{} (embedded)", c.metric) } else { c.metric.clone() },
        baseline,
        now,
        bound,
        pass,
        at: (0, 0, embedded),
    })
}

/// The values at `path` in `v`: keys joined by `.`; `name[k=v,...]` keeps the elements of the
/// array `name` whose fields equal those values (numbers compared as numbers), `name[i]` the
/// i-th element.
fn select<'a>(v: &'a Value, path: &str) -> Result<Vec<&'a Value>> {
    let mut current = vec![v];
    let mut rest = path;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (key, tail) = rest.split_at(end);
        if !key.is_empty() {
            current = current.into_iter().map(|c| &c[key]).collect();
            if current.iter().any(|c| c.is_null()) {
                bail!("no key `{key}`");
            }
        }
        rest = tail;
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').context("unclosed `[`")?;
            let filter = &after[..close];
            rest = &after[close + 1..];
            let mut next = Vec::new();
            for c in current {
                let items = c.as_array().context("`[...]` on something that is not an array")?;
                if let Ok(i) = filter.parse::<usize>() {
                    next.push(items.get(i).context("index out of range")?);
                    continue;
                }
                next.extend(items.iter().filter(|item| {
                    filter.split(',').all(|cond| {
                        cond.split_once('=').is_some_and(|(k, want)| matches(&item[k.trim()], want))
                    })
                }));
            }
            if next.is_empty() {
                bail!("`[{filter}]` selects nothing");
            }
            current = next;
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Ok(current)
}

fn matches(v: &Value, want: &str) -> bool {
    let want = want.trim();
    match (v, want.parse::<f64>()) {
        (Value::Number(n), Ok(w)) => n.as_f64() == Some(w),
        (Value::String(s), _) => s == want,
        (Value::Bool(b), _) => b.to_string() == want,
        _ => false,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), fmt_num),
        other => other.to_string(),
    }
}

/// A figure as it is (shortest round-trip form): cosines near 1 keep their digits.
fn fmt_num(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 { format!("{x:e}") } else { format!("{x}") }
}

/// The table on stderr, markdown for `$GITHUB_STEP_SUMMARY`, JUnit XML.
fn report(verdicts: &[Verdict]) -> Result<()> {
    let mut md = String::from(
        "| experiment | metric | baseline | now | delta | bound | verdict |\n|---|---|---|---|---|---|---|\n",
    );
    for v in verdicts {
        let delta = match (v.baseline, v.now.as_f64()) {
            (Some(b), Some(n)) => format!("{:+.3e}", n - b),
            _ => "-".to_owned(),
        };
        let baseline = v.baseline.map_or_else(|| "-".to_owned(), fmt_num);
        let verdict = if v.pass { "pass" } else { "FAIL" };
        writeln!(
            md,
            "| {} | {} | {baseline} | {} | {delta} | {} | {verdict} |",
            v.regression,
            v.metric,
            show(&v.now),
            v.bound
        )?;
    }
    eprintln!("{md}");
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        writeln!(f, "## Regression experiments\n\n{md}")?;
    }
    let failures = verdicts.iter().filter(|v| !v.pass).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"regressions\" tests=\"{}\" failures=\"{failures}\">\n",
        verdicts.len()
    );
    for v in verdicts {
        let name = escape(&format!("{}: {}", v.regression, v.metric));
        write!(xml, "  <testcase classname=\"regress.{}\" name=\"{name}\"", escape(&v.regression))?;
        if v.pass {
            xml.push_str("/>\n");
        } else {
            let msg = escape(&format!("{} is outside {}", show(&v.now), v.bound));
            writeln!(xml, ">\n    <failure message=\"{msg}\"/>\n  </testcase>")?;
        }
    }
    xml.push_str("</testsuite>\n");
    let dir = root().join("results/regress");
    std::fs::create_dir_all(&dir)?;
    trainer::io::write_atomic(&dir.join("junit.xml"), xml.as_bytes())?;
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Rewrite the measured values of `verdicts` as the baselines of `text` (the file), keeping
/// its layout and every bound.
fn update_baselines(text: &str, verdicts: &[Verdict]) -> Result<()> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("xtask/regressions.toml")?;
    for v in verdicts {
        let Some(now) = v.now.as_f64() else { continue };
        let (i, j, embedded) = v.at;
        let key = if embedded { "embedded_baseline" } else { "baseline" };
        let check = doc["regression"][i]["check"][j]
            .as_table_like_mut()
            .context("a check is not a table")?;
        // exponent form for small figures; the old value's spacing and comment are kept
        let text =
            if now != 0.0 && now.abs() < 1e-3 { format!("{now:e}") } else { format!("{now}") };
        let mut value: toml_edit::Value = text.parse().context("a baseline")?;
        match check.get_mut(key).and_then(|item| item.as_value_mut()) {
            Some(old) => {
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            None => {
                check.insert(key, toml_edit::Item::Value(value));
            }
        }
    }
    trainer::io::write_atomic(&file(), doc.to_string().as_bytes())?;
    eprintln!("xtask: baselines updated in {}", file().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Value {
        serde_json::json!({
            "final_test_error": 0.05,
            "flags": {"nn-stdp": true},
            "rows": [
                {"beta": 0.0001, "nudging": "centred", "cosine": 0.9},
                {"beta": 0.0001, "nudging": "one-sided", "cosine": 0.5},
                {"beta": 0.01, "nudging": "centred", "cosine": 0.7},
            ],
        })
    }

    fn a_check(metric: &str) -> Check {
        Check {
            metric: metric.to_owned(),
            reduce: None,
            min: None,
            max: None,
            equals: None,
            baseline: None,
            embedded_min: None,
            embedded_max: None,
            embedded_baseline: None,
        }
    }

    #[test]
    fn paths_select_keys_filtered_elements_and_indices() {
        let s = summary();
        assert_eq!(select(&s, "final_test_error").unwrap(), [&serde_json::json!(0.05)]);
        assert_eq!(select(&s, "flags.nn-stdp").unwrap(), [&Value::Bool(true)]);
        let cos = select(&s, "rows[beta=0.0001,nudging=centred].cosine").unwrap();
        assert_eq!(cos, [&serde_json::json!(0.9)]);
        assert_eq!(select(&s, "rows[nudging=centred].cosine").unwrap().len(), 2);
        assert_eq!(select(&s, "rows[2].cosine").unwrap(), [&serde_json::json!(0.7)]);
        assert!(select(&s, "rows[beta=3].cosine").unwrap_err().to_string().contains("nothing"));
        assert!(select(&s, "missing").is_err());
    }

    #[test]
    fn checks_apply_bounds_reductions_and_the_embedded_fallback() {
        let s = summary();
        let mut c = a_check("final_test_error");
        c.max = Some(0.055);
        c.embedded_max = Some(0.01);
        assert!(check("t", &c, &s, false).unwrap().pass);
        assert!(!check("t", &c, &s, true).unwrap().pass, "the embedded bound applies");
        let mut c = a_check("rows[nudging=centred].cosine");
        assert!(check("t", &c, &s, false).is_err(), "two values need a reduction");
        c.reduce = Some(Reduce::Min);
        c.min = Some(0.8);
        let v = check("t", &c, &s, false).unwrap();
        assert_eq!((v.now.as_f64(), v.pass), (Some(0.7), false));
        let mut c = a_check("flags.nn-stdp");
        c.equals = Some(true);
        assert!(check("t", &c, &s, false).unwrap().pass);
        assert!(check("t", &a_check("final_test_error"), &s, false).is_err(), "no bound");
    }
}

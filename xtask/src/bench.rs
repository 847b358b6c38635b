//! `cargo xtask bench [NAME] [ARGS]`: named benchmarks of whole experiments, timed as processes
//! running the release `ebm` binary (Criterion benches of the kernels live in each crate's
//! `benches/`). Each name has its own arm; without a name every benchmark runs.

use anyhow::{Result, bail};

/// The benchmarks, by name.
pub const NAMES: &[(&str, &str)] = &[
    ("stdp", "STDP experiment 500 x 160 x 1000: wall time at 1 and 2 threads, bit-identity"),
    (
        "ep-1h",
        "seconds per ep-1h epoch, sparse and dense kernels at 1 and 2 threads, the numpy peer, GEMM peak",
    ),
    ("ep-deep", "seconds per epoch for ep-2h and ep-3h sizes and their fraction of GEMM peak"),
];

/// Run the benchmark named in `args[0]` (all of them when absent).
pub fn run_bench(args: &[String]) -> Result<()> {
    let (name, rest) = match args.split_first() {
        Some((n, r)) => (n.as_str(), r),
        None => ("all", &[][..]),
    };
    match name {
        "stdp" => crate::stdp::bench(rest),
        "ep-1h" => crate::bench_ep::run_ep1h(rest),
        "ep-deep" => crate::bench_ep::run_deep(rest),
        "all" => {
            for (n, _) in NAMES {
                run_bench(&[(*n).to_owned()])?;
            }
            Ok(())
        }
        other => {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            bail!("unknown benchmark `{other}` (one of: {})", names.join(", "))
        }
    }
}

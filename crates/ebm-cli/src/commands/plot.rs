//! `ebm plot CSV`: columns of a CSV file drawn with the project's plot style (`crate::plot`),
//! e.g. a saved run's learning curve from its `metrics.csv` or the curves of a `compare.csv`,
//! when the run directories that drew them are gone.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::cli::PlotArgs;
use crate::output::UserError;
use crate::plot::{Chart, Series};

/// `ebm plot`.
pub fn run(args: &PlotArgs) -> Result<()> {
    let bad = |what: String| UserError(format!("{}: {what}", args.csv.display()));
    let text = std::fs::read(&args.csv).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut reader = csv::Reader::from_reader(text.as_slice());
    let header: Vec<String> =
        reader.headers().map_err(|e| bad(e.to_string()))?.iter().map(str::to_owned).collect();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            bad(format!("no column `{name}` (the columns are {})", header.join(", ")))
        })
    };
    let x = column(&args.x)?;
    let ys: Vec<(usize, String)> = args
        .y
        .iter()
        .map(|y| {
            let (col, label) = y.split_once('=').unwrap_or((y, y));
            Ok((column(col)?, label.to_owned()))
        })
        .collect::<Result<_, UserError>>()?;
    if !args.group.is_empty() && ys.len() != 1 {
        return Err(bad("--group draws one series per group of a single --y column".into()).into());
    }
    let group: Vec<usize> = args.group.iter().map(|g| column(g)).collect::<Result<_, _>>()?;
    let filters: Vec<(usize, String)> = args
        .filter
        .iter()
        .map(|f| {
            let (col, value) =
                f.split_once('=').ok_or_else(|| bad(format!("--where {f}: give COLUMN=VALUE")))?;
            Ok((column(col)?, value.to_owned()))
        })
        .collect::<Result<_, UserError>>()?;
    // Series in --y order, groups in the order they first appear.
    let mut order: Vec<String> =
        if group.is_empty() { ys.iter().map(|(_, l)| l.clone()).collect() } else { Vec::new() };
    let mut points: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        if filters.iter().any(|(c, v)| record.get(*c) != Some(v.as_str())) {
            continue;
        }
        let number = |c: usize| -> Result<Option<f64>, UserError> {
            let raw = record.get(c).unwrap_or("");
            if raw.is_empty() {
                return Ok(None);
            }
            raw.parse::<f64>().map(Some).map_err(|_| {
                bad(format!("line {}: `{}` = {raw:?} is not a number", line + 2, header[c]))
            })
        };
        let Some(xv) = number(x)? else { continue };
        for (c, label) in &ys {
            let Some(mut v) = number(*c)? else { continue };
            if args.one_minus {
                v = 1.0 - v;
            }
            if args.percent {
                v *= 100.0;
            }
            let name = if group.is_empty() {
                label.clone()
            } else {
                // One column: its value; several: `column value, ...`.
                let value = |g: usize| record.get(g).unwrap_or("").to_owned();
                if let [g] = group[..] {
                    value(g)
                } else {
                    let values: Vec<String> =
                        group.iter().map(|&g| format!("{} {}", header[g], value(g))).collect();
                    values.join(", ")
                }
            };
            if !order.contains(&name) {
                order.push(name.clone());
            }
            points.entry(name).or_default().push((xv, v));
        }
    }
    if points.is_empty() {
        return Err(bad("no row to plot (check --where and the columns)".into()).into());
    }
    let series: Vec<Series> = order
        .into_iter()
        .filter_map(|name| points.remove(&name).map(|pts| Series::line(name, pts)))
        .collect();
    let chart = Chart {
        title: &args.title,
        x_label: args.x_label.as_deref().unwrap_or(&args.x),
        y_label: args.y_label.as_deref().unwrap_or(&ys[0].1),
        log_x: args.log_x,
        log_y: args.log_y,
    };
    let svg = crate::plot::svg_text(&chart, &series)?;
    trainer::io::write_atomic_with(&args.svg, |w| w.write_all(svg.as_bytes()))
        .with_context(|| format!("cannot write {}", args.svg.display()))?;
    crate::say!("{} series -> {}", series.len(), args.svg.display())?;
    Ok(())
}

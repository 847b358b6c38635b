//! SVG plots (plotters): every figure the commands write goes through here.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::OutDir;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Connected line.
    Line,
    /// Markers only.
    Points,
    /// Line with markers.
    LinePoints,
}

/// One named series of (x, y) points, with optional symmetric error bars.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
    /// Half-widths of error bars, one per point (empty = none).
    pub errors: Vec<f64>,
    /// A shaded band (lower, upper) around the line, one per point (empty = none).
    pub band: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
}

impl Series {
    /// A line series.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            errors: Vec::new(),
            band: Vec::new(),
            style: Style::LinePoints,
        }
    }
}

/// Axes and titles of a chart.
#[derive(Debug, Clone, Default)]
pub struct Chart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// x-axis label.
    pub x_label: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12);
        (lo - pad, hi + pad)
    }
}

/// A tick label for an integer axis: the integer, or nothing between integers.
fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { String::new() }
}

/// A tick label readable at any range: fixed notation with up to four significant digits from
/// 0.001 to 99,999 (trailing zeros dropped), else `1.5e-7`; never `-0` (nor rounding noise
/// such as `-2.8e-17` for a tick at zero).
fn tick_label(v: &f64) -> String {
    let v = *v;
    if v.abs() < 1e-12 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    let trim = |t: String| -> String {
        if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_owned() } else { t }
    };
    let text = if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        trim(format!("{v:.decimals$}"))
    } else {
        let t = format!("{v:.1e}");
        match t.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim(m.to_owned())),
            None => t,
        }
    };
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        "0".into()
    } else {
        text
    }
}

/// Where the legend covers the fewest points: the corner (of four) whose box holds the fewest
/// of the series' points, in the chart's normalised coordinates.
fn legend_corner(
    series: &[Series],
    norm: impl Fn((f64, f64)) -> (f64, f64),
) -> SeriesLabelPosition {
    let (w, h) = (0.42, 0.05 + 0.045 * series.len() as f64);
    let corners = [
        (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0), (1.0 - h, 1.0)),
        (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
        (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
    ];
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.band.iter().zip(&s.points).flat_map(|(b, p)| [(p.0, b.0), (p.0, b.1)]))
        })
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(norm)
        .collect();
    let inside = |(xr, yr): ((f64, f64), (f64, f64))| {
        points.iter().filter(|p| p.0 >= xr.0 && p.0 <= xr.1 && p.1 >= yr.0 && p.1 <= yr.1).count()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, xr, yr) in corners {
        let n = inside((xr, yr));
        if n < best.0 {
            best = (n, pos);
        }
    }
    best.1
}

/// Draw `series` on one chart and write it as SVG to `name` in `out`.
pub fn svg(out: &OutDir, name: &str, chart: &Chart<'_>, series: &[Series]) -> Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| {
        s.points.iter().enumerate().flat_map(move |(i, p)| {
            let e = s.errors.get(i).copied().unwrap_or(0.0);
            let (lo, hi) = s.band.get(i).copied().unwrap_or((p.1, p.1));
            [p.1 - e, p.1 + e, lo, hi]
        })
    });
    // A log axis spanning less than a decade gets no tick labels (plotters labels powers of
    // ten): draw such an axis linearly.
    let (mut x0, mut x1) = range(xs.clone(), chart.log_x);
    let (mut y0, mut y1) = range(ys.clone(), chart.log_y);
    let log_x = chart.log_x && x1 / x0 >= 10.0;
    let log_y = chart.log_y && y1 / y0 >= 10.0;
    // Integer x values (epochs, steps) get integer tick labels only.
    let integer_x = !chart.log_x
        && series.iter().flat_map(|s| &s.points).all(|p| !p.0.is_finite() || p.0.fract() == 0.0);
    let integer_ticks = integer_x.then(|| ((x1 - x0).round() as usize + 1).clamp(2, 12));
    if chart.log_x && !log_x {
        (x0, x1) = range(xs, false);
    }
    if chart.log_y && !log_y {
        (y0, y1) = range(ys, false);
    }
    let scale = |v: f64, lo: f64, hi: f64, log: bool| {
        if log { (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (v - lo) / (hi - lo) }
    };
    let legend = legend_corner(series, |(x, y)| (scale(x, x0, x1, log_x), scale(y, y0, y1, log_y)));
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (800, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(chart.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70);
        macro_rules! draw {
            ($ctx:expr) => {{
                let mut ctx = $ctx;
                let mut mesh = ctx.configure_mesh();
                mesh.x_desc(chart.x_label).y_desc(chart.y_label).y_label_formatter(&tick_label);
                match integer_ticks {
                    Some(n) => mesh.x_labels(n).x_label_formatter(&integer_label),
                    None => mesh.x_label_formatter(&tick_label),
                };
                mesh.draw()?;
                for (i, s) in series.iter().enumerate() {
                    let color = COLORS[i % COLORS.len()];
                    let pts =
                        s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite());
                    if !s.band.is_empty() {
                        let xs = s.points.iter().map(|p| p.0);
                        let upper = xs.clone().zip(s.band.iter().map(|b| b.1));
                        let lower = xs.zip(s.band.iter().map(|b| b.0)).rev();
                        let outline: Vec<(f64, f64)> = upper
                            .chain(lower)
                            .filter(|p| p.0.is_finite() && p.1.is_finite())
                            .collect();
                        ctx.draw_series(std::iter::once(Polygon::new(
                            outline,
                            color.mix(0.2).filled(),
                        )))?;
                    }
                    let anno = if s.style == Style::Points {
                        ctx.draw_series(pts.clone().map(|p| Circle::new(p, 3, color.filled())))?
                    } else {
                        ctx.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                    };
                    anno.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                    if s.style == Style::LinePoints && s.points.len() <= 60 {
                        ctx.draw_series(pts.clone().map(|p| Circle::new(p, 3, color.filled())))?;
                    }
                    if !s.errors.is_empty() {
                        ctx.draw_series(s.points.iter().zip(&s.errors).map(|(&(x, y), &e)| {
                            ErrorBar::new_vertical(x, y - e, y, y + e, color.stroke_width(1), 6)
                        }))?;
                    }
                }
                ctx.configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .position(legend)
                    .draw()?;
            }};
        }
        match (log_x, log_y) {
            (false, false) => draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?),
            (true, false) => draw!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
            (false, true) => draw!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
            (true, true) => {
                draw!(builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?)
            }
        }
        root.present()?;
    }
    out.write(name, text.as_bytes())?;
    Ok(())
}

/// A confusion matrix (`counts[label][prediction]`) as an SVG heat map written to `name` in
/// `out`: cells shaded by their share of the row (the label's examples), each showing its
/// count.
pub fn confusion(out: &OutDir, name: &str, title: &str, counts: &[Vec<usize>]) -> Result<()> {
    let n = counts.len();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (640, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = n as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
        let centre = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => Some(*i),
            _ => None,
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted class")
            .y_desc("true class")
            .x_labels(n as usize)
            .y_labels(n as usize)
            .x_label_formatter(&|v| centre(v).map(|i| i.to_string()).unwrap_or_default())
            .y_label_formatter(&|v| centre(v).map(|i| (n - 1 - i).to_string()).unwrap_or_default())
            .draw()?;
        for (label, row) in counts.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let y = n - 1 - label as i32;
            for (pred, &count) in row.iter().enumerate() {
                let x = pred as i32;
                let share = count as f64 / total;
                // white for none of the row, the first series colour for all of it
                let shade = |c: u8| (255.0 - share * (255.0 - f64::from(c))).round() as u8;
                let fill = RGBColor(shade(31), shade(119), shade(180));
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    fill.filled(),
                )))?;
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    style,
                )))?;
            }
        }
        root.present()?;
    }
    out.write(name, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tick_label;

    #[test]
    fn tick_labels_are_short_at_any_range_and_never_negative_zero() {
        for (v, label) in [
            (1.000_000_000_000_000_1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (-0.0, "0"),
            (-2.8e-17, "0"),
            (0.5, "0.5"),
            (2.25, "2.25"),
            (0.001, "0.001"),
            (0.000_1, "1e-4"),
            (-3.0, "-3"),
            (1234.0, "1234"),
            (150_000.0, "1.5e5"),
            (0.300_000_000_000_000_04, "0.3"),
        ] {
            assert_eq!(tick_label(&v), label, "{v:e}");
        }
    }
}

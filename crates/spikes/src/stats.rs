//! Small statistics helpers: Pearson correlation and least-squares slope.

/// Pearson correlation of `x` and `y` (NaN when either is constant or they are shorter than 2).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (sxy, sxx, syy) = centred_moments(x, y);
    sxy / (sxx * syy).sqrt()
}

/// Least-squares fit `y = slope x + intercept`, as `(slope, intercept)`.
pub fn linear_fit(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (sxy, sxx, _) = centred_moments(x, y);
    let slope = sxy / sxx;
    let n = x.len().min(y.len()) as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    (slope, my - slope * mx)
}

fn centred_moments(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let n = x.len().min(y.len());
    if n < 2 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let (x, y) = (&x[..n], &y[..n]);
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxy, sxx, syy)
}

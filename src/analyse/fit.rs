//! Least-squares line fit, for memory against cumulative requests.

/// A fitted line `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Line {
    /// Change of y per unit of x.
    pub slope: f64,
    /// y at x = 0.
    pub intercept: f64,
    /// Coefficient of determination (1 = every point on the line; NaN for a flat y).
    pub r2: f64,
}

/// Fits a line through `points`; `None` with fewer than two distinct x values.
pub(super) fn line(points: &[(f64, f64)]) -> Option<Line> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx <= f64::EPSILON * mean_x.abs().max(1.0) {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let slope = sxy / sxx;
    let r2 = if syy > 0.0 {
        (sxy * sxy) / (sxx * syy)
    } else {
        f64::NAN
    };
    Some(Line {
        slope,
        intercept: mean_y - slope * mean_x,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_line_has_r2_one() {
        let fit = line(&[(0.0, 10.0), (1.0, 12.0), (2.0, 14.0)]).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-9);
        assert!((fit.intercept - 10.0).abs() < 1e-9);
        assert!((fit.r2 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn noise_lowers_r2_and_one_x_gives_no_fit() {
        let fit = line(&[(0.0, 1.0), (1.0, 5.0), (2.0, 0.0), (3.0, 4.0)]).unwrap();
        assert!(fit.r2 < 0.2, "{fit:?}");
        assert!(line(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }
}

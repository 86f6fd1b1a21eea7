//! Fitting polynomials: least squares (what the tutorial does with
//! `np.polyfit`) and Chebyshev interpolation.
//!
//! Both fit in the scaled variable t = x / a on [-1, 1], where the
//! Vandermonde and Chebyshev systems are well conditioned, and convert back
//! to coefficients of x. Fitting in x directly over [-10, 10] at degree 10
//! would square a condition number of about 10^10.

/// Least-squares coefficients (ascending powers of x) of degree `degree`
/// through the points `(xs[i], ys[i])`, by Householder QR on the scaled
/// Vandermonde matrix.
pub fn least_squares(xs: &[f64], ys: &[f64], degree: usize) -> Vec<f64> {
    let a = xs
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let m = xs.len();
    let n = degree + 1;
    // column-major Vandermonde in t = x / a
    let mut v = vec![0.0f64; m * n];
    for (i, &x) in xs.iter().enumerate() {
        let t = x / a;
        let mut p = 1.0;
        for j in 0..n {
            v[j * m + i] = p;
            p *= t;
        }
    }
    let mut rhs = ys.to_vec();
    // Householder QR, applied to rhs as we go.
    for k in 0..n.min(m) {
        let col = &v[k * m..(k + 1) * m];
        let norm = col[k..].iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if col[k] > 0.0 { -norm } else { norm };
        let mut h = col.to_vec();
        for x in h[..k].iter_mut() {
            *x = 0.0;
        }
        h[k] -= alpha;
        let hh: f64 = h[k..].iter().map(|x| x * x).sum();
        if hh == 0.0 {
            continue;
        }
        for j in k..n {
            let cj = &mut v[j * m..(j + 1) * m];
            let d: f64 = h[k..].iter().zip(&cj[k..]).map(|(p, q)| p * q).sum::<f64>() * 2.0 / hh;
            for (c, hv) in cj[k..].iter_mut().zip(&h[k..]) {
                *c -= d * hv;
            }
        }
        let d: f64 = h[k..]
            .iter()
            .zip(&rhs[k..])
            .map(|(p, q)| p * q)
            .sum::<f64>()
            * 2.0
            / hh;
        for (c, hv) in rhs[k..].iter_mut().zip(&h[k..]) {
            *c -= d * hv;
        }
    }
    // back substitution on R (upper n x n)
    let mut c = vec![0.0f64; n];
    for i in (0..n).rev() {
        let mut s = rhs[i];
        for j in i + 1..n {
            s -= v[j * m + i] * c[j];
        }
        let d = v[i * m + i];
        c[i] = if d == 0.0 { 0.0 } else { s / d };
    }
    // back to powers of x: c_j t^j = (c_j / a^j) x^j
    c.iter()
        .enumerate()
        .map(|(j, cj)| cj / a.powi(j as i32))
        .collect()
}

/// Coefficients (ascending powers of t = x / a) of the degree-`degree`
/// Chebyshev interpolant of `f` on [-a, a], at the Chebyshev nodes.
pub fn chebyshev(f: impl Fn(f64) -> f64, a: f64, degree: usize) -> Vec<f64> {
    let n = degree + 1;
    let nodes: Vec<f64> = (0..n)
        .map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / n as f64).cos())
        .collect();
    let fv: Vec<f64> = nodes.iter().map(|t| f(a * t)).collect();
    // Chebyshev-basis coefficients
    let cheb: Vec<f64> = (0..n)
        .map(|j| {
            let s: f64 = (0..n)
                .map(|k| {
                    fv[k] * (std::f64::consts::PI * j as f64 * (k as f64 + 0.5) / n as f64).cos()
                })
                .sum();
            s * if j == 0 { 1.0 } else { 2.0 } / n as f64
        })
        .collect();
    // T_j in monomials of t: T_0 = 1, T_1 = t, T_{j+1} = 2t T_j - T_{j-1}
    let mut out = vec![0.0f64; n];
    let mut prev = vec![0.0f64; n];
    let mut cur = vec![0.0f64; n];
    prev[0] = 1.0;
    if n > 1 {
        cur[1] = 1.0;
    }
    for (j, cj) in cheb.iter().enumerate() {
        let tj = if j == 0 { &prev } else { &cur };
        for (o, t) in out.iter_mut().zip(tj) {
            *o += cj * t;
        }
        if j >= 1 && j + 1 < n {
            let mut next = vec![0.0f64; n];
            for i in 0..n - 1 {
                next[i + 1] += 2.0 * cur[i];
            }
            for i in 0..n {
                next[i] -= prev[i];
            }
            prev = std::mem::replace(&mut cur, next);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_an_exact_polynomial() {
        let xs: Vec<f64> = (0..50).map(|i| -5.0 + i as f64 * 0.2).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 1.0 - 2.0 * x + 0.5 * x * x * x).collect();
        let c = least_squares(&xs, &ys, 3);
        for (got, want) in c.iter().zip([1.0, -2.0, 0.0, 0.5]) {
            assert!((got - want).abs() < 1e-9, "{c:?}");
        }
    }

    #[test]
    fn chebyshev_interpolates_at_the_nodes_and_converts_basis() {
        // cos(t) on [-1, 1] at degree 8: error below 1e-7
        let c = chebyshev(f64::cos, 1.0, 8);
        for i in 0..=20 {
            let t = -1.0 + i as f64 * 0.1;
            let p: f64 = c.iter().rev().fold(0.0, |acc, k| acc * t + k);
            assert!((p - t.cos()).abs() < 1e-7, "t={t}: {p}");
        }
        // a cubic is reproduced exactly (in t = x / 2)
        let c = chebyshev(|x| x * x * x, 2.0, 3);
        assert!((c[3] - 8.0).abs() < 1e-12 && c[0].abs() < 1e-12 && c[1].abs() < 1e-12);
    }
}

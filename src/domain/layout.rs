//! The one layout operation of the core, [`Ring::gather`]: its plans
//! ([`Gather`]) and the helpers written once over it ([`Layout`]).
//!
//! A plan says, for every element of the output (in row-major order), which
//! element of which source tensor it takes, or that it is zero. It is built
//! from shapes alone and checked when it is built, so running it cannot go
//! out of bounds; running it checks only that the tensors have the shapes
//! it was built for.
//!
//! A plan is stored as *runs*: a run copies `len` elements of one source
//! from `start` on with a fixed `stride` (1 for contiguous data), or writes
//! `len` zeros. A reshape, a row slice or a concatenation is one run per
//! source (a `memcpy`), a row gather one run per row, a transpose one
//! strided run per output row. A general index map
//! ([`Gather::from_indices`]) is compressed into runs the same way, so a
//! zero-padded im2col patch matrix (kernel rows are contiguous in the
//! image) or a set of max-pool windows costs a run per kernel row, not a
//! branch per element — and, like every plan, no communication.
//!
//! # Examples
//!
//! ```
//! use ndarray::arr2;
//! use privml::prelude::*;
//! use privml::Gather;
//!
//! let mut r = Plain::new();
//! let x = r.constant(&arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn())?;
//! // the helpers of `Layout` build and run plans
//! let t = r.transpose(&x)?;
//! assert_eq!(r.reveal(&t)?, arr2(&[[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]).into_dyn());
//! // a zero-padded index map: each row of x, shifted right by one
//! let index = [None, Some(0), Some(1), None, Some(3), Some(4)];
//! let plan = Gather::from_indices(&[2, 3], &[2, 3], &index)?;
//! let shifted = r.gather(&[&x], &plan)?;
//! assert_eq!(r.reveal(&shifted)?, arr2(&[[0.0, 1.0, 2.0], [0.0, 4.0, 5.0]]).into_dyn());
//! # Ok::<(), privml::Error>(())
//! ```

use std::iter::repeat_n;

use ndarray::ArrayD;

use super::Ring;
use crate::error::{Error, Result};
use crate::tensor;

/// Where each element of an output tensor comes from: an element of one of
/// the source tensors, or zero. Built for the sources' shapes by the
/// constructors below, run by [`Ring::gather`] (or [`Gather::apply`] on
/// plain arrays). See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather {
    /// The operation, for error messages (`"transpose"`, `"gather"`, ...).
    op: &'static str,
    /// The shapes of the sources the plan was built for.
    sources: Vec<Vec<usize>>,
    /// The output's shape.
    shape: Vec<usize>,
    /// The output's elements in row-major order, run by run.
    runs: Vec<Run>,
}

/// A stretch of consecutive output elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// `len` zeros.
    Zeros { len: usize },
    /// Elements `start`, `start + stride`, … (`len` of them) of source `part`
    /// in row-major order; `len` ≥ 1, and the last one is inside the source.
    Copy {
        part: usize,
        start: usize,
        len: usize,
        stride: usize,
    },
}

/// The number of elements of `shape`, or an error if it does not fit a `usize`.
fn numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| Error::invalid("shape", format!("{op} to {shape:?}: too many elements")))
}

/// Collects runs for a plan, checking each against its source and merging
/// it into the previous run where it continues it.
struct Runs {
    op: &'static str,
    lens: Vec<usize>,
    runs: Vec<Run>,
}

impl Runs {
    fn new(op: &'static str, sources: &[Vec<usize>]) -> Result<Self> {
        Ok(Runs {
            op,
            lens: sources
                .iter()
                .map(|s| numel(op, s))
                .collect::<Result<_>>()?,
            runs: Vec::new(),
        })
    }

    fn zeros(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        match self.runs.last_mut() {
            Some(Run::Zeros { len: l }) => *l += len,
            _ => self.runs.push(Run::Zeros { len }),
        }
    }

    fn copy(&mut self, part: usize, start: usize, len: usize, stride: usize) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let available = self.lens.get(part).copied().ok_or_else(|| {
            Error::internal("Gather", format!("{}: no source number {part}", self.op))
        })?;
        let last = (len - 1)
            .checked_mul(stride)
            .and_then(|o| o.checked_add(start))
            .filter(|&i| i < available)
            .ok_or(Error::IndexOutOfRange {
                op: self.op,
                index: start.saturating_add((len - 1).saturating_mul(stride)),
                len: available,
            })?;
        debug_assert!(last < available);
        if let Some(Run::Copy {
            part: p,
            start: s,
            len: l,
            stride: st,
        }) = self.runs.last_mut()
            && *p == part
        {
            // The stride that would carry the previous run on to `start`
            // (a one-element run has none yet and takes any step forward).
            let step = if *l == 1 {
                start.checked_sub(*s)
            } else {
                (*s + *l * *st == start).then_some(*st)
            };
            if let Some(step) = step
                && (len == 1 || stride == step)
            {
                *st = step;
                *l += len;
                return Ok(());
            }
        }
        self.runs.push(Run::Copy {
            part,
            start,
            len,
            stride,
        });
        Ok(())
    }
}

impl Gather {
    fn build(
        op: &'static str,
        sources: Vec<Vec<usize>>,
        shape: Vec<usize>,
        fill: impl FnOnce(&mut Runs) -> Result<()>,
    ) -> Result<Gather> {
        let mut runs = Runs::new(op, &sources)?;
        fill(&mut runs)?;
        let plan = Gather {
            op,
            sources,
            shape,
            runs: runs.runs,
        };
        let produced: usize = plan.runs.iter().map(Run::len).sum();
        if produced != numel(op, &plan.shape)? {
            return Err(Error::internal(
                "Gather",
                format!(
                    "{op}: the runs give {produced} elements for shape {:?}",
                    plan.shape
                ),
            ));
        }
        Ok(plan)
    }

    /// The same elements in row-major order with a new shape (the element
    /// counts must agree).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::Gather;
    /// assert!(Gather::reshape(&[2, 3], &[3, 2]).is_ok());
    /// assert!(Gather::reshape(&[2, 3], &[4]).is_err());
    /// ```
    pub fn reshape(source: &[usize], shape: &[usize]) -> Result<Gather> {
        let n = numel("reshape", source)?;
        if numel("reshape", shape)? != n {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                left: source.to_vec(),
                right: shape.to_vec(),
            });
        }
        Self::build("reshape", vec![source.to_vec()], shape.to_vec(), |r| {
            r.copy(0, 0, n, 1)
        })
    }

    /// The transpose of a matrix, `[m, n]` to `[n, m]`.
    pub fn transpose(source: &[usize]) -> Result<Gather> {
        let &[m, n] = source else {
            return Err(Error::ShapeMismatch {
                op: "transpose",
                left: source.to_vec(),
                right: vec![],
            });
        };
        Self::build("transpose", vec![source.to_vec()], vec![n, m], |r| {
            (0..n).try_for_each(|j| r.copy(0, j, m, n))
        })
    }

    /// Rows `start..end` along axis 0.
    pub fn slice_rows(source: &[usize], start: usize, end: usize) -> Result<Gather> {
        let rows = source.first().copied().unwrap_or(0);
        if source.is_empty() || start > end || end > rows {
            return Err(Error::ShapeMismatch {
                op: "slice_rows",
                left: source.to_vec(),
                right: vec![start, end],
            });
        }
        let row = numel("slice_rows", &source[1..])?;
        let mut shape = source.to_vec();
        shape[0] = end - start;
        Self::build("slice_rows", vec![source.to_vec()], shape, |r| {
            r.copy(0, start * row, (end - start) * row, 1)
        })
    }

    /// The rows of axis 0 at `indices`, in that order (repeats allowed).
    pub fn gather_rows(source: &[usize], indices: &[usize]) -> Result<Gather> {
        let Some(&rows) = source.first() else {
            return Err(Error::ShapeMismatch {
                op: "gather_rows",
                left: vec![],
                right: indices.to_vec(),
            });
        };
        if let Some(&index) = indices.iter().find(|&&i| i >= rows) {
            return Err(Error::IndexOutOfRange {
                op: "gather_rows",
                index,
                len: rows,
            });
        }
        let row = numel("gather_rows", &source[1..])?;
        let mut shape = source.to_vec();
        shape[0] = indices.len();
        Self::build("gather_rows", vec![source.to_vec()], shape, |r| {
            indices.iter().try_for_each(|&i| r.copy(0, i * row, row, 1))
        })
    }

    /// Tensors stacked along axis 0 (all other axes must agree).
    pub fn concat_rows(sources: &[&[usize]]) -> Result<Gather> {
        let Some(first) = sources.first() else {
            return Err(Error::invalid(
                "parts",
                "concat_rows needs at least one tensor",
            ));
        };
        let mut rows = 0usize;
        for s in sources {
            if s.is_empty() || first.is_empty() || s[1..] != first[1..] {
                return Err(Error::ShapeMismatch {
                    op: "concat_rows",
                    left: first.to_vec(),
                    right: s.to_vec(),
                });
            }
            rows = rows.saturating_add(s[0]);
        }
        let mut shape = first.to_vec();
        shape[0] = rows;
        let owned: Vec<Vec<usize>> = sources.iter().map(|s| s.to_vec()).collect();
        Self::build("concat_rows", owned, shape, |r| {
            (0..r.lens.len()).try_for_each(|part| r.copy(part, 0, r.lens[part], 1))
        })
    }

    /// A general gather from one source: output element `e` (row-major in
    /// `shape`) is source element `index[e]` (row-major in `source`), or
    /// zero where `index[e]` is `None`. Consecutive indices with a constant
    /// step become one run, so structured maps (padded convolution patches,
    /// pooling windows) run as fast as the helpers above.
    pub fn from_indices(
        source: &[usize],
        shape: &[usize],
        index: &[Option<usize>],
    ) -> Result<Gather> {
        numel("gather", source)?;
        if numel("gather", shape)? != index.len() {
            return Err(Error::ShapeMismatch {
                op: "gather",
                left: shape.to_vec(),
                right: vec![index.len()],
            });
        }
        Self::build("gather", vec![source.to_vec()], shape.to_vec(), |r| {
            index.iter().try_for_each(|i| match *i {
                Some(i) => r.copy(0, i, 1, 1),
                None => {
                    r.zeros(1);
                    Ok(())
                }
            })
        })
    }

    /// The axes of `source` reordered: output axis `i` is source axis
    /// `axes[i]` (`[1, 0]` is a transpose; `[0, 2, 1]` turns `[n, p, o]`
    /// rows into `[n, o, p]` channels). One strided run per line of the
    /// output's last axis.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::arr2;
    /// use privml::Gather;
    ///
    /// let x = arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn();
    /// let plan = Gather::permute(&[2, 3], &[1, 0])?;
    /// assert_eq!(plan.apply(&[&x], 0)?, arr2(&[[1, 4], [2, 5], [3, 6]]).into_dyn());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn permute(source: &[usize], axes: &[usize]) -> Result<Gather> {
        let shape: Vec<usize> = permuted_shape("permute", source, axes)?;
        Self::permute_reshaped(source, source, axes, &shape)
    }

    /// [`permute`](Self::permute) of `source` read as `view` (same number of
    /// elements, row-major), with the result given the shape `shape` (same
    /// number of elements again): a reshape, a permutation and a reshape in
    /// one plan. A convolution's output rows `[n·p, o]` become the channels
    /// `[n, o, h, w]` with view `[n, p, o]`, axes `[0, 2, 1]`.
    pub fn permute_reshaped(
        source: &[usize],
        view: &[usize],
        axes: &[usize],
        shape: &[usize],
    ) -> Result<Gather> {
        let op = "permute";
        let n = numel(op, source)?;
        let permuted = permuted_shape(op, view, axes)?;
        if numel(op, view)? != n || numel(op, shape)? != n {
            return Err(Error::ShapeMismatch {
                op,
                left: source.to_vec(),
                right: if numel(op, view)? != n {
                    view.to_vec()
                } else {
                    shape.to_vec()
                },
            });
        }
        let strides = row_major_strides(view);
        Self::build(op, vec![source.to_vec()], shape.to_vec(), |r| {
            let Some((&inner, outer)) = permuted.split_last() else {
                // a scalar: one element
                return r.copy(0, 0, n, 1);
            };
            if n == 0 {
                return Ok(());
            }
            let inner_stride = strides[axes[axes.len() - 1]];
            let mut idx = vec![0usize; outer.len()];
            loop {
                let start: usize = idx.iter().zip(axes).map(|(&i, &a)| i * strides[a]).sum();
                r.copy(0, start, inner, inner_stride)?;
                if !next_index(&mut idx, outer) {
                    return Ok(());
                }
            }
        })
    }

    /// The im2col patch matrix of a convolution: for an input `[n, c, h, w]`
    /// and a window, row `(n, oy, ox)` of the `[n·oh·ow, c·kh·kw]` result
    /// holds the input patch under output position (oy, ox), columns in
    /// `(c, ky, kx)` order (the order of a weight tensor `[o, c, kh, kw]`),
    /// zero where the window covers padding. One run (or zero run) per
    /// kernel row.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::{Array, IxDyn};
    /// use privml::{Gather, Window2d};
    ///
    /// // a 1 x 1 x 3 x 3 image, 2 x 2 kernel, stride 1, no padding
    /// let x = Array::from_shape_vec(IxDyn(&[1, 1, 3, 3]), (1..=9).collect())?;
    /// let plan = Gather::im2col(&[1, 1, 3, 3], &Window2d::square(2, 1, 0)?)?;
    /// let cols = plan.apply(&[&x], 0)?;
    /// assert_eq!(cols.shape(), &[4, 4]);
    /// let rows: Vec<i32> = cols.iter().copied().collect();
    /// assert_eq!(rows[..4], [1, 2, 4, 5]);
    /// assert_eq!(rows[12..], [5, 6, 8, 9]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn im2col(input: &[usize], window: &Window2d) -> Result<Gather> {
        let op = "im2col";
        let [n, c, h, w] = nchw(op, input)?;
        let [oh, ow] = window.output_size(op, [h, w])?;
        let [kh, kw] = window.kernel;
        let [sh, sw] = window.stride;
        let [ph, pw] = window.padding;
        let rows = checked_product(op, &[n, oh, ow])?;
        let cols = checked_product(op, &[c, kh, kw])?;
        Self::build(op, vec![input.to_vec()], vec![rows, cols], |r| {
            for img in 0..n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..c {
                            let plane = (img * c + ch) * h * w;
                            for ky in 0..kh {
                                // the input row under kernel row ky, if any
                                let iy = (oy * sh + ky).checked_sub(ph).filter(|&iy| iy < h);
                                let Some(iy) = iy else {
                                    r.zeros(kw);
                                    continue;
                                };
                                // kernel columns kx with 0 <= ox·sw + kx - pw < w
                                let left = pw.saturating_sub(ox * sw).min(kw);
                                let right_end = (w + pw).saturating_sub(ox * sw).min(kw);
                                let right_end = right_end.max(left);
                                r.zeros(left);
                                if right_end > left {
                                    let ix = ox * sw + left - pw;
                                    r.copy(0, plane + iy * w + ix, right_end - left, 1)?;
                                }
                                r.zeros(kw - right_end);
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The patch matrix of the transposed convolution, which carries an
    /// output gradient `[n, o, oh, ow]` back to the input `[n, c, h, w]`
    /// (`input_hw` = `[h, w]`): row `(n, y, x)` of the `[n·h·w, kh·kw·o]`
    /// result holds, in `(ky', kx', o)` order, the output-gradient element
    /// that kernel tap (kh-1-ky', kw-1-kx') of channel o connects to input
    /// position (y, x), or zero (padding, or a stride skipping it).
    /// Multiplied by the flipped kernel of [`flipped_kernel`](Self::flipped_kernel)
    /// it gives the input gradient `[n·h·w, c]` with one product per *input*
    /// element: the communication of the secure product is proportional to
    /// the input, not to the kernel. One run of `o` elements per tap.
    pub fn conv_transpose_patches(
        grad: &[usize],
        input_hw: [usize; 2],
        window: &Window2d,
    ) -> Result<Gather> {
        let op = "conv_transpose_patches";
        let [n, o, oh, ow] = nchw(op, grad)?;
        let [h, w] = input_hw;
        if window.output_size(op, [h, w])? != [oh, ow] {
            return Err(Error::ShapeMismatch {
                op,
                left: grad.to_vec(),
                right: window.output_size(op, [h, w])?.to_vec(),
            });
        }
        let [kh, kw] = window.kernel;
        let [sh, sw] = window.stride;
        let [ph, pw] = window.padding;
        let rows = checked_product(op, &[n, h, w])?;
        let cols = checked_product(op, &[kh, kw, o])?;
        let plane = oh * ow;
        // the output index along one axis that kernel tap `k` (flipped:
        // k = kernel-1-k') connects to input index `i`, if any
        let source =
            |i: usize, k_flipped: usize, kernel: usize, stride: usize, pad: usize, out: usize| {
                let num = (i + pad + k_flipped + 1).checked_sub(kernel)?;
                (num % stride == 0 && num / stride < out).then_some(num / stride)
            };
        Self::build(op, vec![grad.to_vec()], vec![rows, cols], |r| {
            for img in 0..n {
                for y in 0..h {
                    for x in 0..w {
                        for ky in 0..kh {
                            let oy = source(y, ky, kh, sh, ph, oh);
                            for kx in 0..kw {
                                let ox = source(x, kx, kw, sw, pw, ow);
                                match (oy, ox) {
                                    (Some(oy), Some(ox)) => {
                                        r.copy(0, img * o * plane + oy * ow + ox, o, plane)?
                                    }
                                    _ => r.zeros(o),
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// A weight tensor `[o, c, kh, kw]` as the `[kh·kw·o, c]` matrix of the
    /// flipped kernel, rows in the `(ky', kx', o)` order of
    /// [`conv_transpose_patches`](Self::conv_transpose_patches): row
    /// (ky', kx', o), column c holds weight (o, c, kh-1-ky', kw-1-kx').
    pub fn flipped_kernel(weights: &[usize]) -> Result<Gather> {
        let op = "flipped_kernel";
        let [o, c, kh, kw] = nchw(op, weights)?;
        let rows = checked_product(op, &[kh, kw, o])?;
        Self::build(op, vec![weights.to_vec()], vec![rows, c], |r| {
            for ky in 0..kh {
                for kx in 0..kw {
                    for oc in 0..o {
                        let tap = (kh - 1 - ky) * kw + (kw - 1 - kx);
                        r.copy(0, oc * c * kh * kw + tap, c, kh * kw)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// The pooling windows of an input `[n, c, h, w]` as candidates along
    /// axis 0: row `(ky, kx)` of the `[kh·kw, n·c·oh·ow]` result holds, for
    /// every output element, the input under kernel tap (ky, kx). Pooling
    /// takes no padding, and the windows must tile the input exactly
    /// ((h - kh) divisible by the stride, and the same for w): anything else
    /// is an error rather than a silently dropped border. One strided run
    /// per output row.
    pub fn pool_windows(input: &[usize], window: &Window2d) -> Result<Gather> {
        let op = "pool_windows";
        let [n, c, h, w] = nchw(op, input)?;
        let [oh, ow] = window.pool_output_size(op, [h, w])?;
        let [kh, kw] = window.kernel;
        let [sh, sw] = window.stride;
        let m = checked_product(op, &[n, c, oh, ow])?;
        Self::build(op, vec![input.to_vec()], vec![kh * kw, m], |r| {
            for ky in 0..kh {
                for kx in 0..kw {
                    for plane in 0..n * c {
                        for oy in 0..oh {
                            let start = plane * h * w + (oy * sh + ky) * w + kx;
                            r.copy(0, start, ow, sw)?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The adjoint of [`pool_windows`](Self::pool_windows): from values on
    /// the candidates `[kh·kw, n·c·oh·ow]` (a gradient), the plan
    /// returned gathers `[t, n, c, h, w]`, where slice `j` of axis 0 holds
    /// the `j`-th window element covering each input position (zero where
    /// fewer than `t` windows cover it). Summing over axis 0 gives the
    /// input gradient; `t` = ⌈kh/sh⌉·⌈kw/sw⌉ is 1 for non-overlapping
    /// windows, where the plan is a plain permutation.
    pub fn pool_windows_adjoint(input: &[usize], window: &Window2d) -> Result<Gather> {
        let op = "pool_windows_adjoint";
        let [n, c, h, w] = nchw(op, input)?;
        let [oh, ow] = window.pool_output_size(op, [h, w])?;
        let [kh, kw] = window.kernel;
        let [sh, sw] = window.stride;
        let m = checked_product(op, &[n, c, oh, ow])?;
        if window.stride == window.kernel {
            // windows side by side: a permutation, kernel columns innermost
            return Self::permute_reshaped(
                &[kh * kw, m],
                &[kh, kw, n * c, oh, ow],
                &[2, 3, 0, 4, 1],
                &[1, n, c, h, w],
            );
        }
        let (ty, tx) = (kh.div_ceil(sh), kw.div_ceil(sw));
        let t = ty * tx;
        // the j-th (in row-major (jy, jx) order) window covering position i
        // along one axis: output index and tap, if it exists
        let cover = |i: usize, j: usize, kernel: usize, stride: usize, out: usize| {
            // windows o with o·stride <= i < o·stride + kernel, highest first
            let highest = (i / stride).min(out.checked_sub(1)?);
            let o = highest.checked_sub(j)?;
            let tap = i.checked_sub(o * stride)?;
            (tap < kernel).then_some((o, tap))
        };
        let sources = vec![vec![kh * kw, m]];
        Self::build(op, sources, vec![t, n, c, h, w], |r| {
            for jy in 0..ty {
                for jx in 0..tx {
                    for plane in 0..n * c {
                        for y in 0..h {
                            let row = cover(y, jy, kh, sh, oh);
                            for x in 0..w {
                                match (row, cover(x, jx, kw, sw, ow)) {
                                    (Some((oy, ky)), Some((ox, kx))) => r.copy(
                                        0,
                                        (ky * kw + kx) * m + (plane * oh + oy) * ow + ox,
                                        1,
                                        1,
                                    )?,
                                    _ => r.zeros(1),
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The output's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The shapes of the sources the plan takes, in order.
    pub fn sources(&self) -> &[Vec<usize>] {
        &self.sources
    }

    /// Checks that `shapes` are the shapes the plan was built for.
    pub fn check_sources<'a>(
        &self,
        shapes: impl ExactSizeIterator<Item = &'a [usize]>,
    ) -> Result<()> {
        if shapes.len() != self.sources.len() {
            return Err(Error::invalid(
                "parts",
                format!(
                    "the {} plan takes {} tensors, got {}",
                    self.op,
                    self.sources.len(),
                    shapes.len()
                ),
            ));
        }
        for (want, got) in self.sources.iter().zip(shapes) {
            tensor::check_same(self.op, want, got)?;
        }
        Ok(())
    }

    /// Runs the plan on `ndarray` tensors (any memory order), filling the
    /// zero runs with `zero`. Each domain's [`Ring::gather`] is this, once
    /// per share.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::arr2;
    /// use privml::Gather;
    ///
    /// let x = arr2(&[[1, 2], [3, 4]]).into_dyn();
    /// let plan = Gather::gather_rows(&[2, 2], &[1, 1, 0])?;
    /// assert_eq!(plan.apply(&[&x], 0)?, arr2(&[[3, 4], [3, 4], [1, 2]]).into_dyn());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn apply<T: Clone>(&self, parts: &[&ArrayD<T>], zero: T) -> Result<ArrayD<T>> {
        self.check_sources(parts.iter().map(|p| p.shape()))?;
        let data: Vec<_> = parts.iter().map(|p| tensor::row_major(p)).collect();
        let mut out = Vec::with_capacity(self.runs.iter().map(Run::len).sum());
        for run in &self.runs {
            match *run {
                Run::Zeros { len } => out.extend(repeat_n(zero.clone(), len)),
                Run::Copy {
                    part,
                    start,
                    len,
                    stride,
                } => {
                    // in bounds by construction and the shape check above
                    let end = start + (len - 1) * stride + 1;
                    let window =
                        data.get(part)
                            .and_then(|d| d.get(start..end))
                            .ok_or_else(|| {
                                Error::internal(
                                    "Gather::apply",
                                    format!("{}: run out of bounds", self.op),
                                )
                            })?;
                    match stride {
                        1 => out.extend_from_slice(window),
                        0 => out.extend(repeat_n(window[0].clone(), len)),
                        s => out.extend(window.iter().step_by(s).cloned()),
                    }
                }
            }
        }
        tensor::from_vec(self.op, &self.shape, out)
    }
}

/// The shape with `axes` applied, checking that `axes` is a permutation.
fn permuted_shape(op: &'static str, view: &[usize], axes: &[usize]) -> Result<Vec<usize>> {
    let mut seen = vec![false; view.len()];
    let ok = axes.len() == view.len()
        && axes
            .iter()
            .all(|&a| a < view.len() && !std::mem::replace(&mut seen[a], true));
    if !ok {
        return Err(Error::ShapeMismatch {
            op,
            left: view.to_vec(),
            right: axes.to_vec(),
        });
    }
    Ok(axes.iter().map(|&a| view[a]).collect())
}

/// Row-major strides of `shape`.
fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// Advances a row-major multi-index over `dims`; false after the last one.
fn next_index(idx: &mut [usize], dims: &[usize]) -> bool {
    for (i, d) in idx.iter_mut().zip(dims).rev() {
        *i += 1;
        if *i < *d {
            return true;
        }
        *i = 0;
    }
    false
}

/// The product of `dims`, or an error if it does not fit a `usize`.
fn checked_product(op: &'static str, dims: &[usize]) -> Result<usize> {
    numel(op, dims)
}

/// A four-axis shape `[n, c, h, w]`.
fn nchw(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    let &[n, c, h, w] = shape else {
        return Err(Error::ShapeMismatch {
            op,
            left: shape.to_vec(),
            right: vec![],
        });
    };
    numel(op, shape)?;
    Ok([n, c, h, w])
}

/// A two-dimensional sliding window over the last two axes of an NCHW
/// tensor: kernel size, stride and zero padding (each as `[rows, columns]`).
/// The geometry of convolutions and pooling; the plans
/// [`Gather::im2col`], [`Gather::conv_transpose_patches`],
/// [`Gather::pool_windows`] and [`Gather::pool_windows_adjoint`] are built
/// from it.
///
/// # Examples
///
/// ```
/// use privml::Window2d;
///
/// let w = Window2d::square(5, 1, 0)?;
/// assert_eq!(w.output_size("conv", [28, 28])?, [24, 24]);
/// let strided = Window2d::square(5, 2, 2)?;
/// assert_eq!(strided.output_size("conv", [28, 28])?, [14, 14]);
/// assert!(w.output_size("conv", [4, 4]).is_err()); // kernel larger than the input
/// assert!(Window2d::square(2, 2, 0)?.pool_output_size("pool", [5, 5]).is_err()); // 2 does not tile 5
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window2d {
    /// Kernel rows and columns (≥ 1).
    pub kernel: [usize; 2],
    /// Step between windows (≥ 1).
    pub stride: [usize; 2],
    /// Zeros added on each side.
    pub padding: [usize; 2],
}

impl Window2d {
    /// A window; kernel and stride must be at least 1.
    pub fn new(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Result<Self> {
        if kernel.contains(&0) || stride.contains(&0) {
            return Err(Error::invalid(
                "window",
                format!("kernel {kernel:?} and stride {stride:?} must be at least 1"),
            ));
        }
        Ok(Window2d {
            kernel,
            stride,
            padding,
        })
    }

    /// A square window: `k` x `k`, stride `s`, padding `p` on every side.
    pub fn square(k: usize, s: usize, p: usize) -> Result<Self> {
        Self::new([k, k], [s, s], [p, p])
    }

    /// The output size for an input of `[h, w]`: ⌊(h + 2p - k) / s⌋ + 1 per
    /// axis (a convolution's rule: a border the stride does not reach is
    /// left out). A kernel larger than the padded input is an error.
    pub fn output_size(&self, op: &'static str, hw: [usize; 2]) -> Result<[usize; 2]> {
        let mut out = [0; 2];
        for a in 0..2 {
            let padded = hw[a]
                .checked_add(2 * self.padding[a])
                .filter(|&p| p >= self.kernel[a]);
            let Some(padded) = padded else {
                return Err(Error::ShapeMismatch {
                    op,
                    left: hw.iter().map(|d| d + 2 * self.padding[a]).collect(),
                    right: self.kernel.to_vec(),
                });
            };
            out[a] = (padded - self.kernel[a]) / self.stride[a] + 1;
        }
        Ok(out)
    }

    /// Whether the windows tile the padded input exactly: (h + 2p - k)
    /// divisible by the stride on both axes.
    pub fn tiles(&self, hw: [usize; 2]) -> bool {
        (0..2).all(|a| {
            (hw[a] + 2 * self.padding[a])
                .checked_sub(self.kernel[a])
                .is_some_and(|d| d % self.stride[a] == 0)
        })
    }

    /// The output size of pooling: no padding, and windows that tile the
    /// input exactly (see [`tiles`](Self::tiles)); anything else is an error.
    pub fn pool_output_size(&self, op: &'static str, hw: [usize; 2]) -> Result<[usize; 2]> {
        let out = self.output_size(op, hw)?;
        if self.padding != [0, 0] || !self.tiles(hw) {
            return Err(Error::ShapeMismatch {
                op,
                left: hw.to_vec(),
                right: [self.kernel, self.stride, self.padding].concat(),
            });
        }
        Ok(out)
    }
}

impl Run {
    fn len(&self) -> usize {
        match *self {
            Run::Zeros { len } | Run::Copy { len, .. } => len,
        }
    }
}

/// Layout helpers over [`Ring::gather`], written once for every domain (a
/// blanket implementation covers every `R: Ring`). Each is one local
/// operation: no communication, one operation count.
pub trait Layout: Ring {
    /// Transpose of a matrix.
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        let plan = Gather::transpose(self.shape(a))?;
        self.gather(&[a], &plan)
    }

    /// Same elements, new shape.
    fn reshape(&mut self, a: &Self::Tensor, shape: &[usize]) -> Result<Self::Tensor> {
        let plan = Gather::reshape(self.shape(a), shape)?;
        self.gather(&[a], &plan)
    }

    /// Rows `start..end` along axis 0 (mini-batches).
    fn slice_rows(&mut self, a: &Self::Tensor, start: usize, end: usize) -> Result<Self::Tensor> {
        let plan = Gather::slice_rows(self.shape(a), start, end)?;
        self.gather(&[a], &plan)
    }

    /// The rows of axis 0 at `indices`, in that order (repeats allowed).
    fn gather_rows(&mut self, a: &Self::Tensor, indices: &[usize]) -> Result<Self::Tensor> {
        let plan = Gather::gather_rows(self.shape(a), indices)?;
        self.gather(&[a], &plan)
    }

    /// Tensors stacked along axis 0 (all other axes must agree).
    fn concat_rows(&mut self, parts: &[&Self::Tensor]) -> Result<Self::Tensor> {
        let shapes: Vec<&[usize]> = parts.iter().map(|p| self.shape(p)).collect();
        let plan = Gather::concat_rows(&shapes)?;
        self.gather(parts, &plan)
    }
}

impl<R: Ring + ?Sized> Layout for R {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fixed, Plain, Shared};
    use ndarray::{ArrayD, IxDyn, arr2};

    fn seq(shape: &[usize]) -> ArrayD<i64> {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(shape), (0..n as i64).collect()).expect("shape")
    }

    #[test]
    fn helpers_match_ndarray() {
        let x = seq(&[3, 4]);
        let t = Gather::transpose(&[3, 4]).unwrap().apply(&[&x], 0).unwrap();
        assert_eq!(t, x.t().as_standard_layout().into_owned());
        let r = Gather::reshape(&[3, 4], &[2, 6])
            .unwrap()
            .apply(&[&x], 0)
            .unwrap();
        assert_eq!(r, x.clone().into_shape_with_order(IxDyn(&[2, 6])).unwrap());
        let s = Gather::slice_rows(&[3, 4], 1, 3)
            .unwrap()
            .apply(&[&x], 0)
            .unwrap();
        assert_eq!(s, x.slice(ndarray::s![1..3, ..]).into_owned().into_dyn());
        let g = Gather::gather_rows(&[3, 4], &[2, 0, 2])
            .unwrap()
            .apply(&[&x], 0)
            .unwrap();
        assert_eq!(g, x.select(ndarray::Axis(0), &[2, 0, 2]));
        let y = seq(&[1, 4]);
        let c = Gather::concat_rows(&[&[3, 4], &[1, 4]])
            .unwrap()
            .apply(&[&x, &y], 0)
            .unwrap();
        assert_eq!(
            c,
            ndarray::concatenate(ndarray::Axis(0), &[x.view(), y.view()]).unwrap()
        );
        // a transposed (column-major) source is read in logical order
        let xt = x.t().to_owned().into_dyn();
        let back = Gather::transpose(&[4, 3])
            .unwrap()
            .apply(&[&xt], 0)
            .unwrap();
        assert_eq!(back, x);
    }

    #[test]
    fn small_matrix_layouts() {
        let a = arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn();
        assert!(Gather::reshape(a.shape(), &[4]).is_err());
        let r = Gather::reshape(a.shape(), &[3, 2])
            .unwrap()
            .apply(&[&a], 0)
            .unwrap();
        assert_eq!(r.shape(), &[3, 2]);
        let t = Gather::transpose(a.shape())
            .unwrap()
            .apply(&[&a], 0)
            .unwrap();
        assert_eq!(tensor::row_major(&t).into_owned(), vec![1, 4, 2, 5, 3, 6]);
        assert!(Gather::slice_rows(a.shape(), 1, 3).is_err());
        let s = Gather::slice_rows(a.shape(), 1, 2)
            .unwrap()
            .apply(&[&a], 0)
            .unwrap();
        assert_eq!(s.shape(), &[1, 3]);
    }

    #[test]
    fn index_maps_compress_into_runs() {
        // backwards, repeated, zero and strided stretches
        let index: Vec<Option<usize>> = [3, 2, 1, 0, 5, 5, 5]
            .iter()
            .map(|&i| Some(i))
            .chain([None, None, Some(6), Some(8), Some(10)])
            .collect();
        let plan = Gather::from_indices(&[12], &[12], &index).unwrap();
        let x = seq(&[12]);
        let got = plan.apply(&[&x], -1).unwrap();
        assert_eq!(
            got.as_slice().unwrap(),
            &[3, 2, 1, 0, 5, 5, 5, -1, -1, 6, 8, 10]
        );
        // 3, 2, 1 are one-element runs (no backward strides); 0 and the
        // first 5 one run of stride 5, the next two 5s a repeat run, the
        // zeros one run and 6, 8, 10 one run of stride 2
        assert_eq!(plan.runs.len(), 4 + 1 + 1 + 1);
        // a transpose is one strided run per output row
        assert_eq!(Gather::transpose(&[64, 32]).unwrap().runs.len(), 32);
        // whole rows merge into one copy
        assert_eq!(
            Gather::gather_rows(&[5, 3], &[1, 2, 3]).unwrap().runs.len(),
            1
        );
    }

    #[test]
    fn bad_plans_are_clear_errors() {
        assert!(matches!(
            Gather::from_indices(&[2, 2], &[2, 2], &[Some(0), Some(4), None, None]),
            Err(Error::IndexOutOfRange {
                op: "gather",
                index: 4,
                len: 4
            })
        ));
        assert!(matches!(
            Gather::from_indices(&[2, 2], &[3], &[Some(0)]),
            Err(Error::ShapeMismatch { op: "gather", .. })
        ));
        assert!(matches!(
            Gather::gather_rows(&[3, 2], &[0, 3]),
            Err(Error::IndexOutOfRange {
                op: "gather_rows",
                index: 3,
                len: 3
            })
        ));
        assert!(matches!(
            Gather::slice_rows(&[3, 2], 2, 4),
            Err(Error::ShapeMismatch {
                op: "slice_rows",
                ..
            })
        ));
        assert!(matches!(
            Gather::slice_rows(&[3, 2], 2, 1),
            Err(Error::ShapeMismatch {
                op: "slice_rows",
                ..
            })
        ));
        assert!(matches!(
            Gather::transpose(&[2, 3, 4]),
            Err(Error::ShapeMismatch {
                op: "transpose",
                ..
            })
        ));
        assert!(matches!(
            Gather::reshape(&[2, 3], &[4, 2]),
            Err(Error::ShapeMismatch { op: "reshape", .. })
        ));
        assert!(matches!(
            Gather::reshape(&[2, 3], &[usize::MAX, 3]),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            Gather::concat_rows(&[&[2, 3], &[1, 4]]),
            Err(Error::ShapeMismatch {
                op: "concat_rows",
                ..
            })
        ));
        assert!(matches!(
            Gather::concat_rows(&[]),
            Err(Error::InvalidParameter { .. })
        ));
        // running a plan on tensors of other shapes, or another number of them
        let plan = Gather::transpose(&[2, 3]).unwrap();
        let x = seq(&[3, 2]);
        assert!(matches!(
            plan.apply(&[&x], 0),
            Err(Error::ShapeMismatch {
                op: "transpose",
                ..
            })
        ));
        assert!(matches!(
            plan.apply(&[&x, &x], 0),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn every_domain_reports_a_wrong_source_shape() {
        let plan = Gather::transpose(&[2, 3]).unwrap();
        let v = arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn();
        fn run<R: Ring>(r: &mut R, v: &ArrayD<f64>, plan: &Gather) -> Result<R::Tensor> {
            let x = r.constant(v)?;
            r.gather(&[&x], plan)
        }
        for e in [
            run(&mut Plain::new(), &v, &plan).unwrap_err(),
            run(&mut Fixed::<u64>::new(), &v, &plan).unwrap_err(),
            Shared::<u64>::simulate(|r| run(r, &v, &plan).map(|_| ())).unwrap_err(),
        ] {
            assert!(
                matches!(
                    e,
                    Error::ShapeMismatch {
                        op: "transpose",
                        ..
                    }
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn empty_tensors_have_empty_plans() {
        let x = seq(&[0, 3]);
        let t = Gather::transpose(&[0, 3]).unwrap().apply(&[&x], 0).unwrap();
        assert_eq!(t.shape(), &[3, 0]);
        let g = Gather::gather_rows(&[0, 3], &[])
            .unwrap()
            .apply(&[&x], 0)
            .unwrap();
        assert_eq!(g.shape(), &[0, 3]);
    }
}

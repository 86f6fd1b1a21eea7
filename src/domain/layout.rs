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

//! Dataset share files: a table handed to the three parties as replicated
//! shares, without a network (the air-gapped hand-over of `privml share`).
//!
//! The data owner prepares its table row by row ([`TableData::prepare`]:
//! scaling over declared public ranges, one-hot targets, the fixed-point
//! range check), encodes it in the ring, and splits every value `v` into
//! three uniformly random shares `v = x0 + x1 + x2` drawn from the
//! operating system's cryptographic RNG (an AES-CTR keystream keyed from
//! it). Party `i`'s file holds `(x_i, x_{i+1})` only: any one file is two
//! uniformly random ring elements per value, independent of the table.
//! Nothing that mixes rows happens before sharing: the parties shuffle,
//! limit and split the rows on their shares with the training run's public
//! seed ([`row_plan`](crate::learn::pipeline::row_plan)), so a table shared
//! whole trains on the same rows as the same table in the clear.
//!
//! What a file discloses to the party holding it is its public
//! [`DatasetSchema`]: the column names, the row count, the class count, the
//! task and the declared ranges. A random dataset id, drawn when the table
//! is shared, ties the three files together: parties holding files of
//! different tables find out before computing anything
//! ([`DatasetShares::check_same`]), and
//! [`Session::check_agreement`](crate::Session::check_agreement) catches
//! files whose shares do not belong together.
//!
//! File layout, like [`crate::model_file`]'s: the magic `PRIVMLD\x00`, one
//! format-version byte ([`FORMAT_VERSION`]), a postcard-encoded
//! [`DatasetShares`], and the SHA-256 of that encoding. Decoding checks the
//! magic, the version, the checksum, and that the tensors have the shapes
//! and the party the schema says (sizes are checked against the bytes
//! read, never allocated from a declared length). Files are written
//! atomically with mode 0600 ([`write_atomic`]) and refused when other
//! users can read them ([`crate::private_file`]).

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayD};
use serde::{Deserialize, Serialize};

use crate::cost::Protocol;
use crate::domain::TensorData;
use crate::envelope::Envelope;
use crate::error::{DecodeError, Error, Origin, Result};
use crate::fixed::FixedPoint;
use crate::learn::{TableData, Task};
use crate::model_file::{SavedModel, TableMeta, write_atomic};
use crate::ring::RingElement;
use crate::ring::prg::AesPrg;
use crate::runner::{Domain, DomainSpec, RingSize};

/// The first bytes of every dataset share file.
const MAGIC: &[u8; 8] = b"PRIVMLD\x00";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// What errors call the format.
const WHAT: &str = "dataset share file";

/// The file's frame (see [`crate::envelope`]).
const ENVELOPE: Envelope = Envelope {
    magic: MAGIC,
    version: FORMAT_VERSION,
    expected: "privml dataset share file",
};

/// The public part of a shared table: the same in all three files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSchema {
    /// Drawn at random when the table is shared: the three files of one
    /// sharing carry the same id.
    pub dataset_id: [u8; 16],
    /// Number of rows.
    pub rows: usize,
    /// Column names, class count, task, declared scaling.
    pub table: TableMeta,
    /// Ring size ℓ of the shares.
    pub ring_bits: u32,
    /// Fraction bits of the fixed-point encoding.
    pub frac_bits: u32,
}

impl DatasetSchema {
    /// Target columns: one per class for a classification (one-hot), one
    /// for a regression.
    pub fn target_columns(&self) -> usize {
        match self.table.task {
            Task::Classification => self.table.n_classes,
            Task::Regression => 1,
        }
    }

    /// One line for messages: rows, features, classes.
    pub fn summary(&self) -> String {
        let what = match self.table.task {
            Task::Classification => format!("{} classes", self.table.n_classes),
            Task::Regression => "regression".to_string(),
        };
        format!(
            "{} rows, {} features, target '{}' ({what}), Z_2^{} with {} fraction bits",
            self.rows,
            self.table.features.len(),
            self.table.target,
            self.ring_bits,
            self.frac_bits
        )
    }
}

/// One party's dataset share file: the public schema and this party's
/// replicated shares of the features and the targets. `Debug` prints no
/// share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetShares {
    /// The public description.
    pub schema: DatasetSchema,
    /// The party whose shares these are.
    pub party: u8,
    /// Shares of the features, rows × features.
    pub x: TensorData,
    /// Shares of the targets, rows × [`DatasetSchema::target_columns`].
    pub y: TensorData,
}

impl DatasetShares {
    /// `{prefix}.party{N}.shares`, the conventional file of party `party`
    /// (the naming of model share files).
    pub fn party_path(prefix: impl AsRef<Path>, party: usize) -> PathBuf {
        SavedModel::party_path(prefix, party)
    }

    /// The file's bytes (see the [module docs](self)).
    pub fn encode(&self) -> Result<Vec<u8>> {
        ENVELOPE
            .seal(self)
            .map_err(|e| Error::internal("DatasetShares::encode", e.to_string()))
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.encode()?)
    }

    /// Reads and checks a file; refused ([`Error::FileNotPrivate`]) when
    /// other users may read or write it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let opened = crate::private_file::read(path)?;
        let file = Self::decode(&opened.bytes, Origin::File(path.to_path_buf()))?;
        opened.require_private(path, "share file")?;
        Ok(file)
    }

    /// Decodes the bytes of a file (or of a message) from `origin`: magic,
    /// version, checksum, encoding, and the tensors' kind and shapes
    /// against the schema. Never panics, whatever the bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::dataset_file::DatasetShares;
    /// use privml::error::Origin;
    ///
    /// let e = DatasetShares::decode(b"PRIVMLD\x00\x01", Origin::Bytes).unwrap_err();
    /// assert!(e.to_string().contains("truncated"), "{e}");
    /// let e = DatasetShares::decode(b"PRIVML\x00\x03....", Origin::Bytes).unwrap_err();
    /// assert!(e.to_string().contains("dataset share file"), "{e}");
    /// ```
    pub fn decode(bytes: &[u8], origin: Origin) -> Result<Self> {
        let bad = |error: DecodeError| Error::decode(WHAT, origin.clone(), error);
        let file: DatasetShares = ENVELOPE.open(bytes).map_err(bad)?;
        file.validate().map_err(|(field, reason)| {
            bad(DecodeError::BadField {
                field,
                reason: reason.to_string(),
            })
        })?;
        Ok(file)
    }

    /// The tensors are this party's shares of the schema's shapes, with
    /// as many bytes as the shapes need.
    fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        let s = &self.schema;
        if self.party > 2 {
            return Err(("party", format!("{} is not 0, 1 or 2", self.party)));
        }
        if s.ring_bits != 64 && s.ring_bits != 128 {
            return Err(("ring_bits", format!("{} is not 64 or 128", s.ring_bits)));
        }
        if s.table.task == Task::Classification && s.table.n_classes < 2 {
            return Err(("n_classes", format!("{} (at least 2)", s.table.n_classes)));
        }
        let check = |field: &'static str, t: &TensorData, cols: usize| {
            let TensorData::Shares {
                shape,
                ring_bits,
                frac_bits,
                party,
                a,
                b,
            } = t
            else {
                return Err((field, format!("holds {}, not shares", t.kind())));
            };
            if shape.as_slice() != [s.rows, cols] {
                return Err((
                    field,
                    format!("shape {shape:?}, the schema says [{}, {cols}]", s.rows),
                ));
            }
            if (*ring_bits, *frac_bits, *party) != (s.ring_bits, s.frac_bits, self.party) {
                return Err((
                    field,
                    format!("{} in a file of party {}", t.kind(), self.party),
                ));
            }
            let need = (s.rows as u128) * (cols as u128) * u128::from(s.ring_bits / 8);
            if a.len() as u128 != need || b.len() as u128 != need {
                return Err((
                    field,
                    format!(
                        "{} and {} bytes of shares, the shape needs {need}",
                        a.len(),
                        b.len()
                    ),
                ));
            }
            Ok(())
        };
        check("x", &self.x, s.table.features.len())?;
        check("y", &self.y, s.target_columns())
    }

    /// Fails unless `other` is a file of the same sharing (same schema and
    /// dataset id), naming what differs.
    pub fn check_same(&self, other: &DatasetSchema, whose: &str) -> Result<()> {
        let mine = &self.schema;
        if mine.dataset_id != other.dataset_id {
            return Err(Error::invalid(
                "dataset",
                format!(
                    "{whose} file is of another sharing (dataset id {}, this one's {}): \
                     the three parties must use the files one `privml share` wrote",
                    hex(&other.dataset_id),
                    hex(&mine.dataset_id)
                ),
            ));
        }
        if mine != other {
            return Err(Error::invalid(
                "dataset",
                format!(
                    "{whose} file has the same dataset id but another schema ({}; this one: {})",
                    other.summary(),
                    mine.summary()
                ),
            ));
        }
        Ok(())
    }
}

/// Lower-case hex of an id, for messages.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The three parties' files of `table`, in the ring and fixed-point format
/// of `domain` (the three-party shared domain), with shares drawn from the
/// operating system's RNG.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::dataset_file::{open_table, share_table};
/// use privml::learn::Task;
/// use privml::model_file::TableMeta;
/// use privml::runner::DomainSpec;
///
/// let table = TableMeta {
///     target: "y".into(),
///     features: vec!["a".into()],
///     n_classes: 2,
///     normalizer: None,
///     task: Task::Classification,
///     target_normalizer: None,
/// };
/// let (x, y) = (array![[0.5], [0.25]], array![[1.0, 0.0], [0.0, 1.0]]);
/// let files = share_table(&x, &y, &table, &DomainSpec::default())?;
/// assert_eq!(files[1].party, 1);
/// let (x2, y2) = open_table(&files)?;
/// assert_eq!((x2, y2), (x, y));
/// # Ok::<(), privml::Error>(())
/// ```
pub fn share_table(
    x: &Array2<f64>,
    y: &Array2<f64>,
    table: &TableMeta,
    domain: &DomainSpec,
) -> Result<[DatasetShares; 3]> {
    if domain.domain != Domain::Shared || domain.protocol != Protocol::Replicated3 {
        return Err(Error::invalid(
            "domain",
            "share files hold replicated shares of the three-party protocol (--domain shared)",
        ));
    }
    let mut id = [0u8; 16];
    crate::ring::prg::fill_from_os(&mut id)?;
    let schema = DatasetSchema {
        dataset_id: id,
        rows: x.nrows(),
        table: table.clone(),
        ring_bits: match domain.ring {
            RingSize::Z64 => 64,
            RingSize::Z128 => 128,
        },
        frac_bits: domain.frac_bits(),
    };
    if y.nrows() != x.nrows()
        || x.ncols() != table.features.len()
        || y.ncols() != schema.target_columns()
    {
        return Err(Error::ShapeMismatch {
            op: "share_table",
            left: vec![x.nrows(), x.ncols()],
            right: vec![y.nrows(), y.ncols()],
        });
    }
    let mut rng = AesPrg::from_entropy()?;
    let (xs, ys) = match domain.ring {
        RingSize::Z64 => (
            deal::<u64>(x, schema.frac_bits, &mut rng)?,
            deal::<u64>(y, schema.frac_bits, &mut rng)?,
        ),
        RingSize::Z128 => (
            deal::<u128>(x, schema.frac_bits, &mut rng)?,
            deal::<u128>(y, schema.frac_bits, &mut rng)?,
        ),
    };
    let file = |p: usize| {
        let tensor = |parts: &[Vec<u8>; 3], cols: usize| TensorData::Shares {
            shape: vec![schema.rows, cols],
            ring_bits: schema.ring_bits,
            frac_bits: schema.frac_bits,
            party: p as u8,
            a: parts[p].clone(),
            b: parts[(p + 1) % 3].clone(),
        };
        DatasetShares {
            schema: schema.clone(),
            party: p as u8,
            x: tensor(&xs, x.ncols()),
            y: tensor(&ys, y.ncols()),
        }
    };
    Ok([file(0), file(1), file(2)])
}

/// `m` encoded in `Z_2^ℓ` and split into three additive shares
/// `x0 + x1 + x2`, `x0` and `x1` uniform from `rng`, as little-endian bytes.
fn deal<T: RingElement>(m: &Array2<f64>, frac_bits: u32, rng: &mut AesPrg) -> Result<[Vec<u8>; 3]> {
    let fp = FixedPoint::<T>::new(frac_bits)?;
    let v = fp.encode_array(&m.to_owned().into_dyn())?;
    let n = v.len();
    let x0 = rng.vec::<T>(n);
    let x1 = rng.vec::<T>(n);
    let x2: Vec<T> = v
        .iter()
        .zip(&x0)
        .zip(&x1)
        .map(|((v, a), b)| v.wrapping_sub(a).wrapping_sub(b))
        .collect();
    Ok([
        T::slice_to_le_bytes(&x0).into_owned(),
        T::slice_to_le_bytes(&x1).into_owned(),
        T::slice_to_le_bytes(&x2).into_owned(),
    ])
}

/// Each party's replicated shares of the matrix `x` (rows of a prediction
/// query, say) in the format of `domain`, drawn from the OS's RNG.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::dataset_file::{open_shares, share_matrix};
/// use privml::runner::DomainSpec;
///
/// let x = array![[0.5, -1.25]];
/// let [a, b, c] = share_matrix(&x, &DomainSpec::default())?;
/// assert_eq!(open_shares([&c, &a, &b])?, x.into_dyn());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn share_matrix(x: &Array2<f64>, domain: &DomainSpec) -> Result<[TensorData; 3]> {
    if domain.domain != Domain::Shared || domain.protocol != Protocol::Replicated3 {
        return Err(Error::invalid(
            "domain",
            "replicated shares are the three-party protocol's (--domain shared)",
        ));
    }
    let frac_bits = domain.frac_bits();
    let mut rng = AesPrg::from_entropy()?;
    let (parts, ring_bits) = match domain.ring {
        RingSize::Z64 => (deal::<u64>(x, frac_bits, &mut rng)?, 64),
        RingSize::Z128 => (deal::<u128>(x, frac_bits, &mut rng)?, 128),
    };
    let tensor = |p: usize| TensorData::Shares {
        shape: vec![x.nrows(), x.ncols()],
        ring_bits,
        frac_bits,
        party: p as u8,
        a: parts[p].clone(),
        b: parts[(p + 1) % 3].clone(),
    };
    Ok([tensor(0), tensor(1), tensor(2)])
}

/// The table prepared and shared: [`TableData`] into [`share_table`].
pub fn share_prepared(data: &TableData, domain: &DomainSpec) -> Result<[DatasetShares; 3]> {
    share_table(&data.x, &data.y, &data.table, domain)
}

/// One party's view of a tensor for combining: shape, ring bits, fraction
/// bits, first share, second share.
type PartyShares<'a> = (&'a [usize], u32, u32, &'a [u8], &'a [u8]);

/// Combines the three parties' shares of one tensor (given in any order)
/// into its values: the parties must be 0, 1 and 2, and each pair of
/// shares two parties both hold must be equal (a corrupted or mixed-up
/// file is an error, not a wrong value).
pub fn open_shares(parts: [&TensorData; 3]) -> Result<ArrayD<f64>> {
    let mut by_party: [Option<PartyShares<'_>>; 3] = [None; 3];
    for t in parts {
        let TensorData::Shares {
            shape,
            ring_bits,
            frac_bits,
            party,
            a,
            b,
        } = t
        else {
            return Err(Error::invalid(
                "shares",
                format!("{} is not a party's replicated shares", t.kind()),
            ));
        };
        let slot = by_party
            .get_mut(usize::from(*party))
            .ok_or(Error::InvalidParty(usize::from(*party)))?;
        if slot.is_some() {
            return Err(Error::invalid(
                "shares",
                format!("two files of party {party}: combining needs parties 0, 1 and 2"),
            ));
        }
        *slot = Some((shape, *ring_bits, *frac_bits, a, b));
    }
    let [Some(p0), Some(p1), Some(p2)] = by_party else {
        return Err(Error::invalid(
            "shares",
            "combining needs parties 0, 1 and 2",
        ));
    };
    let all = [p0, p1, p2];
    for (i, p) in all.iter().enumerate() {
        let next = all[(i + 1) % 3];
        if (p.0, p.1, p.2) != (next.0, next.1, next.2) {
            return Err(Error::invalid(
                "shares",
                format!(
                    "party {i}'s and party {}'s shares differ in shape or format",
                    (i + 1) % 3
                ),
            ));
        }
        if p.4 != next.3 {
            return Err(Error::invalid(
                "shares",
                format!(
                    "party {i}'s second share is not party {}'s first: the files do not \
                     belong together or one is corrupted",
                    (i + 1) % 3
                ),
            ));
        }
    }
    match p0.1 {
        64 => combine::<u64>(p0.0, p0.2, [p0.3, p1.3, p2.3]),
        128 => combine::<u128>(p0.0, p0.2, [p0.3, p1.3, p2.3]),
        bits => Err(Error::invalid(
            "ring_bits",
            format!("{bits} is not 64 or 128"),
        )),
    }
}

fn combine<T: RingElement>(
    shape: &[usize],
    frac_bits: u32,
    parts: [&[u8]; 3],
) -> Result<ArrayD<f64>> {
    let fp = FixedPoint::<T>::new(frac_bits)?;
    let [a, b, c] = parts.map(crate::domain::decode_elements::<T>);
    let (a, b, c) = (a?, b?, c?);
    let values: Vec<f64> = a
        .iter()
        .zip(&b)
        .zip(&c)
        .map(|((x, y), z)| fp.decode(x.wrapping_add(y).wrapping_add(z)))
        .collect();
    ArrayD::from_shape_vec(shape.to_vec(), values).map_err(|e| {
        Error::decode(
            "shares",
            Origin::Bytes,
            DecodeError::BadField {
                field: "shape",
                reason: e.to_string(),
            },
        )
    })
}

/// The table back from the three files (features, targets), checked to be
/// one sharing.
pub fn open_table(files: &[DatasetShares; 3]) -> Result<(Array2<f64>, Array2<f64>)> {
    for f in &files[1..] {
        files[0].check_same(&f.schema, &format!("party {}'s", f.party))?;
    }
    let two = |t: ArrayD<f64>| {
        t.into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| Error::internal("open_table", e.to_string()))
    };
    let x = open_shares([&files[0].x, &files[1].x, &files[2].x])?;
    let y = open_shares([&files[0].y, &files[1].y, &files[2].y])?;
    Ok((two(x)?, two(y)?))
}

/// The union of several datasets of the same schema, one party's shares:
/// the rows of `named[0]`, then of `named[1]`, and so on (each a
/// `(name, file)` pair, the names for messages).
///
/// The schemas must agree in everything but the row count and the dataset
/// id: column names, target, task, class count, declared scaling, ring
/// and fraction bits; a difference is an error naming both datasets and
/// what differs. Concatenating shares is local (replicated shares of the
/// rows of both tables are shares of the stacked table), so this reveals
/// nothing and needs no communication. The union's dataset id is derived
/// from the parts' ids in order (the first 16 bytes of a SHA-256), so
/// the three parties' unions of the same datasets carry the same id and
/// [`DatasetShares::check_same`] still ties them together; the union of
/// one dataset is that dataset.
///
/// ```
/// use privml::dataset_file::{union, DatasetShares};
///
/// let none: &[(String, DatasetShares)] = &[];
/// let e = union(none).unwrap_err();
/// assert!(e.to_string().contains("no dataset"), "{e}");
/// ```
pub fn union(named: &[(String, DatasetShares)]) -> Result<DatasetShares> {
    use sha2::{Digest, Sha256};
    let Some(((first_name, first), rest)) = named.split_first() else {
        return Err(Error::invalid("datasets", "no dataset to train on"));
    };
    if rest.is_empty() {
        return Ok(first.clone());
    }
    let mut hash = Sha256::new();
    hash.update(b"privml dataset union\x00");
    hash.update(first.schema.dataset_id);
    let mut rows = first.schema.rows;
    let (a, b) = share_bytes(&first.x)?;
    let (mut xa, mut xb) = (a.to_vec(), b.to_vec());
    let (a, b) = share_bytes(&first.y)?;
    let (mut ya, mut yb) = (a.to_vec(), b.to_vec());
    for (name, f) in rest {
        if let Some(what) = schema_difference(&first.schema, &f.schema) {
            return Err(Error::invalid(
                "datasets",
                format!(
                    "datasets '{first_name}' and '{name}' have different schemas: {what}; \
                     a union needs the same columns, target, classes, scaling and encoding"
                ),
            ));
        }
        if f.party != first.party {
            return Err(Error::invalid(
                "datasets",
                format!(
                    "dataset '{first_name}' holds party {}'s shares, '{name}' party {}'s",
                    first.party, f.party
                ),
            ));
        }
        hash.update(f.schema.dataset_id);
        rows = rows
            .checked_add(f.schema.rows)
            .ok_or_else(|| Error::invalid("datasets", "too many rows in the union"))?;
        let (a, b) = share_bytes(&f.x)?;
        xa.extend_from_slice(a);
        xb.extend_from_slice(b);
        let (a, b) = share_bytes(&f.y)?;
        ya.extend_from_slice(a);
        yb.extend_from_slice(b);
    }
    let mut dataset_id = [0u8; 16];
    dataset_id.copy_from_slice(&hash.finalize()[..16]);
    let schema = DatasetSchema {
        dataset_id,
        rows,
        ..first.schema.clone()
    };
    let tensor = |cols: usize, a: Vec<u8>, b: Vec<u8>| TensorData::Shares {
        shape: vec![rows, cols],
        ring_bits: schema.ring_bits,
        frac_bits: schema.frac_bits,
        party: first.party,
        a,
        b,
    };
    let out = DatasetShares {
        x: tensor(schema.table.features.len(), xa, xb),
        y: tensor(schema.target_columns(), ya, yb),
        party: first.party,
        schema,
    };
    out.validate().map_err(|(field, reason)| {
        Error::internal("dataset union", format!("{field}: {reason}"))
    })?;
    Ok(out)
}

/// A file's two share vectors.
fn share_bytes(t: &TensorData) -> Result<(&[u8], &[u8])> {
    match t {
        TensorData::Shares { a, b, .. } => Ok((a.as_slice(), b.as_slice())),
        other => Err(Error::invalid(
            "dataset",
            format!("holds {}, not shares", other.kind()),
        )),
    }
}

/// What differs between two schemas, besides the rows and the id.
fn schema_difference(a: &DatasetSchema, b: &DatasetSchema) -> Option<String> {
    let (ta, tb) = (&a.table, &b.table);
    if ta.features != tb.features {
        let first = ta
            .features
            .iter()
            .zip(&tb.features)
            .position(|(x, y)| x != y)
            .unwrap_or(ta.features.len().min(tb.features.len()));
        return Some(format!(
            "feature columns differ ({} and {} columns; first difference at column {}: {} vs {})",
            ta.features.len(),
            tb.features.len(),
            first + 1,
            ta.features.get(first).map_or("none", |s| s.as_str()),
            tb.features.get(first).map_or("none", |s| s.as_str()),
        ));
    }
    if ta.target != tb.target {
        return Some(format!("target '{}' vs '{}'", ta.target, tb.target));
    }
    if ta.task != tb.task {
        return Some(format!("task {} vs {}", ta.task, tb.task));
    }
    if ta.n_classes != tb.n_classes {
        return Some(format!("{} classes vs {}", ta.n_classes, tb.n_classes));
    }
    if ta.normalizer != tb.normalizer || ta.target_normalizer != tb.target_normalizer {
        return Some("the declared feature ranges (scaling) differ".to_string());
    }
    if (a.ring_bits, a.frac_bits) != (b.ring_bits, b.frac_bits) {
        return Some(format!(
            "encoding Z_2^{} with {} fraction bits vs Z_2^{} with {}",
            a.ring_bits, a.frac_bits, b.ring_bits, b.frac_bits
        ));
    }
    if ta != tb {
        return Some("the table descriptions differ".to_string());
    }
    None
}

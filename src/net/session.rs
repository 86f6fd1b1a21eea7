//! The job description parties compare when they connect, in its canonical
//! text form: one `field=value` line per field, in a fixed order.
//!
//! The transport carries the description as an opaque string (see
//! [`ConnectOptions::session`](crate::net::tcp::ConnectOptions::session)) and
//! only needs to know whether two descriptions are equal; when they are
//! not, this form lets it name the first field that differs
//! ([`Error::SessionMismatch`]) instead of printing two long strings. The
//! typed description of a job, and what goes into it, is
//! [`crate::session::SessionDescription`]; this module knows nothing of jobs.
//!
//! # Examples
//!
//! ```
//! use privml::net::session::SessionText;
//!
//! let ours = SessionText::new().with("job", "train").with("epochs", 5);
//! let theirs = SessionText::new().with("job", "train").with("epochs", 6);
//! assert_eq!(ours.to_string(), "job=train\nepochs=5");
//! let diff = ours.first_difference(&theirs).unwrap();
//! assert_eq!((diff.field.as_str(), diff.ours.as_str(), diff.theirs.as_str()), ("epochs", "5", "6"));
//! assert_eq!(SessionText::parse(&ours.to_string()), ours);
//! ```

use std::fmt;

use crate::error::Error;
use crate::party_id::PartyId;

/// What a field's value reads as when one side does not have the field.
const ABSENT: &str = "(absent)";

/// A job description as ordered `field=value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionText {
    fields: Vec<(String, String)>,
}

/// The first field in which two descriptions differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDifference {
    /// The field's name.
    pub field: String,
    /// This side's value (`(absent)` if it has no such field).
    pub ours: String,
    /// The other side's value (`(absent)` if it has no such field).
    pub theirs: String,
}

impl SessionText {
    /// An empty description.
    pub fn new() -> Self {
        SessionText::default()
    }

    /// Appends `field=value`. Line breaks in either are escaped (`\n`), so
    /// every field stays on its own line; an `=` in a field name is replaced
    /// by `_` (the first `=` of a line ends the name).
    pub fn with(mut self, field: &str, value: impl fmt::Display) -> Self {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('\n', "\\n");
        self.fields
            .push((escape(field).replace('=', "_"), escape(&value.to_string())));
        self
    }

    /// Reads the text form back. A line without `=` (a description written
    /// by hand) becomes a field named after its position, `line N`.
    pub fn parse(text: &str) -> Self {
        let fields = text
            .split('\n')
            .enumerate()
            .map(|(i, line)| match line.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (format!("line {}", i + 1), line.to_string()),
            })
            .collect();
        SessionText { fields }
    }

    /// The fields in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn value(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }

    /// The first field (in this description's order, then the other's) whose
    /// values differ, or that only one side has; `None` if the two agree
    /// field by field.
    pub fn first_difference(&self, theirs: &SessionText) -> Option<FieldDifference> {
        let differ = |field: &str, ours: Option<&str>, theirs: Option<&str>| {
            (ours != theirs).then(|| FieldDifference {
                field: field.to_string(),
                ours: ours.unwrap_or(ABSENT).to_string(),
                theirs: theirs.unwrap_or(ABSENT).to_string(),
            })
        };
        self.fields
            .iter()
            .find_map(|(k, v)| differ(k, Some(v), theirs.value(k)))
            .or_else(|| {
                theirs
                    .fields
                    .iter()
                    .find_map(|(k, v)| differ(k, self.value(k), Some(v)))
            })
    }
}

impl fmt::Display for SessionText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// The error for party `party`, whose description `theirs` is not `ours`:
/// [`Error::SessionMismatch`] naming the first field that differs. (Two
/// texts that differ only in the order or repetition of their fields are
/// reported as the whole description.)
pub fn mismatch(party: PartyId, ours: &str, theirs: &str) -> Error {
    let diff = SessionText::parse(ours)
        .first_difference(&SessionText::parse(theirs))
        .unwrap_or_else(|| FieldDifference {
            field: "description".to_string(),
            ours: ours.replace('\n', "; "),
            theirs: theirs.replace('\n', "; "),
        });
    Error::SessionMismatch {
        party,
        field: diff.field,
        ours: diff.ours,
        theirs: diff.theirs,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_differing_field_in_either_direction() {
        let a = SessionText::new().with("job", "train").with("lr", 0.2);
        let b = SessionText::new()
            .with("job", "train")
            .with("lr", 0.2)
            .with("run", 2);
        assert_eq!(a.first_difference(&a), None);
        let d = a.first_difference(&b).unwrap();
        assert_eq!((d.field.as_str(), d.ours.as_str()), ("run", ABSENT));
        let d = b.first_difference(&a).unwrap();
        assert_eq!((d.field.as_str(), d.theirs.as_str()), ("run", ABSENT));
    }

    #[test]
    fn values_with_line_breaks_and_equals_round_trip() {
        let t = SessionText::new().with("name", "a=b\nc").with("x=y", "1");
        assert_eq!(t.to_string().lines().count(), 2);
        assert_eq!(SessionText::parse(&t.to_string()), t);
        assert_eq!(t.fields().nth(1), Some(("x_y", "1")));
    }

    #[test]
    fn mismatch_is_typed_and_handles_free_text() {
        match mismatch(2, "demo A", "demo B") {
            Error::SessionMismatch {
                party,
                field,
                ours,
                theirs,
            } => {
                assert_eq!(party, 2);
                assert_eq!(field, "line 1");
                assert_eq!((ours.as_str(), theirs.as_str()), ("demo A", "demo B"));
            }
            other => panic!("{other:?}"),
        }
        // Same fields in another order: not a field difference, still an error.
        let e = mismatch(1, "a=1\nb=2", "b=2\na=1").to_string();
        assert!(e.contains("description"), "{e}");
    }
}

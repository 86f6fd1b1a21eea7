//! The public description of a job that the parties compare before they
//! compute together.
//!
//! Three parties started separately must run the same program: the same
//! job, domain, ring and fixed-point format, the same model and
//! hyperparameters, the same data preparation. Each party builds one
//! [`SessionDescription`] from its own command line (and, for prediction,
//! its own model file), and the transport compares the descriptions when
//! the parties connect; a difference stops them at once with
//! [`Error::SessionMismatch`] naming the first
//! field that differs, instead of a protocol that fails later or computes
//! garbage. What is private to one party (the data owner's file, each
//! party's output path) is not part of it.
//!
//! The description is serialised canonically as `field=value` lines in a
//! fixed order ([`SessionText`], which the transport compares without knowing
//! any job).
//!
//! # Examples
//!
//! ```
//! use privml::learn::TrainSettings;
//! use privml::runner::DomainSpec;
//! use privml::session::{JobDescription, SessionDescription};
//! use privml::Error;
//!
//! let ours = SessionDescription {
//!     job: JobDescription::Train(TrainSettings::default()),
//!     domain: DomainSpec::default(),
//! };
//! let mut settings = TrainSettings::default();
//! settings.sgd.epochs = 9;
//! let theirs = SessionDescription { job: JobDescription::Train(settings), ..ours.clone() };
//! assert!(ours.to_text().to_string().starts_with("job=train\ndomain=shared\nring=64\nfrac_bits=16\n"));
//! match ours.check(2, &theirs) {
//!     Err(Error::SessionMismatch { party: 2, field, ours, theirs }) => {
//!         assert_eq!((field.as_str(), ours.as_str(), theirs.as_str()), ("epochs", "5", "9"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::domain::PartyId;
use crate::error::{Error, Result};
use crate::learn::TrainSettings;
use crate::model_file::Architecture;
pub use crate::net::session::{FieldDifference, SessionText};
use crate::runner::DomainSpec;

/// What every party must agree on before a job starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDescription {
    /// The job and its public settings.
    pub job: JobDescription,
    /// The domain, ring and fraction bits.
    pub domain: DomainSpec,
}

/// A job and its public settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobDescription {
    /// One of the demos of the source documents.
    Demo {
        /// Its name (`tutorial`, `boolean`, ...).
        demo: String,
        /// The number of iterations, when not the demo's own.
        iterations: Option<usize>,
    },
    /// Training on the data owner's table.
    Train(TrainSettings),
    /// Prediction with a saved model on the data owner's rows.
    Predict {
        /// Who provides the rows and receives the predictions.
        data_owner: PartyId,
        /// The id shared by the three files of the model.
        model_id: [u8; 16],
        /// The model's layers.
        architecture: Architecture,
    },
    /// Timed runs of one of `privml bench`'s workloads (synthetic inputs,
    /// nothing private), to measure the parties as deployed.
    Bench {
        /// The workload's name (`W1`, `W6`, `NC-SGD`, ...).
        workload: String,
        /// The number of timed runs.
        runs: usize,
        /// W4's iterations (part of the workload's definition).
        w4_iterations: usize,
    },
    /// Import of an ONNX model, secret-shared by its owner (the layers are
    /// announced by the owner in the run: the others do not know them yet).
    Import {
        /// Who holds the model and shares its weights.
        model_owner: PartyId,
    },
    /// Export of a saved model: its weights opened to its owner only.
    Export {
        /// Who receives the weights.
        model_owner: PartyId,
        /// The id shared by the three files of the model.
        model_id: [u8; 16],
        /// The model's layers.
        architecture: Architecture,
    },
}

impl JobDescription {
    /// The job's name.
    pub fn name(&self) -> &'static str {
        match self {
            JobDescription::Demo { .. } => "demo",
            JobDescription::Train(_) => "train",
            JobDescription::Predict { .. } => "predict",
            JobDescription::Bench { .. } => "bench",
            JobDescription::Import { .. } => "import",
            JobDescription::Export { .. } => "export",
        }
    }
}

/// A model id as the description writes it.
fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl SessionDescription {
    /// The canonical text form: `job`, `domain`, `ring`, `frac_bits` (in
    /// effect, so a default and the same number given explicitly agree),
    /// `protocol`, then the job's own fields.
    pub fn to_text(&self) -> SessionText {
        let t = SessionText::new()
            .with("job", self.job.name())
            .with("domain", self.domain.domain)
            .with("ring", self.domain.ring)
            .with("frac_bits", self.domain.frac_bits())
            .with("protocol", self.domain.protocol);
        match &self.job {
            JobDescription::Demo { demo, iterations } => t.with("demo", demo).with(
                "iterations",
                iterations.map_or("default".to_string(), |n| n.to_string()),
            ),
            JobDescription::Train(s) => t
                .with("model", &s.model)
                .with("epochs", s.sgd.epochs)
                .with("batch", s.sgd.batch)
                .with("lr", s.sgd.lr)
                .with("loss", s.loss)
                .with("optimizer", s.optimizer)
                .with(
                    "task",
                    s.task.map_or("detect".to_string(), |t| t.to_string()),
                )
                .with("test_fraction", s.data.test_fraction)
                .with(
                    "max_rows",
                    s.data.max_rows.map_or("all".to_string(), |n| n.to_string()),
                )
                .with(
                    "scaling",
                    s.data.scaling.map_or("none".to_string(), |s| s.to_string()),
                )
                .with("disclose_feature_stats", s.data.disclose_feature_stats)
                .with("seed", s.seed)
                .with("data_owner", s.data_owner)
                .with("reveal_model", s.reveal_model),
            JobDescription::Predict {
                data_owner,
                model_id,
                architecture,
            } => t
                .with("data_owner", data_owner)
                .with("model_id", hex(model_id))
                .with("architecture", architecture),
            JobDescription::Import { model_owner } => t.with("model_owner", model_owner),
            JobDescription::Export {
                model_owner,
                model_id,
                architecture,
            } => t
                .with("model_owner", model_owner)
                .with("model_id", hex(model_id))
                .with("architecture", architecture),
            JobDescription::Bench {
                workload,
                runs,
                w4_iterations,
            } => t
                .with("workload", workload)
                .with("runs", runs)
                .with("w4_iterations", w4_iterations),
        }
    }

    /// The first field in which `theirs` differs from this description.
    pub fn first_difference(&self, theirs: &SessionDescription) -> Option<FieldDifference> {
        self.to_text().first_difference(&theirs.to_text())
    }

    /// Fails with [`Error::SessionMismatch`] naming party `party` and the
    /// first field that differs, if `theirs` is not this description.
    pub fn check(&self, party: PartyId, theirs: &SessionDescription) -> Result<()> {
        match self.first_difference(theirs) {
            None => Ok(()),
            Some(d) => Err(Error::SessionMismatch {
                party,
                field: d.field,
                ours: d.ours,
                theirs: d.theirs,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use super::*;
    use crate::data::Scaling;
    use crate::runner::{Domain, RingSize};

    fn train(f: impl FnOnce(&mut TrainSettings)) -> SessionDescription {
        let mut s = TrainSettings::default();
        f(&mut s);
        SessionDescription {
            job: JobDescription::Train(s),
            domain: DomainSpec::default(),
        }
    }

    #[test]
    fn every_train_setting_is_compared_by_name() {
        let base = train(|_| {});
        let cases: Vec<(&str, SessionDescription)> = vec![
            ("model", train(|s| s.model = "mlp:8".parse().unwrap())),
            ("epochs", train(|s| s.sgd.epochs += 1)),
            ("batch", train(|s| s.sgd.batch += 1)),
            ("lr", train(|s| s.sgd.lr *= 2.0)),
            ("loss", train(|s| s.loss = crate::nn::Loss::CrossEntropy)),
            (
                "optimizer",
                train(|s| s.optimizer = crate::learn::OptimizerKind::Adam),
            ),
            (
                "task",
                train(|s| s.task = Some(crate::learn::Task::Regression)),
            ),
            ("test_fraction", train(|s| s.data.test_fraction = 0.3)),
            ("max_rows", train(|s| s.data.max_rows = Some(100))),
            ("scaling", train(|s| s.data.scaling = Some(Scaling::ZScore))),
            (
                "disclose_feature_stats",
                train(|s| s.data.disclose_feature_stats = true),
            ),
            ("seed", train(|s| s.seed += 1)),
            ("data_owner", train(|s| s.data_owner = 2)),
            ("reveal_model", train(|s| s.reveal_model = true)),
        ];
        for (field, other) in cases {
            let d = base.first_difference(&other).unwrap();
            assert_eq!(d.field, field);
            assert_ne!(d.ours, d.theirs);
        }
        assert_eq!(base.first_difference(&train(|_| {})), None);
    }

    #[test]
    fn the_domain_fields_come_first_and_default_frac_bits_resolve() {
        let base = train(|_| {});
        let mut other = train(|s| s.sgd.epochs = 1);
        other.domain.ring = RingSize::Z128;
        assert_eq!(base.first_difference(&other).unwrap().field, "ring");
        other.domain = DomainSpec {
            frac_bits: Some(16),
            ..DomainSpec::default()
        };
        assert_eq!(base.first_difference(&other).unwrap().field, "epochs");
        other.domain.domain = Domain::Fixed;
        assert_eq!(base.first_difference(&other).unwrap().field, "domain");
    }

    #[test]
    fn import_and_export_compare_the_owner_and_the_model() {
        let import = |owner| SessionDescription {
            job: JobDescription::Import { model_owner: owner },
            domain: DomainSpec::default(),
        };
        assert_eq!(import(0).first_difference(&import(0)), None);
        let d = import(0).first_difference(&import(2)).unwrap();
        assert_eq!((d.field.as_str(), d.ours.as_str()), ("model_owner", "0"));
        let export = |owner, id: u8, arch: &str| SessionDescription {
            job: JobDescription::Export {
                model_owner: owner,
                model_id: [id; 16],
                architecture: Architecture::Mlp(arch.parse().unwrap()),
            },
            domain: DomainSpec::default(),
        };
        let base = export(0, 1, "4-2");
        assert_eq!(base.first_difference(&export(0, 1, "4-2")), None);
        for (other, field) in [
            (export(1, 1, "4-2"), "model_owner"),
            (export(0, 2, "4-2"), "model_id"),
            (export(0, 1, "4-3"), "architecture"),
            (import(0), "job"),
        ] {
            assert_eq!(base.first_difference(&other).unwrap().field, field);
        }
    }

    #[test]
    fn different_jobs_differ_in_the_job_field() {
        let demo = SessionDescription {
            job: JobDescription::Demo {
                demo: "tutorial".into(),
                iterations: None,
            },
            domain: DomainSpec::default(),
        };
        let e = demo.check(0, &train(|_| {})).unwrap_err();
        assert!(
            matches!(&e, Error::SessionMismatch { field, ours, theirs, .. }
                if field == "job" && ours == "demo" && theirs == "train"),
            "{e}"
        );
        let text = demo.to_text().to_string();
        assert_eq!(SessionText::parse(&text), demo.to_text());
    }
}

//! [`ImportJob`]: the model owner secret-shares an imported model and every
//! party saves its own share file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ImportedModel;
use crate::domain::PartyId;
use crate::domain::{Ring, Session};
use crate::error::{Error, Result};
use crate::learn::{Task, decode, encode, file_for, joint_model_id};
use crate::model_file::{Architecture, ModelMeta, SavedModel, TableMeta, domain_of};
use crate::nn::{Network, NetworkSpec};
use crate::runner::Job;

/// What the model owner announces: the public description.
#[derive(Serialize, Deserialize)]
struct Announcement {
    spec: NetworkSpec,
    input_name: String,
    output_name: String,
}

/// Shares an imported model from its owner ([`ImportJob::owner`], party 0 by
/// default, the only party that passes it) and writes
/// `{prefix}.party{N}.shares` on every party
/// (`{prefix}.clear` in the plaintext domains), exactly as
/// [`TrainJob`](crate::learn::TrainJob) saves a trained model. The other
/// parties learn the architecture and nothing of the weights (see the
/// [module documentation](super)).
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::nn::NetworkSpec;
/// use privml::onnx::{ImportJob, ImportedModel};
/// use privml::model_file::SavedModel;
/// use privml::runner::{DomainKind, run_local};
/// use privml::SharedConfig;
///
/// let model = ImportedModel {
///     spec: NetworkSpec::parse("dense:1", "2")?,
///     parameters: vec![array![[0.5], [-1.0]].into_dyn(), array![[0.25]].into_dyn()],
///     input_name: "x".into(),
///     output_name: "y".into(),
///     opset: 17,
///     notes: vec![],
/// };
/// let dir = tempfile::tempdir().unwrap();
/// let job = ImportJob { model: Some(&model), out_prefix: dir.path().join("m"), owner: 0 };
/// run_local(DomainKind::Shared64, &SharedConfig::default(), &job)?;
/// let saved = SavedModel::load(SavedModel::party_path(dir.path().join("m"), 2))?;
/// assert_eq!(saved.meta.architecture.to_string(), "2: dense:1");
/// # Ok::<(), privml::Error>(())
/// ```
pub struct ImportJob<'a> {
    /// The model, on the model owner and in process; `None` on the other
    /// parties.
    pub model: Option<&'a ImportedModel>,
    /// Where every party writes its file.
    pub out_prefix: PathBuf,
    /// The model owner: the party that holds the model in the clear and
    /// shares it ([`MODEL_OWNER`](crate::nn::MODEL_OWNER), party 0, unless the parties agree on
    /// another).
    pub owner: PartyId,
}

/// What an import returns on each party.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The saved model's description (batch normalisations folded).
    pub spec: NetworkSpec,
    /// This party's file.
    pub saved_to: PathBuf,
}

impl Job for ImportJob<'_> {
    type Output = ImportOutcome;

    fn output_party(&self) -> usize {
        self.owner
    }

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<ImportOutcome> {
        let owner = self.owner;
        let mine = if r.owns(owner) {
            let m = self.model.ok_or(Error::MissingValue {
                party: owner,
                what: "imported model",
            })?;
            Some(encode(
                "model description",
                &Announcement {
                    spec: m.spec.clone(),
                    input_name: m.input_name.clone(),
                    output_name: m.output_name.clone(),
                },
            )?)
        } else {
            None
        };
        let a: Announcement = decode(
            "model description",
            owner,
            &r.announce(owner, mine.as_deref())?,
        )?;
        // Only the owner's own values are used: a model passed on another
        // party is ignored, never shared.
        let values = if r.owns(owner) {
            self.model.map(|m| m.parameters.as_slice())
        } else {
            None
        };
        r.set_label("import");
        let net = Network::with_parameters_from(r, &a.spec, values, owner)?;
        let spec = net.spec().clone();
        let outputs = spec.output_shape()?.iter().product();
        let model_id = joint_model_id(r)?;
        let tensors = net.export(r);
        let (domain, frac_bits) = domain_of(&tensors)?;
        let model = SavedModel {
            meta: ModelMeta {
                architecture: Architecture::Network(spec.clone()),
                table: TableMeta {
                    target: a.output_name,
                    features: vec![a.input_name],
                    n_classes: outputs,
                    normalizer: None,
                    // The graph does not say; the scores are reported
                    // either way, and a class is their argmax.
                    task: Task::Classification,
                    target_normalizer: None,
                },
                domain,
                frac_bits,
            },
            model_id,
            tensors,
            optimizer: None,
        };
        let saved_to = file_for(r, &self.out_prefix);
        model.save(&saved_to)?;
        Ok(ImportOutcome { spec, saved_to })
    }
}

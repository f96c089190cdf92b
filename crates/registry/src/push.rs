//! `push`: an image of the store to a registry, as docker pushes it: each
//! layer's archive unless the repository has it ("Layer already exists")
//! or can mount it from another repository of the registry the image
//! also has a name in ("Mounted from ..."), then the config, then the
//! manifest under the tag.

use futures::{StreamExt, TryStreamExt};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use tinydocker_fs::{Blob, ImageStore};

use crate::export::Exported;
use crate::{
    distribution_reference, familiar_repository, registry_error, runtime, short, PullError,
};

/// docker's default number of layers sent at once.
pub const DEFAULT_CONCURRENT_UPLOADS: usize = 5;

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub max_concurrent_uploads: usize,
    /// As [`crate::PullOptions::transport`].
    pub transport: crate::Transport,
    /// As [`crate::PullOptions::credentials`].
    pub credentials: crate::Credentials,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            max_concurrent_uploads: DEFAULT_CONCURRENT_UPLOADS,
            transport: crate::Transport::default(),
            credentials: crate::Credentials::default(),
        }
    }
}

/// One line of docker's push progress, for one layer (by its short diff
/// id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushProgress {
    Preparing,
    /// The repository has it.
    AlreadyExists,
    /// Mounted from this repository of the same registry.
    Mounted(String),
    Pushed,
}

/// What was pushed.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The tag pushed.
    pub tag: String,
    /// The manifest's digest and size.
    pub digest: String,
    pub size: usize,
}

/// Push the image `name` (`NAME[:TAG]`, as the store names it) to the
/// registry and repository of that name.
pub fn push(
    store: &ImageStore,
    name: &str,
    options: &PushOptions,
    progress: &(dyn Fn(&str, PushProgress) + Sync),
) -> Result<Pushed, PullError> {
    let reference = distribution_reference(name)?;
    if reference.digest().is_some() {
        return Err(PullError::Reference(format!(
            "invalid reference format: {name}: a push names a tag, not a digest"
        )));
    }
    let image = store.resolve(name).map_err(|_| {
        PullError::Registry(format!(
            "An image does not exist locally with the tag: {}",
            familiar_repository(&reference)
        ))
    })?;
    // Layers kept uncompressed (an import's) go gzip-compressed, as
    // docker pushes them; the store keeps that archive from then on.
    let image = store.compress_layers(&image.id)?;
    let exported = Exported::of(store, &image).map_err(PullError::Registry)?;
    // Other repositories of this registry the image has a name in: a
    // layer can be mounted from them rather than sent.
    let registry = reference.resolve_registry().to_string();
    let sources: Vec<Reference> = store
        .list()?
        .into_iter()
        .filter(|i| i.id == image.id)
        .flat_map(|i| i.names)
        .filter_map(|n| distribution_reference(&n).ok())
        .filter(|r| r.resolve_registry() == registry && r.repository() != reference.repository())
        .collect();
    runtime()?.block_on(push_async(
        store, &reference, &exported, &sources, options, progress,
    ))
}

async fn push_async(
    store: &ImageStore,
    reference: &Reference,
    exported: &Exported,
    sources: &[Reference],
    options: &PushOptions,
    progress: &(dyn Fn(&str, PushProgress) + Sync),
) -> Result<Pushed, PullError> {
    let registry = reference.resolve_registry().to_string();
    let (client, auth) = crate::connect(
        &registry,
        &options.transport,
        &options.credentials,
        options.max_concurrent_uploads,
    )
    .await;
    for op in [RegistryOperation::Push, RegistryOperation::Pull] {
        client
            .auth(reference, &auth, op)
            .await
            .map_err(|e| push_error(reference, e))?;
    }
    let work: Vec<(&Blob, &String)> = exported.layers.iter().zip(&exported.diff_ids).collect();
    for (_, diff_id) in &work {
        progress(short(diff_id), PushProgress::Preparing);
    }
    futures::stream::iter(&work)
        .map(|(blob, diff_id)| async {
            let done = push_blob(&client, &auth, reference, store, &blob.digest, sources).await?;
            progress(short(diff_id), done);
            Ok::<(), PullError>(())
        })
        .buffer_unordered(options.max_concurrent_uploads.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    if !blob_exists(&client, reference, &exported.config_digest).await {
        client
            .push_blob(reference, &exported.config, &exported.config_digest)
            .await
            .map_err(|e| push_error(reference, e))?;
    }
    let (manifest, media_type) = exported.manifest();
    let digest = format!(
        "sha256:{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(&manifest)
    );
    let size = manifest.len();
    client
        .push_manifest_raw(
            reference,
            manifest,
            media_type.parse().expect("a media type is a header value"),
        )
        .await
        .map_err(|e| push_error(reference, e))?;
    Ok(Pushed {
        tag: reference.tag().unwrap_or("latest").to_string(),
        digest,
        size,
    })
}

/// Send one blob unless the repository has it or can mount it.
async fn push_blob(
    client: &Client,
    auth: &RegistryAuth,
    reference: &Reference,
    store: &ImageStore,
    digest: &str,
    sources: &[Reference],
) -> Result<PushProgress, PullError> {
    if blob_exists(client, reference, digest).await {
        return Ok(PushProgress::AlreadyExists);
    }
    for source in sources {
        // A registry that can't mount it (the source lacks it, or the
        // token does not cover the source) starts an upload instead:
        // that is not an error, the blob is then sent.
        let _ = client.auth(source, auth, RegistryOperation::Pull).await;
        if client.mount_blob(reference, source, digest).await.is_ok()
            && blob_exists(client, reference, digest).await
        {
            return Ok(PushProgress::Mounted(source.repository().to_string()));
        }
    }
    let path = store.blob_path(digest);
    let data = tokio::fs::read(&path)
        .await
        .map_err(|e| PullError::Registry(format!("{}: {e}", path.display())))?;
    client
        .push_blob(reference, &data, digest)
        .await
        .map_err(|e| push_error(reference, e))?;
    Ok(PushProgress::Pushed)
}

/// Whether the repository has the blob: a one-byte ranged read of it (the
/// client has no HEAD request).
async fn blob_exists(client: &Client, reference: &Reference, digest: &str) -> bool {
    let descriptor = OciDescriptor {
        digest: digest.to_string(),
        ..Default::default()
    };
    client
        .pull_blob_stream_partial(reference, &descriptor, 0, Some(1))
        .await
        .is_ok()
}

/// A registry's refusal as docker shows it on a push: the registry's own
/// words (`unauthorized: authentication required`, `denied: ...`).
fn push_error(reference: &Reference, e: oci_client::errors::OciDistributionError) -> PullError {
    use oci_client::errors::OciDistributionError as E;
    match e {
        E::RegistryError { envelope, .. } if !envelope.errors.is_empty() => {
            let first = &envelope.errors[0];
            let code = serde_json::to_value(&first.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_lowercase))
                .unwrap_or_else(|| "error".into());
            PullError::Registry(format!("{code}: {}", first.message))
        }
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => {
            PullError::Registry("unauthorized: authentication required".into())
        }
        other => registry_error(reference, other),
    }
}

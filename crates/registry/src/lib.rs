//! Images from registries: `pull` over the distribution API v2 (OCI image
//! manifests and indexes, docker schema 2 manifests and manifest lists)
//! into tinydocker's image store, each layer streamed from the registry
//! through its digest check and the layer unpacker
//! ([`tinydocker_fs::layer`]) straight into the store: nothing is held in
//! memory, and a layer is in place only once its blob digest and its diff
//! id both matched.
//!
//! The HTTP side is `oci-client` (its token flow, its streaming blob
//! pulls) on a tokio runtime made for the call; the unpacking runs on
//! tokio's blocking threads, fed through a synchronous bridge.

pub mod archive;
pub mod export;
pub mod login;
pub mod platform;
pub mod push;
pub mod transport;

use std::io::{self, Read, Write};

use futures::{StreamExt, TryStreamExt};
use oci_client::config::ConfigFile;
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use tinydocker_fs::{Blob, BlobWriter, Image, ImageConfig, ImageStore, NewImage};

pub use platform::Platform;
pub use transport::Transport;

/// docker's default number of layers fetched at once.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 3;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// From an index, the entry for this platform.
    pub platform: Platform,
    /// `--platform` was given: a single-platform image of another one is
    /// refused, as docker refuses it (without it, it is pulled).
    pub platform_required: bool,
    pub max_concurrent_downloads: usize,
    /// Insecure registries and docker's `certs.d`.
    pub transport: Transport,
    /// Whose credentials the registry is shown.
    pub credentials: Credentials,
}

/// Whose credentials a pull or push presents to the registry.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Those of docker's client config (`config.json`, its `auths`,
    /// `credHelpers` and `credsStore`) for the registry: this file, or
    /// (`None`) `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
    /// as docker's client reads it. Anonymous when it has none.
    Config(Option<std::path::PathBuf>),
    /// These: what a docker client sent a daemon (`X-Registry-Auth`).
    Basic { username: String, password: String },
    /// None.
    Anonymous,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::Config(None)
    }
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            platform_required: false,
            max_concurrent_downloads: DEFAULT_CONCURRENT_DOWNLOADS,
            transport: Transport::default(),
            credentials: Credentials::default(),
        }
    }
}

/// One line of docker's pull progress, for one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The layer is not in the store: it will be fetched.
    PullingFsLayer,
    /// The store has it.
    AlreadyExists,
    Downloading {
        done: u64,
        total: u64,
    },
    VerifyingChecksum,
    DownloadComplete,
    /// The last of the unpacking (a layer is unpacked as it downloads).
    Extracting,
    PullComplete,
}

/// What was pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: Image,
    /// The manifest's digest, for `Digest:` and `NAME@DIGEST`.
    pub digest: String,
    /// The name the image got in the store (`NAME:TAG` as docker shows it).
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// docker's "invalid reference format: ..." line.
    #[error("{0}")]
    Reference(String),
    #[error("{0}")]
    Registry(String),
    #[error("{0}")]
    Platform(String),
    #[error("layer {layer}: {what}")]
    Layer { layer: String, what: String },
    #[error(transparent)]
    Store(#[from] tinydocker_fs::Error),
}

/// The media types a manifest request accepts: without them distribution
/// 2.8 answers 404 to an OCI manifest.
const ACCEPT: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Pull `reference` into `store`; `progress` hears about each layer by
/// its short id.
pub fn pull(
    store: &ImageStore,
    reference: &str,
    options: &PullOptions,
    progress: &(dyn Fn(&str, Progress) + Sync),
) -> Result<Pulled, PullError> {
    let reference = distribution_reference(reference)?;
    runtime()?.block_on(pull_async(store, &reference, options, progress))
}

/// Every tag of the repository `reference` names (`pull -a`), sorted.
pub fn tags(reference: &str, options: &PullOptions) -> Result<Vec<String>, PullError> {
    let reference = distribution_reference(reference)?;
    runtime()?.block_on(async {
        let registry = reference.resolve_registry().to_string();
        let (client, auth) = connect(&registry, &options.transport, &options.credentials, 1).await;
        client
            .auth(&reference, &auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|e| registry_error(&reference, e))?;
        let mut tags = client
            .list_tags(&reference, &auth, None, None)
            .await
            .map_err(|e| registry_error(&reference, e))?
            .tags;
        tags.sort();
        Ok(tags)
    })
}

/// `reference` by docker's grammar (tinydocker's own parser: the
/// distribution crate's compiles a regular expression on first use, 35 ms
/// of every pull), split as docker splits it: a first component with a
/// '.' or a ':' (or `localhost`) is the registry, else docker.io, where a
/// one-word name is under `library/`.
fn distribution_reference(text: &str) -> Result<Reference, PullError> {
    let parsed: tinydocker_fs::Reference = text
        .parse()
        .map_err(|e: tinydocker_fs::ReferenceError| PullError::Reference(e.to_string()))?;
    let (registry, repository) = match parsed.name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), parsed.name.clone()),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    Ok(match (parsed.tag.as_str(), parsed.digest) {
        ("", Some(digest)) => Reference::with_digest(registry, repository, digest),
        (tag, Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag.to_string(), digest)
        }
        (tag, None) => Reference::with_tag(registry, repository, tag.to_string()),
    })
}

/// A client for `registry` and the credentials docker's config has for it.
async fn connect(
    registry: &str,
    transport: &Transport,
    credentials: &Credentials,
    concurrency: usize,
) -> (Client, RegistryAuth) {
    let auth = match credentials {
        Credentials::Config(path) => from_config(registry, path.as_deref()),
        Credentials::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
        Credentials::Anonymous => RegistryAuth::Anonymous,
    };
    (transport.client(registry, concurrency).await, auth)
}

/// A tokio runtime for one call of the crate's blocking API.
fn runtime() -> Result<tokio::runtime::Runtime, PullError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| PullError::Registry(format!("start the runtime: {e}")))
}

/// The server key docker's config uses for a registry.
fn config_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        other => other,
    }
}

/// The credentials docker's config has for `registry` (through its
/// helpers too); anonymous without any. An identity token (an OAuth
/// refresh token) is not used: the pull goes anonymous.
fn from_config(registry: &str, config: Option<&std::path::Path>) -> RegistryAuth {
    use docker_credential::DockerCredential;
    let key = config_key(registry);
    let found = match config {
        Some(path) => std::fs::File::open(path)
            .map_err(|_| docker_credential::CredentialRetrievalError::ConfigNotFound)
            .and_then(|f| docker_credential::get_credential_from_reader(f, key)),
        None => docker_credential::get_credential(key),
    };
    match found {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        _ => RegistryAuth::Anonymous,
    }
}

fn registry_error(reference: &Reference, e: oci_client::errors::OciDistributionError) -> PullError {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    match e {
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&C> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, C::NameUnknown | C::Unauthorized | C::Denied))
            {
                PullError::Registry(format!(
                    "pull access denied for {}, repository does not exist or may require 'docker login'",
                    familiar_repository(reference)
                ))
            } else if codes.iter().any(|c| matches!(c, C::ManifestUnknown)) {
                PullError::Registry(format!(
                    "manifest for {} not found: manifest unknown",
                    familiar(reference)
                ))
            } else {
                let text: Vec<String> = envelope.errors.iter().map(|e| e.to_string()).collect();
                PullError::Registry(format!(
                    "{}: {}",
                    reference.resolve_registry(),
                    text.join("; ")
                ))
            }
        }
        E::ImageManifestNotFoundError(_)
        | E::AuthenticationFailure(_)
        | E::UnauthorizedError { .. } => PullError::Registry(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login'",
            familiar_repository(reference)
        )),
        E::ServerError { code: 404, .. } => PullError::Registry(format!(
            "manifest for {} not found: manifest unknown",
            familiar(reference)
        )),
        other => PullError::Registry(format!(
            "{}: {}",
            reference.resolve_registry(),
            with_causes(&other)
        )),
    }
}

/// An error and its causes on one line (a TLS failure is a cause of a
/// cause of "error sending request").
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The whole reference as docker shows it: `busybox:latest`.
fn familiar(reference: &Reference) -> String {
    match (reference.tag(), reference.digest()) {
        (_, Some(digest)) => format!("{}@{digest}", familiar_repository(reference)),
        (tag, None) => format!(
            "{}:{}",
            familiar_repository(reference),
            tag.unwrap_or("latest")
        ),
    }
}

/// The repository as docker shows it: `busybox` for
/// `docker.io/library/busybox`.
fn familiar_repository(reference: &Reference) -> String {
    let repo = reference.repository();
    match reference.registry() {
        "docker.io" | "index.docker.io" => {
            repo.strip_prefix("library/").unwrap_or(repo).to_string()
        }
        registry => format!("{registry}/{repo}"),
    }
}

async fn pull_async(
    store: &ImageStore,
    reference: &Reference,
    options: &PullOptions,
    progress: &(dyn Fn(&str, Progress) + Sync),
) -> Result<Pulled, PullError> {
    let registry = reference.resolve_registry().to_string();
    let (client, auth) = connect(
        &registry,
        &options.transport,
        &options.credentials,
        options.max_concurrent_downloads,
    )
    .await;
    let (manifest, digest) =
        fetch_image_manifest(&client, reference, &auth, &options.platform).await?;
    // The config the store keeps (an image pulled before) is not fetched
    // again; it is checked against the manifest's digest all the same.
    let kept = std::fs::read(store.blob_path(&manifest.config.digest)).ok();
    let config_blob = match kept {
        Some(bytes) => bytes,
        None => fetch_small_blob(&client, reference, &manifest.config).await?,
    };
    let config: ConfigFile = serde_json_from(&config_blob, "image config")?;
    let actual = format!("{}/{}", go_name(&config.os), go_name(&config.architecture));
    let wanted = format!("{}/{}", options.platform.os, options.platform.architecture);
    if options.platform_required && actual != wanted {
        return Err(PullError::Platform(format!(
            "image with reference {} was found but does not match the specified platform: wanted {}, actual: {actual}",
            familiar(reference),
            options.platform
        )));
    }
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(PullError::Registry(format!(
            "{}: the manifest lists {} layers, its config {}",
            reference.whole(),
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let work: Vec<(&OciDescriptor, &String)> = manifest.layers.iter().zip(diff_ids).collect();
    let present = |layer: &OciDescriptor, diff_id: &str| {
        store.has_layer(diff_id) && store.has_blob(&layer.digest)
    };
    for (layer, diff_id) in &work {
        let status = if present(layer, diff_id) {
            Progress::AlreadyExists
        } else {
            Progress::PullingFsLayer
        };
        progress(short(&layer.digest), status);
    }
    futures::stream::iter(work.iter().filter(|(l, d)| !present(l, d)))
        .map(|(layer, diff_id)| fetch_layer(&client, reference, store, layer, diff_id, progress))
        .buffer_unordered(options.max_concurrent_downloads.max(1))
        .try_collect::<Vec<Blob>>()
        .await?;
    let config_digest = format!("sha256:{:x}", Sha256::digest(&config_blob));
    if config_digest != manifest.config.digest {
        return Err(PullError::Registry(format!(
            "image config {}: its content has digest {config_digest}",
            manifest.config.digest
        )));
    }
    let image_config = image_config(&config);
    let name = match (reference.tag(), reference.digest()) {
        (None, Some(d)) => format!("{}@{d}", familiar_repository(reference)),
        (tag, _) => format!(
            "{}:{}",
            familiar_repository(reference),
            tag.unwrap_or("latest")
        ),
    };
    // `NAME:TAG` unless pulled by digest alone, and `NAME@DIGEST` (the
    // manifest's, as docker's RepoDigests) always.
    let mut names = vec![format!("{}@{digest}", familiar_repository(reference))];
    if reference.digest().is_none() || reference.tag().is_some() {
        names.push(name.clone());
    }
    let created = config
        .created
        .and_then(|t| u64::try_from(t.timestamp()).ok());
    let config_blob = store.write_blob(&config_blob)?;
    let image = store.add_image(NewImage {
        id: config_digest,
        layers: diff_ids.clone(),
        blobs: manifest.layers.iter().map(blob_of).collect(),
        config: image_config,
        config_blob: Some(config_blob),
        created,
        names,
    })?;
    Ok(Pulled {
        image,
        digest,
        name,
    })
}

/// What the store keeps of an image's config (`config` of the config
/// file).
pub(crate) fn image_config(config: &ConfigFile) -> ImageConfig {
    let Some(c) = config.config.clone() else {
        return ImageConfig::default();
    };
    let sorted = |set: Option<std::collections::HashSet<String>>| {
        let mut v: Vec<String> = set.unwrap_or_default().into_iter().collect();
        v.sort();
        v
    };
    ImageConfig {
        env: c.env.unwrap_or_default(),
        cmd: c.cmd.unwrap_or_default(),
        working_dir: c.working_dir.unwrap_or_default(),
        entrypoint: c.entrypoint.unwrap_or_default(),
        user: c.user.unwrap_or_default(),
        exposed_ports: sorted(c.exposed_ports),
        volumes: sorted(c.volumes),
        stop_signal: c.stop_signal.unwrap_or_default(),
        labels: c.labels.unwrap_or_default().into_iter().collect(),
    }
}

fn serde_json_from<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, PullError> {
    serde_json::from_slice(bytes).map_err(|e| PullError::Registry(format!("{what}: {e}")))
}

/// An OS or architecture by its Go name, as the config spells it.
fn go_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// The image manifest for `platform`, through an index if the reference
/// names one; and the digest docker shows (the one the reference names).
async fn fetch_image_manifest(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    platform: &Platform,
) -> Result<(OciImageManifest, String), PullError> {
    let (body, digest) = client
        .pull_manifest_raw(reference, auth, ACCEPT)
        .await
        .map_err(|e| registry_error(reference, e))?;
    match serde_json_from::<OciManifest>(&body, "manifest")? {
        OciManifest::Image(m) => Ok((m, digest)),
        OciManifest::ImageIndex(index) => {
            let chosen =
                platform::choose(&index.manifests, platform).map_err(PullError::Platform)?;
            let (body, _) = client
                .pull_manifest_raw(&reference.clone_with_digest(chosen.clone()), auth, ACCEPT)
                .await
                .map_err(|e| registry_error(reference, e))?;
            match serde_json_from::<OciManifest>(&body, "manifest")? {
                OciManifest::Image(m) => Ok((m, digest)),
                OciManifest::ImageIndex(_) => Err(PullError::Registry(format!(
                    "{chosen}: an index where an image manifest was expected"
                ))),
            }
        }
    }
}

async fn fetch_small_blob(
    client: &Client,
    reference: &Reference,
    blob: &OciDescriptor,
) -> Result<Vec<u8>, PullError> {
    let mut out = Vec::new();
    client
        .pull_blob(reference, blob, &mut out)
        .await
        .map_err(|e| registry_error(reference, e))?;
    Ok(out)
}

/// Keeps the compressed bytes as the unpacker reads them (hashed and
/// counted by the store's blob writer), and reports the count.
struct Teeing<R> {
    inner: R,
    blob: BlobWriter,
    report: Box<dyn FnMut(u64) + Send>,
}

impl<R: Read> Read for Teeing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.blob.write_all(&buf[..n])?;
        (self.report)(self.blob.size());
        Ok(n)
    }
}

/// Stream one layer into the store: downloaded, kept as a blob and
/// unpacked on the way, checked against its blob digest and diff id, put
/// in place. A layer already unpacked (whose blob the store lacks) is
/// only downloaded and kept.
async fn fetch_layer(
    client: &Client,
    reference: &Reference,
    store: &ImageStore,
    layer: &OciDescriptor,
    diff_id: &str,
    progress: &(dyn Fn(&str, Progress) + Sync),
) -> Result<Blob, PullError> {
    let id = short(&layer.digest).to_string();
    let failed = |what: String| PullError::Layer {
        layer: id.clone(),
        what,
    };
    let stream = client
        .pull_blob_stream(reference, layer)
        .await
        .map_err(|e| registry_error(reference, e))?;
    let resumed = resuming(
        client.clone(),
        reference.clone(),
        layer.clone(),
        stream.stream,
    );
    let reader = tokio_util::io::StreamReader::new(resumed.boxed());
    let total = u64::try_from(layer.size).unwrap_or(0);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let store = store.clone();
    let want_digest = layer.digest.clone();
    let want_diff_id = diff_id.to_string();
    let unpack = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut tee = Teeing {
            inner: tokio_util::io::SyncIoBridge::new(reader),
            blob: store.blob_writer().map_err(|e| e.to_string())?,
            report: Box::new(move |done| {
                let _ = tx.send(done);
            }),
        };
        let staged = if store.has_layer(&want_diff_id) {
            None
        } else {
            Some(store.stage_layer(&mut tee).map_err(|e| e.to_string())?)
        };
        io::copy(&mut tee, &mut io::sink()).map_err(|e| format!("read the blob: {e}"))?;
        let Teeing { blob, .. } = tee;
        let got = blob.digest();
        if got != want_digest {
            return Err(format!("the blob has digest {got}, not {want_digest}"));
        }
        if let Some(staged) = staged {
            store
                .commit_layer(staged, &want_diff_id)
                .map_err(|e| e.to_string())?;
        }
        store
            .commit_blob(blob, Some(&want_digest))
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let mut last = 0;
    while let Some(done) = rx.recv().await {
        // A line per MiB is enough for a progress bar.
        if done > last && (done - last >= 1 << 20 || done == total) {
            last = done;
            progress(&id, Progress::Downloading { done, total });
        }
    }
    progress(&id, Progress::VerifyingChecksum);
    progress(&id, Progress::DownloadComplete);
    // The layer was unpacked as it came; what is left is the last of it
    // and its checks.
    progress(&id, Progress::Extracting);
    unpack
        .await
        .map_err(|e| failed(format!("unpack: {e}")))?
        .map_err(failed)?;
    progress(&id, Progress::PullComplete);
    Ok(blob_of(layer))
}

/// How many times a layer's download is resumed after its connection
/// dropped.
const RESUMES: u32 = 5;

/// A blob's bytes, resumed where they stopped with a Range request when
/// the connection drops (from the start, skipping what was read, if the
/// registry ignores the range). What is resumed is checked all the same:
/// the whole blob goes through its digest check in [`fetch_layer`].
fn resuming(
    client: Client,
    reference: Reference,
    layer: OciDescriptor,
    first: futures::stream::BoxStream<'static, io::Result<bytes::Bytes>>,
) -> impl futures::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static {
    struct State {
        client: Client,
        reference: Reference,
        layer: OciDescriptor,
        stream: Option<futures::stream::BoxStream<'static, io::Result<bytes::Bytes>>>,
        offset: u64,
        skip: u64,
        resumes: u32,
    }
    let state = State {
        client,
        reference,
        layer,
        stream: Some(first),
        offset: 0,
        skip: 0,
        resumes: RESUMES,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            let item = st.stream.as_mut()?.next().await;
            match item {
                None => return None,
                Some(Ok(mut bytes)) => {
                    if st.skip > 0 {
                        let n = st.skip.min(bytes.len() as u64);
                        bytes = bytes.slice(n as usize..);
                        st.skip -= n;
                        if bytes.is_empty() {
                            continue;
                        }
                    }
                    st.offset += bytes.len() as u64;
                    return Some((Ok(bytes), st));
                }
                Some(Err(e)) => {
                    let total = u64::try_from(st.layer.size).unwrap_or(0);
                    if st.resumes == 0 || st.offset >= total {
                        st.stream = None;
                        return Some((Err(e), st));
                    }
                    st.resumes -= 1;
                    let again = st
                        .client
                        .pull_blob_stream_partial(
                            &st.reference,
                            &st.layer,
                            st.offset,
                            Some(total - st.offset),
                        )
                        .await;
                    match again {
                        Ok(oci_client::client::BlobResponse::Partial(s)) => {
                            st.stream = Some(s.stream);
                            st.skip = 0;
                        }
                        Ok(oci_client::client::BlobResponse::Full(s)) => {
                            st.stream = Some(s.stream);
                            st.skip = st.offset;
                        }
                        Err(_) => {
                            st.stream = None;
                            return Some((Err(e), st));
                        }
                    }
                }
            }
        }
    })
}

/// The store's record of a layer's blob.
fn blob_of(layer: &OciDescriptor) -> Blob {
    Blob {
        digest: layer.digest.clone(),
        media_type: layer.media_type.clone(),
        size: u64::try_from(layer.size).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names() {
        let r = distribution_reference("busybox").unwrap();
        assert_eq!(familiar_repository(&r), "busybox");
        let r = distribution_reference("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(familiar_repository(&r), "127.0.0.1:5000/team/app");
    }

    #[test]
    fn references_split_as_docker_splits_them() {
        let r = distribution_reference("busybox").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("docker.io", "library/busybox", Some("latest"))
        );
        let r = distribution_reference("user/app:v2").unwrap();
        assert_eq!((r.registry(), r.repository()), ("docker.io", "user/app"));
        let r = distribution_reference("index.docker.io/library/nginx").unwrap();
        assert_eq!(
            (r.registry(), r.repository()),
            ("docker.io", "library/nginx")
        );
        let r = distribution_reference("localhost/app").unwrap();
        assert_eq!((r.registry(), r.repository()), ("localhost", "app"));
        let d = format!("sha256:{}", "0".repeat(64));
        let r = distribution_reference(&format!("reg.example.com:5000/a/b@{d}")).unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("reg.example.com:5000", "a/b", None, Some(d.as_str()))
        );
        assert!(distribution_reference("Bad/Name").is_err());
    }
}

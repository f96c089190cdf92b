//! Command-line flags, with docker's names and meanings.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::limits::LimitArgs;
use crate::security::SecurityArgs;

use tinydocker_engine::DEFAULT_ROOT;

#[derive(Debug, Parser)]
#[command(
    name = "tinydocker",
    version,
    about = "A small, fast, docker-like container runtime"
)]
pub struct Cli {
    /// State root: images, containers and their records
    #[arg(long, global = true, env = "TINYDOCKER_ROOT", default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container
    Run(Box<RunArgs>),
    /// Create a new container (run's flags; -d does not apply: start runs
    /// it in the background)
    Create(Box<RunArgs>),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Import a root filesystem (tarball or directory) as an image
    Import(ImportArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage tinydocker: the Engine API service
    #[command(subcommand)]
    System(SystemCommand),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update the resource limits of a running container
    Update(Box<UpdateArgs>),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// List port mappings of a container
    Port(PortArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Return low-level information on containers, networks or images
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Start one or more stopped containers
    Start(ContainersArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Get real time events from the server
    Events(EventsArgs),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove all unused local volumes
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local", value_name = "DRIVER")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE, or KEY for an empty value)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", value_name = "NAME")]
    pub name_flag: Option<String>,
    /// Volume name (default: 64 random hex digits)
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Volumes, by name
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (dangling=true|false,
    /// driver=local, label=KEY, label=KEY=VALUE, name=NAME; filters all
    /// apply)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused volumes, named ones too (what prune always does,
    /// as docker 20.10's)
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Do not fail on a volume that does not exist
    #[arg(short, long)]
    pub force: bool,
    /// Volumes, by name
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `-t/--time`: how long `stop` and `restart` wait before SIGKILL.
#[derive(Debug, Args)]
pub struct GraceArg {
    /// Seconds to wait before killing the container (default: its
    /// --stop-timeout, else 10)
    #[arg(
        short = 't',
        long = "time",
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub time: Option<String>,
}

/// A command that takes containers and nothing else (`start`, `wait`).
#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// Containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub grace: GraceArg,
    /// Containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL", value_name = "SIGNAL")]
    pub signal: String,
    /// Containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub grace: GraceArg,
    /// Signal to send to the container (default: its stop signal, else
    /// TERM)
    #[arg(short, long, value_name = "SIGNAL")]
    pub signal: Option<String>,
    /// Containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Containers (name, id or prefix), networks or images
    #[arg(required = true, value_name = "NAME|ID")]
    pub objects: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkNamesArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetworkNamesArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "ALIAS")]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Network, by name
    pub network: String,
    /// Container, by name, id or unique id prefix
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    /// Network, by name
    pub network: String,
    /// Container, by name, id or unique id prefix
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (until=DURATION|TIMESTAMP, label=KEY[=VALUE],
    /// label!=KEY[=VALUE])
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Subnet in CIDR format (default: a free private /16)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// IPv4 gateway for the subnet (default: its first address)
    #[arg(long, value_name = "ADDRESS")]
    pub gateway: Option<String>,
    /// Set metadata on a network (KEY=VALUE, or KEY for an empty value)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Network name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Provide filter values (driver=, id=, label=KEY, label=KEY=VALUE,
    /// name=, type=builtin|custom; filters all apply)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkNamesArgs {
    /// Networks, by name
    #[arg(required = true, value_name = "NETWORK")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container, by name, id or unique id prefix
    pub container: String,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,

    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,

    /// Keep STDIN open
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Restart policy to apply when a container exits: no, on-failure[:N],
    /// always, unless-stopped
    #[arg(long, default_value = "no", value_name = "POLICY")]
    pub restart: String,

    /// Run an init inside the container that forwards signals and reaps
    /// processes
    #[arg(long)]
    pub init: bool,

    /// Set environment variables (KEY=VALUE, or KEY to pass the host's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,

    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,

    /// Pull image before running
    #[arg(long, value_name = "POLICY", default_value = "missing", value_parser = ["always", "missing", "never"])]
    pub pull: String,

    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,

    /// Overwrite the default ENTRYPOINT of the image ("" clears it)
    #[arg(long, value_name = "COMMAND", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,

    /// Bind mount a volume (HOST:CONTAINER[:ro|rw])
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volume: Vec<String>,

    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,

    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,

    /// Mount a tmpfs directory (noexec,nosuid,nodev unless the options say
    /// otherwise)
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,

    /// Ulimit options (-1 or unlimited for no limit)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,

    /// Connect the container to a network: bridge (the default), none (an
    /// isolated network namespace with only lo), host, or a network made with
    /// `network create`
    #[arg(long, default_value = "bridge", value_name = "NETWORK")]
    pub network: String,

    /// IPv4 address for the container (within its network's subnet)
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,

    /// Add a network-scoped alias for the container (a name other
    /// containers on its user network resolve)
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,

    /// Publish a container's port to the host ([HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp])
    #[arg(short = 'p', long = "publish", value_name = "PORTS")]
    pub publish: Vec<String>,

    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,

    /// Set a custom DNS server
    #[arg(long, value_name = "ADDRESS")]
    pub dns: Vec<String>,

    /// Add a custom host-to-IP mapping (NAME:IP)
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,

    /// Logging driver for the container: json-file (the default) or none
    #[arg(long = "log-driver", value_name = "DRIVER", default_value = "json-file", value_parser = ["json-file", "none"])]
    pub log_driver: String,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Signal to stop the container (default: the image's StopSignal, else
    /// SIGTERM)
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,

    /// Set meta data on a container (KEY=VALUE, or KEY for an empty value)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,

    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<PathBuf>,

    /// Timeout (in seconds) to stop a container (default: 10)
    #[arg(
        long = "stop-timeout",
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub stop_timeout: Option<String>,

    /// Optional parent cgroup for the container (default: tinydocker)
    #[arg(long = "cgroup-parent", value_name = "PATH")]
    pub cgroup_parent: Option<String>,

    #[command(flatten)]
    pub security: SecurityArgs,

    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Image name, NAME[:TAG], or image id
    pub image: String,

    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format the output: table (the default), json (one object per
    /// line), or a template such as '{{.ID}}\t{{.Names}}'
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Filter output based on conditions provided (label=KEY,
    /// label=KEY=VALUE; filters all apply)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT,
    /// ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// A rootfs tarball (plain or gzip) or a directory
    pub source: PathBuf,
    /// Name for the image, NAME[:TAG]
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG], an id or NAME@DIGEST
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// The registry, HOST[:PORT] (default: docker.io)
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry, HOST[:PORT] (default: docker.io)
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Layers downloaded at once
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_downloads: u32,
    /// NAME[:TAG|@DIGEST]
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// NAME[:TAG]
    pub reference: String,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Import a root filesystem (tarball or directory) as an image
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// CONTAINER
    pub container: String,
    /// NEW_NAME
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// CONTAINER
    pub container: String,
    /// ps OPTIONS (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Serve docker's Engine API on a unix socket, for docker's clients
    Service(ServiceArgs),
    /// Show disk usage of images, containers and volumes
    Df(SystemDfArgs),
    /// Remove unused data: stopped containers, unused networks, dangling
    /// images (and unused volumes with --volumes)
    Prune(SystemPruneArgs),
    /// Remove everything tinydocker made for this state root, and the
    /// networks that deleted state roots left on the host
    Reset(SystemResetArgs),
    /// Get real time events from the server (as `events`)
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct SystemDfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format the output with a template such as '{{.Type}}\t{{.Size}}'
    /// (fields: .Type .TotalCount .Active .Size .Reclaimable)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE],
    /// until=TIMESTAMP)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SystemResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Seconds without a connection before the service exits (0: never)
    #[arg(short, long, default_value_t = 5)]
    pub time: u64,
    /// Where to listen: unix:///PATH (default unix:///run/tinydocker/tinydocker.sock) or tcp://IP:PORT (no TLS: root for anyone who reaches it)
    pub uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// IMAGE
    pub image: String,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, or SRC_PATH|- (a tar stream on STDIN)
    pub source: String,
    /// DEST_PATH|- (a tar stream on STDOUT), or CONTAINER:DEST_PATH
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// CONTAINER
    pub container: String,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// IMAGE...
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<std::path::PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=true|false,
    /// reference=PATTERN, label=KEY, label=KEY=VALUE)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the name even if containers use the image (the image stays,
    /// untagged, until they are removed)
    #[arg(short, long)]
    pub force: bool,
    /// Images, by NAME[:TAG] or id
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Containers, by name, id or unique id prefix (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Running containers, by name, id or unique id prefix
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show logs since a timestamp (e.g. "2013-01-02T13:23:37Z", 1700000000.5)
    /// or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(
        short = 'n',
        long,
        default_value = "all",
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or
    /// relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Container, by name, id or unique id prefix
    pub container: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (e.g. container=NAME,
    /// event=start, type=network, label=KEY=VALUE)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print events using a Go template (e.g. '{{json .}}')
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Show all events created since timestamp (e.g. "2013-01-02T13:23:37Z",
    /// 1700000000.5) or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Stream events until this timestamp; without it, follow until
    /// interrupted
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "KEYS", default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub sig_proxy: bool,
    /// Container, by name, id or unique id prefix
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep STDIN open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables (KEY=VALUE, or KEY to pass the host's value)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID, with an optional group (USER[:GROUP])
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Container, by name, id or unique id prefix
    pub container: String,
    /// Command and arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_arguments_are_not_parsed_as_flags() {
        let cli = Cli::try_parse_from([
            "tinydocker",
            "run",
            "--rm",
            "-e",
            "A=1",
            "img",
            "ls",
            "-la",
            "--rm",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert!(run.rm);
        assert_eq!(run.image, "img");
        assert_eq!(run.command, ["ls", "-la", "--rm"]);
    }

    #[test]
    fn exec_arguments_after_the_command_are_its_own() {
        let cli = Cli::try_parse_from([
            "tinydocker",
            "exec",
            "-it",
            "-e",
            "A=1",
            "-u",
            "1000:1000",
            "-w",
            "/tmp",
            "web",
            "ls",
            "-la",
            "-t",
        ])
        .unwrap();
        let Command::Exec(exec) = cli.command else {
            panic!("not exec")
        };
        assert!(exec.interactive && exec.tty);
        assert_eq!(exec.env, ["A=1"]);
        assert_eq!(exec.user.as_deref(), Some("1000:1000"));
        assert_eq!(exec.workdir.as_deref(), Some("/tmp"));
        assert_eq!(exec.container, "web");
        assert_eq!(exec.command, ["ls", "-la", "-t"]);
        assert!(Cli::try_parse_from(["tinydocker", "exec", "web"]).is_err());
    }

    #[test]
    fn help_output() {
        let mut cmd = Cli::command();
        let run = cmd.find_subcommand_mut("run").unwrap();
        insta::assert_snapshot!(run.render_help().to_string());
    }
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

//! runc's command line: the global flags every call of containerd's shim
//! and dockerd starts with, and the commands they (and runc's users) use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The state root when `--root` is not given (runc's is /run/runc).
pub const DEFAULT_ROOT: &str = "/run/tinydocker-runtime";

#[derive(Parser, Debug)]
#[command(
    name = "tinydocker-runtime",
    about = "tinydocker as an OCI runtime, with runc's command line",
    disable_version_flag = true
)]
pub struct Cli {
    /// Where containers' state is kept.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Also write errors (and with --debug, each call) to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// The form of the --log file's lines.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log each call to the --log file.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported: refused).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Print the version, commit and runtime-spec version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Run the process of a created container.
    Start(IdArg),
    /// Create and start a container, and wait for it (unless --detach).
    Run(RunArgs),
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// Send a signal to the container's init (or, with --all, every process).
    Kill(KillArgs),
    /// Remove a stopped (or created) container; --force kills a running one.
    Delete(DeleteArgs),
    /// The container's state, as the runtime spec's JSON.
    State(IdArg),
    /// The containers of this root.
    #[command(alias = "ls")]
    List(ListArgs),
    /// The processes of a container.
    Ps(PsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// A container's resource usage, once (--stats) or every --interval.
    Events(EventsArgs),
    /// What this runtime supports, as the runtime spec's features JSON.
    Features,
    /// Write a default config.json for a bundle.
    Spec(SpecArgs),
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the root filesystem).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's host pid here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master to (process.terminal).
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root (not supported: refused).
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not make a session keyring for the container (tinydocker makes none).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many fds from 3 up to the container (only 0 is supported).
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the process runs instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after its process exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The process, as the runtime spec's process JSON.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// A unix socket to send the terminal's master to.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Return once the process runs; it is the caller's (a subreaper's).
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's host pid here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Give the process a terminal (without --process).
    #[arg(short, long)]
    pub tty: bool,
    /// The working directory (without --process).
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=VALUE over the container's environment (without --process).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID] (without --process).
    #[arg(short, long)]
    pub user: Option<String>,
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// A name (TERM, SIGTERM) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: Format,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The new resources, as the runtime spec's linux.resources JSON ("-": stdin).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    /// Memory plus swap in bytes.
    #[arg(long)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit in bytes.
    #[arg(long)]
    pub memory_reservation: Option<i64>,
    /// CPU time per period, in microseconds.
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPU period, in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Relative CPU weight.
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CPUs to run on ("0-2,5").
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to allocate from.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print stats, in seconds (or with a unit: 500ms, 5s, 1m).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for an unprivileged user (not supported: refused).
    #[arg(long)]
    pub rootless: bool,
}

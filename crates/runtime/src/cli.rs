//! runc's command line: the global flags every call of containerd's shim
//! and dockerd starts with, and the commands they (and runc's users) use.
//!
//! Parsed by hand from one table per command rather than with clap: the
//! runtime is exec'd for every create, start and delete, and building
//! clap's whole command tree cost 0.17 ms and 50 page faults of each
//! call, a sixth of a `start` (see the README's figures).
//!
//! Flags are `--name VALUE`, `--name=VALUE`, `-n VALUE`, `-nVALUE`, or
//! short booleans together (`-dt`); they may come before or after the
//! positional arguments, and the global ones after the command too, as
//! runc's and clap's do; `--` ends them. `exec`'s command is everything
//! from the first argument after the id, flags included.

use std::ffi::OsString;
use std::path::PathBuf;

/// The state root when `--root` is not given (runc's is /run/runc).
pub const DEFAULT_ROOT: &str = "/run/tinydocker-runtime";

const NAME: &str = "tinydocker-runtime";
const ABOUT: &str = "tinydocker as an OCI runtime, with runc's command line";

#[derive(Debug)]
pub struct Cli {
    /// Where containers' state is kept.
    pub root: PathBuf,
    /// Also write errors (and with --debug, each call) to this file.
    pub log: Option<PathBuf>,
    /// The form of the --log file's lines.
    pub log_format: LogFormat,
    /// Log each call to the --log file.
    pub debug: bool,
    /// Manage cgroups through systemd (not supported: refused).
    pub systemd_cgroup: bool,
    /// Print the version, commit and runtime-spec version.
    pub version: bool,
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug)]
pub enum Command {
    Create(CreateArgs),
    Start(IdArg),
    Run(RunArgs),
    Exec(ExecArgs),
    Kill(KillArgs),
    Delete(DeleteArgs),
    State(IdArg),
    List(ListArgs),
    Ps(PsArgs),
    Pause(IdArg),
    Resume(IdArg),
    Update(UpdateArgs),
    Events(EventsArgs),
    Features,
    Spec(SpecArgs),
}

#[derive(Debug)]
pub struct IdArg {
    pub id: String,
}

/// `--no-new-keyring` is accepted and changes nothing: tinydocker makes
/// no session keyring.
#[derive(Debug)]
pub struct CreateArgs {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug)]
pub struct RunArgs {
    pub create: CreateArgs,
    pub detach: bool,
    pub keep: bool,
}

#[derive(Debug)]
pub struct ExecArgs {
    pub process: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub id: String,
    pub command: Vec<String>,
}

#[derive(Debug)]
pub struct KillArgs {
    pub all: bool,
    pub id: String,
    pub signal: String,
}

#[derive(Debug)]
pub struct DeleteArgs {
    pub force: bool,
    pub id: String,
}

#[derive(Debug)]
pub struct ListArgs {
    pub format: Format,
    pub quiet: bool,
}

#[derive(Debug)]
pub struct PsArgs {
    pub format: Format,
    pub id: String,
}

#[derive(Debug)]
pub struct UpdateArgs {
    pub resources: Option<PathBuf>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_share: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Debug)]
pub struct EventsArgs {
    pub stats: bool,
    pub interval: String,
    pub id: String,
}

#[derive(Debug)]
pub struct SpecArgs {
    pub bundle: PathBuf,
    pub rootless: bool,
}

/// Why the command line was not parsed into a [`Cli`]: help asked for
/// (printed to stdout, exit 0) or a usage error (stderr, exit 1).
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    Help(String),
    Usage(String),
}

/// One flag of a command's table. `value` names its value; `None` is a
/// boolean.
#[derive(Clone, Copy)]
struct Flag {
    long: &'static str,
    short: Option<char>,
    value: Option<&'static str>,
    help: &'static str,
}

const fn flag(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        value: None,
        help,
    }
}

const fn valued(
    long: &'static str,
    short: Option<char>,
    value: &'static str,
    help: &'static str,
) -> Flag {
    Flag {
        long,
        short,
        value: Some(value),
        help,
    }
}

const GLOBAL: &[Flag] = &[
    valued(
        "root",
        None,
        "DIR",
        "Where containers' state is kept [default: /run/tinydocker-runtime]",
    ),
    valued(
        "log",
        None,
        "FILE",
        "Also write errors (and with --debug, each call) to this file",
    ),
    valued(
        "log-format",
        None,
        "text|json",
        "The form of the --log file's lines [default: text]",
    ),
    flag("debug", None, "Log each call to the --log file"),
    flag(
        "systemd-cgroup",
        None,
        "Manage cgroups through systemd (not supported: refused)",
    ),
    flag("help", Some('h'), "Print help"),
];

/// The top level's own flags (not after a command).
const TOP: &[Flag] = &[flag(
    "version",
    Some('v'),
    "Print the version, commit and runtime-spec version",
)];

/// A command: its name, aliases, one line of help, its flags, its
/// positional arguments (`NAME` required, `[NAME]` optional) and whether
/// the arguments after them are taken whole (`exec`'s command).
struct Spec {
    name: &'static str,
    alias: Option<&'static str>,
    about: &'static str,
    flags: &'static [&'static [Flag]],
    args: &'static [&'static str],
    trailing: Option<&'static str>,
}

const CREATE_FLAGS: &[Flag] = &[
    valued(
        "bundle",
        Some('b'),
        "DIR",
        "The bundle directory (config.json and the root filesystem) [default: .]",
    ),
    valued("pid-file", None, "FILE", "Write the init's host pid here"),
    valued(
        "console-socket",
        None,
        "SOCKET",
        "A unix socket to send the terminal's master to (process.terminal)",
    ),
    flag(
        "no-pivot",
        None,
        "Do not use pivot_root (not supported: refused)",
    ),
    flag(
        "no-new-keyring",
        None,
        "Do not make a session keyring for the container (tinydocker makes none)",
    ),
    valued(
        "preserve-fds",
        None,
        "N",
        "Pass this many fds from 3 up to the container (only 0 is supported) [default: 0]",
    ),
];

/// `run`'s own, beside `create`'s.
const RUN_FLAGS: &[Flag] = &[
    flag(
        "detach",
        Some('d'),
        "Return once the process runs instead of waiting for it",
    ),
    flag("keep", None, "Keep the container after its process exits"),
];

const EXEC_FLAGS: &[Flag] = &[
    valued(
        "process",
        Some('p'),
        "FILE",
        "The process, as the runtime spec's process JSON",
    ),
    valued(
        "console-socket",
        None,
        "SOCKET",
        "A unix socket to send the terminal's master to",
    ),
    flag(
        "detach",
        Some('d'),
        "Return once the process runs; it is the caller's (a subreaper's)",
    ),
    valued(
        "pid-file",
        None,
        "FILE",
        "Write the process's host pid here",
    ),
    flag(
        "tty",
        Some('t'),
        "Give the process a terminal (without --process)",
    ),
    valued(
        "cwd",
        None,
        "DIR",
        "The working directory (without --process)",
    ),
    valued(
        "env",
        Some('e'),
        "KEY=VALUE",
        "Over the container's environment, repeatable (without --process)",
    ),
    valued(
        "user",
        Some('u'),
        "UID[:GID]",
        "The user (without --process)",
    ),
];

const FORMAT: Flag = valued(
    "format",
    Some('f'),
    "table|json",
    "The output's form [default: table]",
);

const COMMANDS: &[Spec] = &[
    Spec {
        name: "create",
        alias: None,
        about: "Create a container from a bundle; its process waits for `start`",
        flags: &[CREATE_FLAGS],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "start",
        alias: None,
        about: "Run the process of a created container",
        flags: &[],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "run",
        alias: None,
        about: "Create and start a container, and wait for it (unless --detach)",
        flags: &[CREATE_FLAGS, RUN_FLAGS],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "exec",
        alias: None,
        about: "Run another process in a running container",
        flags: &[EXEC_FLAGS],
        args: &["ID"],
        trailing: Some("COMMAND"),
    },
    Spec {
        name: "kill",
        alias: None,
        about: "Send a signal to the container's init (or, with --all, every process)",
        flags: &[&[flag("all", Some('a'), "Signal every process of the container")]],
        args: &["ID", "[SIGNAL]"],
        trailing: None,
    },
    Spec {
        name: "delete",
        alias: None,
        about: "Remove a stopped (or created) container; --force kills a running one",
        flags: &[&[flag("force", Some('f'), "Kill a running container first")]],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "state",
        alias: None,
        about: "The container's state, as the runtime spec's JSON",
        flags: &[],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "list",
        alias: Some("ls"),
        about: "The containers of this root",
        flags: &[&[FORMAT, flag("quiet", Some('q'), "Only the ids")]],
        args: &[],
        trailing: None,
    },
    Spec {
        name: "ps",
        alias: None,
        about: "The processes of a container",
        flags: &[&[FORMAT]],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "pause",
        alias: None,
        about: "Freeze every process of a container",
        flags: &[],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "resume",
        alias: None,
        about: "Thaw a paused container",
        flags: &[],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "update",
        alias: None,
        about: "Change a running container's resource limits",
        flags: &[&[
            valued("resources", Some('r'), "FILE", "The new resources, as the runtime spec's linux.resources JSON (\"-\": stdin)"),
            valued("memory", None, "BYTES", "Memory limit in bytes"),
            valued("memory-swap", None, "BYTES", "Memory plus swap in bytes"),
            valued("memory-reservation", None, "BYTES", "Memory soft limit in bytes"),
            valued("cpu-quota", None, "US", "CPU time per period, in microseconds"),
            valued("cpu-period", None, "US", "CPU period, in microseconds"),
            valued("cpu-share", None, "N", "Relative CPU weight"),
            valued("cpuset-cpus", None, "CPUS", "CPUs to run on (\"0-2,5\")"),
            valued("cpuset-mems", None, "NODES", "Memory nodes to allocate from"),
            valued("pids-limit", None, "N", "Maximum number of processes"),
        ]],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "events",
        alias: None,
        about: "A container's resource usage, once (--stats) or every --interval",
        flags: &[&[
            flag("stats", None, "Print the stats once and exit"),
            valued("interval", None, "DURATION", "How often to print stats, in seconds (or with a unit: 500ms, 5s, 1m) [default: 5s]"),
        ]],
        args: &["ID"],
        trailing: None,
    },
    Spec {
        name: "features",
        alias: None,
        about: "What this runtime supports, as the runtime spec's features JSON",
        flags: &[],
        args: &[],
        trailing: None,
    },
    Spec {
        name: "spec",
        alias: None,
        about: "Write a default config.json for a bundle",
        flags: &[&[
            valued("bundle", Some('b'), "DIR", "Where to write config.json [default: .]"),
            flag("rootless", None, "A spec for an unprivileged user (not supported: refused)"),
        ]],
        args: &[],
        trailing: None,
    },
];

/// What one command line said: flags by long name, in order (a repeated
/// flag keeps every value), and the positional arguments.
#[derive(Default)]
struct Parsed {
    flags: Vec<(&'static str, Option<String>)>,
    args: Vec<String>,
}

impl Parsed {
    fn has(&self, long: &str) -> bool {
        self.flags.iter().any(|(l, _)| *l == long)
    }

    /// The last value given for a flag.
    fn value(&self, long: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.as_deref())
    }

    fn values(&self, long: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(l, _)| *l == long)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    fn path(&self, long: &str) -> Option<PathBuf> {
        self.value(long).map(PathBuf::from)
    }

    fn string(&self, long: &str) -> Option<String> {
        self.value(long).map(str::to_string)
    }

    fn number<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>, Stop>
    where
        T::Err: std::fmt::Display,
    {
        self.value(long)
            .map(|v| {
                v.parse()
                    .map_err(|e| Stop::Usage(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .transpose()
    }
}

impl Cli {
    /// This process's command line.
    pub fn from_env() -> Result<Cli, Stop> {
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| {
                a.into_string()
                    .map_err(|a: OsString| Stop::Usage(format!("argument {a:?} is not UTF-8")))
            })
            .collect::<Result<_, _>>()?;
        Cli::parse_from(&args)
    }

    /// The command line after the program's name.
    pub fn parse_from<S: AsRef<str>>(args: &[S]) -> Result<Cli, Stop> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        // The global flags, and the top level's own, up to the command.
        let mut top = Parsed::default();
        let mut i = 0;
        let name = loop {
            let Some(&arg) = args.get(i) else { break None };
            if arg == "--" || !arg.starts_with('-') || arg == "-" {
                let name = if arg == "--" {
                    args.get(i + 1).copied()
                } else {
                    Some(arg)
                };
                i += usize::from(arg == "--") + 1;
                break name;
            }
            i = take_flag(&args, i, &[GLOBAL, TOP], &mut top, None)?;
        };
        if top.has("help") {
            return Err(Stop::Help(top_help()));
        }
        let mut cli = Cli {
            root: PathBuf::from(DEFAULT_ROOT),
            log: None,
            log_format: LogFormat::Text,
            debug: false,
            systemd_cgroup: false,
            version: top.has("version"),
            command: None,
        };
        let Some(name) = name else {
            cli.globals(&top)?;
            return Ok(cli);
        };
        let spec = COMMANDS
            .iter()
            .find(|c| c.name == name || c.alias == Some(name))
            .ok_or_else(|| {
                Stop::Usage(format!(
                    "unknown command {name:?}: see {NAME} --help for the commands"
                ))
            })?;
        let mut parsed = Parsed {
            flags: top.flags,
            args: Vec::new(),
        };
        let mut flags_end = false;
        while let Some(&arg) = args.get(i) {
            let trailing = spec.trailing.is_some() && parsed.args.len() >= spec.args.len();
            if flags_end || trailing || !arg.starts_with('-') || arg == "-" {
                parsed.args.push(arg.to_string());
                i += 1;
            } else if arg == "--" {
                flags_end = true;
                i += 1;
            } else {
                let tables: Vec<&'static [Flag]> =
                    spec.flags.iter().copied().chain([GLOBAL]).collect();
                i = take_flag(&args, i, &tables, &mut parsed, Some(spec))?;
            }
        }
        if parsed.has("help") {
            return Err(Stop::Help(command_help(spec)));
        }
        let required = spec.args.iter().filter(|a| !a.starts_with('[')).count();
        if parsed.args.len() < required {
            let missing: Vec<&str> = spec.args[parsed.args.len()..required].to_vec();
            return Err(Stop::Usage(format!(
                "{name}: missing {}\n\n{}",
                missing.join(" "),
                usage(spec)
            )));
        }
        if spec.trailing.is_none() && parsed.args.len() > spec.args.len() {
            return Err(Stop::Usage(format!(
                "{name}: unexpected argument {:?}\n\n{}",
                parsed.args[spec.args.len()],
                usage(spec)
            )));
        }
        cli.globals(&parsed)?;
        cli.command = Some(build(spec.name, parsed)?);
        Ok(cli)
    }

    fn globals(&mut self, parsed: &Parsed) -> Result<(), Stop> {
        if let Some(root) = parsed.path("root") {
            self.root = root;
        }
        self.log = parsed.path("log");
        self.log_format = match parsed.value("log-format") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(Stop::Usage(format!(
                    "invalid value {other:?} for --log-format: text or json"
                )))
            }
        };
        self.debug = parsed.has("debug");
        self.systemd_cgroup = parsed.has("systemd-cgroup");
        Ok(())
    }
}

/// Read the flag at `args[i]` (and its value) into `into`; the index of
/// what follows.
fn take_flag(
    args: &[&str],
    i: usize,
    tables: &[&'static [Flag]],
    into: &mut Parsed,
    command: Option<&Spec>,
) -> Result<usize, Stop> {
    let arg = args[i];
    let find =
        |pred: &dyn Fn(&Flag) -> bool| tables.iter().flat_map(|t| t.iter()).find(|f| pred(f));
    let unknown = |text: &str| {
        let place = command.map_or(String::new(), |c| format!(" for {}", c.name));
        let help = command.map_or(format!("{NAME} --help"), |c| {
            format!("{NAME} {} --help", c.name)
        });
        Stop::Usage(format!("unknown flag {text}{place}: see {help}"))
    };
    if let Some(long) = arg.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let flag = find(&|f| f.long == name).ok_or_else(|| unknown(&format!("--{name}")))?;
        return match (flag.value, inline) {
            (None, Some(_)) => Err(Stop::Usage(format!("--{name} takes no value"))),
            (None, None) => {
                into.flags.push((flag.long, None));
                Ok(i + 1)
            }
            (Some(_), Some(v)) => {
                into.flags.push((flag.long, Some(v.to_string())));
                Ok(i + 1)
            }
            (Some(what), None) => {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| Stop::Usage(format!("--{name} needs a value ({what})")))?;
                into.flags.push((flag.long, Some(v.to_string())));
                Ok(i + 2)
            }
        };
    }
    // Short flags: booleans together, the last may take a value (attached
    // or the next argument).
    let shorts = &arg[1..];
    for (at, c) in shorts.char_indices() {
        let flag = find(&|f| f.short == Some(c)).ok_or_else(|| unknown(&format!("-{c}")))?;
        let Some(what) = flag.value else {
            into.flags.push((flag.long, None));
            continue;
        };
        let rest = &shorts[at + c.len_utf8()..];
        let rest = rest.strip_prefix('=').unwrap_or(rest);
        if !rest.is_empty() {
            into.flags.push((flag.long, Some(rest.to_string())));
            return Ok(i + 1);
        }
        let v = args
            .get(i + 1)
            .ok_or_else(|| Stop::Usage(format!("-{c} needs a value ({what})")))?;
        into.flags.push((flag.long, Some(v.to_string())));
        return Ok(i + 2);
    }
    Ok(i + 1)
}

fn format(parsed: &Parsed) -> Result<Format, Stop> {
    match parsed.value("format") {
        None | Some("table") => Ok(Format::Table),
        Some("json") => Ok(Format::Json),
        Some(other) => Err(Stop::Usage(format!(
            "invalid value {other:?} for --format: table or json"
        ))),
    }
}

fn create_args(p: &Parsed, id: String) -> Result<CreateArgs, Stop> {
    Ok(CreateArgs {
        bundle: p.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
        pid_file: p.path("pid-file"),
        console_socket: p.path("console-socket"),
        no_pivot: p.has("no-pivot"),
        preserve_fds: p.number("preserve-fds")?.unwrap_or(0),
        id,
    })
}

fn build(name: &str, p: Parsed) -> Result<Command, Stop> {
    let mut args = p.args.iter().cloned();
    let id = args.next().unwrap_or_default();
    Ok(match name {
        "create" => Command::Create(create_args(&p, id)?),
        "start" => Command::Start(IdArg { id }),
        "run" => Command::Run(RunArgs {
            create: create_args(&p, id)?,
            detach: p.has("detach"),
            keep: p.has("keep"),
        }),
        "exec" => Command::Exec(ExecArgs {
            process: p.path("process"),
            console_socket: p.path("console-socket"),
            detach: p.has("detach"),
            pid_file: p.path("pid-file"),
            tty: p.has("tty"),
            cwd: p.string("cwd"),
            env: p.values("env"),
            user: p.string("user"),
            id,
            command: args.collect(),
        }),
        "kill" => Command::Kill(KillArgs {
            all: p.has("all"),
            id,
            signal: args.next().unwrap_or_else(|| "SIGTERM".into()),
        }),
        "delete" => Command::Delete(DeleteArgs {
            force: p.has("force"),
            id,
        }),
        "state" => Command::State(IdArg { id }),
        "list" => Command::List(ListArgs {
            format: format(&p)?,
            quiet: p.has("quiet"),
        }),
        "ps" => Command::Ps(PsArgs {
            format: format(&p)?,
            id,
        }),
        "pause" => Command::Pause(IdArg { id }),
        "resume" => Command::Resume(IdArg { id }),
        "update" => Command::Update(UpdateArgs {
            resources: p.path("resources"),
            memory: p.number("memory")?,
            memory_swap: p.number("memory-swap")?,
            memory_reservation: p.number("memory-reservation")?,
            cpu_quota: p.number("cpu-quota")?,
            cpu_period: p.number("cpu-period")?,
            cpu_share: p.number("cpu-share")?,
            cpuset_cpus: p.string("cpuset-cpus"),
            cpuset_mems: p.string("cpuset-mems"),
            pids_limit: p.number("pids-limit")?,
            id,
        }),
        "events" => Command::Events(EventsArgs {
            stats: p.has("stats"),
            interval: p.string("interval").unwrap_or_else(|| "5s".into()),
            id,
        }),
        "features" => Command::Features,
        "spec" => Command::Spec(SpecArgs {
            bundle: p.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
            rootless: p.has("rootless"),
        }),
        other => unreachable!("command {other} has a table but no arguments"),
    })
}

fn flag_lines(out: &mut String, flags: &[Flag]) {
    let left = |f: &Flag| {
        let short = f.short.map_or("    ".to_string(), |c| format!("-{c}, "));
        let value = f.value.map_or(String::new(), |v| format!(" {v}"));
        format!("{short}--{}{value}", f.long)
    };
    let width = flags.iter().map(|f| left(f).len()).max().unwrap_or(0);
    for f in flags {
        out.push_str(&format!("  {:width$}  {}\n", left(f), f.help));
    }
}

fn usage(spec: &Spec) -> String {
    let mut line = format!("Usage: {NAME} [GLOBAL FLAGS] {} [FLAGS]", spec.name);
    for a in spec.args {
        line.push(' ');
        line.push_str(a);
    }
    if let Some(t) = spec.trailing {
        line.push_str(&format!(" [{t}]..."));
    }
    line
}

fn top_help() -> String {
    let mut out =
        format!("{ABOUT}\n\nUsage: {NAME} [GLOBAL FLAGS] COMMAND [FLAGS] [ARGS]\n\nCommands:\n");
    let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in COMMANDS {
        let alias = c.alias.map_or(String::new(), |a| format!(" (also: {a})"));
        out.push_str(&format!("  {:width$}  {}{alias}\n", c.name, c.about));
    }
    out.push_str("\nGlobal flags:\n");
    flag_lines(&mut out, GLOBAL);
    flag_lines(&mut out, TOP);
    out.push_str(&format!("\n{NAME} COMMAND --help: a command's own flags\n"));
    out
}

fn command_help(spec: &Spec) -> String {
    let mut out = format!("{}\n\n{}\n", spec.about, usage(spec));
    if !spec.flags.is_empty() {
        out.push_str("\nFlags:\n");
        flag_lines(&mut out, &spec.flags.concat());
    }
    out.push_str("\nGlobal flags:\n");
    flag_lines(&mut out, GLOBAL);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, Stop> {
        let args: Vec<&str> = line.split_whitespace().collect();
        Cli::parse_from(&args)
    }

    fn usage_error(line: &str) -> String {
        match parse(line) {
            Err(Stop::Usage(text)) => text,
            other => panic!("{line}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn the_shims_create_with_global_flags_first() {
        let cli = parse(
            "--root /r --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /s c1",
        )
        .unwrap();
        assert_eq!(cli.root, PathBuf::from("/r"));
        assert_eq!(cli.log, Some(PathBuf::from("/b/log.json")));
        assert_eq!(cli.log_format, LogFormat::Json);
        let Some(Command::Create(c)) = cli.command else {
            panic!("not create")
        };
        assert_eq!(c.bundle, PathBuf::from("/b"));
        assert_eq!(c.pid_file, Some(PathBuf::from("/b/init.pid")));
        assert_eq!(c.console_socket, Some(PathBuf::from("/s")));
        assert_eq!(c.id, "c1");
        assert_eq!(c.preserve_fds, 0);
    }

    #[test]
    fn defaults_inline_values_and_flags_after_the_id() {
        let cli = parse("create c1 -b=/b --preserve-fds=0 --root=/r --debug").unwrap();
        assert_eq!(cli.root, PathBuf::from("/r"));
        assert!(cli.debug);
        assert_eq!(cli.log_format, LogFormat::Text);
        let Some(Command::Create(c)) = cli.command else {
            panic!("not create")
        };
        assert_eq!((c.bundle, c.id), (PathBuf::from("/b"), "c1".into()));
        let cli = parse("start c1").unwrap();
        assert_eq!(cli.root, PathBuf::from(DEFAULT_ROOT));
        assert!(matches!(cli.command, Some(Command::Start(IdArg { id })) if id == "c1"));
    }

    #[test]
    fn run_takes_creates_flags_and_its_own() {
        let Some(Command::Run(r)) = parse("run -d --bundle /b --keep c1").unwrap().command else {
            panic!("not run")
        };
        assert!(r.detach && r.keep);
        assert_eq!(
            (r.create.bundle, r.create.id),
            (PathBuf::from("/b"), "c1".into())
        );
        assert!(usage_error("create -d c1").contains("unknown flag -d for create"));
    }

    #[test]
    fn kill_delete_list_and_ps() {
        let Some(Command::Kill(k)) = parse("kill --all c1 9").unwrap().command else {
            panic!()
        };
        assert!(k.all);
        assert_eq!((k.id.as_str(), k.signal.as_str()), ("c1", "9"));
        let Some(Command::Kill(k)) = parse("kill c1").unwrap().command else {
            panic!()
        };
        assert_eq!((k.all, k.signal.as_str()), (false, "SIGTERM"));
        let Some(Command::Delete(d)) = parse("delete --force c1").unwrap().command else {
            panic!()
        };
        assert!(d.force);
        let Some(Command::List(l)) = parse("ls -q --format json").unwrap().command else {
            panic!()
        };
        assert!(l.quiet);
        assert_eq!(l.format, Format::Json);
        let Some(Command::Ps(p)) = parse("ps --format json c1").unwrap().command else {
            panic!()
        };
        assert_eq!(p.format, Format::Json);
    }

    #[test]
    fn exec_takes_its_command_whole_after_the_id() {
        let Some(Command::Exec(e)) = parse("exec -dt -e A=1 --env B=2 --cwd /w c1 sh -c --x")
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(e.detach && e.tty);
        assert_eq!(e.env, ["A=1", "B=2"]);
        assert_eq!(e.cwd.as_deref(), Some("/w"));
        assert_eq!(e.id, "c1");
        assert_eq!(e.command, ["sh", "-c", "--x"]);
        let Some(Command::Exec(e)) = parse("exec --process /p.json --detach --pid-file /x.pid c1")
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(e.process, Some(PathBuf::from("/p.json")));
        assert!(e.command.is_empty());
    }

    #[test]
    fn update_numbers_and_version() {
        let Some(Command::Update(u)) =
            parse("update --memory 1048576 --cpu-quota -1 --pids-limit=10 -r - c1")
                .unwrap()
                .command
        else {
            panic!()
        };
        assert_eq!(u.memory, Some(1048576));
        assert_eq!(u.cpu_quota, Some(-1));
        assert_eq!(u.pids_limit, Some(10));
        assert_eq!(u.resources, Some(PathBuf::from("-")));
        let cli = parse("--version").unwrap();
        assert!(cli.version && cli.command.is_none());
        assert!(parse("-v").unwrap().version);
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert!(usage_error("create").contains("create: missing ID"));
        assert!(usage_error("start a b").contains("unexpected argument \"b\""));
        assert!(usage_error("create --bogus c1").contains("unknown flag --bogus for create"));
        assert!(usage_error("frobnicate").contains("unknown command \"frobnicate\""));
        assert!(usage_error("create c1 --pid-file").contains("--pid-file needs a value"));
        assert!(usage_error("--log-format xml list").contains("--log-format"));
        assert!(
            usage_error("update --memory lots c1").contains("invalid value \"lots\" for --memory")
        );
        assert!(usage_error("delete --force=yes c1").contains("--force takes no value"));
        assert!(usage_error("start --version c1").contains("unknown flag --version for start"));
    }

    #[test]
    fn help_lists_commands_and_flags() {
        let Err(Stop::Help(top)) = parse("--help") else {
            panic!()
        };
        for c in COMMANDS {
            assert!(top.contains(c.name), "{} missing from the help", c.name);
        }
        let Err(Stop::Help(create)) = parse("create -h") else {
            panic!()
        };
        assert!(create.contains("--pid-file FILE"));
        assert!(create.contains("Usage: tinydocker-runtime [GLOBAL FLAGS] create [FLAGS] ID"));
    }
}

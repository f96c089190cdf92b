//! The text users read, as insta snapshots: `ps` and `inspect` of a
//! container (ids, pids, times and paths redacted), and `--help`.
//! (Not run in `cargo xtask vm-test`: the output does not depend on the
//! kernel, and the guest has no snapshot files.)

use tinydocker_tests::TestRoot;

/// Redactions for what differs from run to run.
fn filters(root: &TestRoot) -> Vec<(String, &'static str)> {
    vec![
        (regex_escape(&root.path().to_string_lossy()), "[ROOT]"),
        (r"\b[0-9a-f]{64}\b".to_string(), "[ID]"),
        (r"\b[0-9a-f]{12}\b".to_string(), "[SHORT-ID]"),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_string(),
            "[TIME]",
        ),
        (r#""(Pid|pid)": \d+"#.to_string(), r#""$1": [PID]"#),
        (
            r"(Less than a second|About a minute|\d+ (second|minute)s?) ago".to_string(),
            "[AGO]",
        ),
        (
            r"Up (Less than a second|About a minute|\d+ (second|minute)s?)".to_string(),
            "Up [FOR]",
        ),
        (r#""sha256:\[ID\]""#.to_string(), r#""[IMAGE]""#),
        (
            r#""Hostname": "\[SHORT-ID\]""#.to_string(),
            r#""Hostname": "[HOST]""#,
        ),
        (r"HOSTNAME=\[SHORT-ID\]".to_string(), "HOSTNAME=[HOST]"),
        (r"/tinydocker/\[ID\]".to_string(), "/tinydocker/[ID]"),
        (
            r#""(SeccompProfile|Seccomp)": "[^"]*""#.to_string(),
            r#""$1": "[SECCOMP]""#,
        ),
    ]
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

macro_rules! snapshot {
    ($root:expr, $name:expr, $value:expr) => {{
        let filters = filters($root);
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        });
    }};
}

#[test]
fn ps_inspect_and_help() {
    let root = TestRoot::new();
    root.run(&[
        "run",
        "-d",
        "--name",
        "web",
        "--memory",
        "64m",
        "--restart",
        "on-failure:3",
        "-e",
        "GREETING=hello",
        "busybox",
        "sleep",
        "100",
    ])
    .ok();
    root.run(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"])
        .code(3);
    let ps = root.run(&["ps", "-a"]);
    ps.ok();
    // Newest first: "done" was made last. Columns are padded to their
    // widest cell, which depends on the times: the gaps are normalised.
    let gaps = ps
        .stdout
        .lines()
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    snapshot!(&root, "ps_a", gaps);
    let inspect = root.run(&["inspect", "web"]);
    inspect.ok();
    snapshot!(&root, "inspect_running", inspect.stdout.clone());
    let inspect = root.run(&["inspect", "done"]);
    inspect.ok();
    snapshot!(&root, "inspect_exited", inspect.stdout.clone());
    for command in ["run", "ps", "logs", "exec", "start", "restart", "wait"] {
        let help = root.run(&[command, "--help"]);
        help.ok();
        snapshot!(&root, format!("help_{command}"), help.stdout.clone());
    }
    root.run(&["rm", "-f", "web", "done"]).ok();
    root.assert_no_containers();
}

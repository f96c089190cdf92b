//! `tinydocker events` and the API's `GET /events`: what the engine
//! records of containers' lives, read back over a time range and followed
//! live, from the command line and through docker's own client.

use std::time::{SystemTime, UNIX_EPOCH};

use tinydocker_tests::{settles, Running, TestRoot};

use super::api::Service;

/// Now, as Unix seconds with nine decimals (what `--since` takes).
fn now() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

const BRIEF: &str = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}";

#[test]
fn events_between_since_and_until_show_each_containers_life() {
    let root = TestRoot::new();
    let since = now();
    root.run(&[
        "run",
        "--name",
        "ev-x",
        "--label",
        "tier=front",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ])
    .code(3);
    root.run(&["rm", "ev-x"]).ok();
    root.run(&["run", "-d", "--name", "ev-y", "busybox", "sleep", "100"])
        .ok();
    // sleep, pid 1, ignores SIGTERM: stop kills it after its grace.
    root.run(&["stop", "-t", "1", "ev-y"]).ok();
    root.run(&["rm", "ev-y"]).ok();
    let until = now();
    let range = ["events", "--since", &since, "--until", &until];

    let brief = root.run(&[&range[..], &["--format", BRIEF]].concat());
    brief.ok();
    assert_eq!(
        brief.lines(),
        [
            "container create ev-x",
            "container start ev-x",
            "container die ev-x",
            "container destroy ev-x",
            "container create ev-y",
            "container start ev-y",
            "container kill ev-y",
            "container kill ev-y",
            "container die ev-y",
            "container stop ev-y",
            "container destroy ev-y",
        ]
    );

    // `system events` is the same command, as docker's.
    let system = root.run(&[&["system"][..], &range[..], &["--format", BRIEF]].concat());
    assert_eq!(system.ok().lines(), brief.lines());

    // docker's line: time, type, action, id, the attributes by key.
    let die = root.run(&[&range[..], &["-f", "event=die", "-f", "container=ev-x"]].concat());
    die.ok();
    let line = die.text();
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() == 30 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{line}"
    );
    let (head, attrs) = rest.split_once(" (").unwrap();
    let id = head.strip_prefix("container die ").unwrap();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    assert_eq!(attrs, "exitCode=3, image=busybox, name=ev-x, tier=front)");

    // The kills' signals, in docker's JSON.
    let kills = root.run(
        &[
            &range[..],
            &["--filter", "event=kill", "--format", "{{json .}}"],
        ]
        .concat(),
    );
    kills.ok();
    let kills: Vec<serde_json::Value> = kills
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let signals: Vec<&str> = kills
        .iter()
        .map(|k| k["Actor"]["Attributes"]["signal"].as_str().unwrap())
        .collect();
    assert_eq!(signals, ["15", "9"]);
    assert_eq!(kills[0]["status"], "kill");
    assert_eq!(kills[0]["from"], "busybox");
    assert_eq!(kills[0]["scope"], "local");
    assert_eq!(kills[0]["Type"], "container");

    // Labels, and keys docker does not know.
    let front = root.run(&[&range[..], &["-f", "label=tier=front", "--format", BRIEF]].concat());
    front.ok();
    assert_eq!(front.lines().len(), 4, "{front:?}");
    root.run(&["events", "--until", &until, "-f", "colour=red"])
        .code(1)
        .stderr_has("Invalid filter 'colour'");
    root.run(&["events", "--until", &until, "-f", "nonsense"])
        .code(1)
        .stderr_has("bad format of filter (expected name=value)");
}

#[test]
fn events_without_until_follow_new_ones() {
    let root = TestRoot::new();
    let since = now();
    let mut follower = root.spawn(&[
        "events",
        "--since",
        &since,
        "--filter",
        "event=start",
        "--filter",
        "container=ev-f",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    root.run(&["run", "--name", "ev-other", "busybox", "true"])
        .ok();
    root.run(&["run", "--name", "ev-f", "busybox", "true"]).ok();
    follower.expect_line("start ev-f");
    // Read up to the last event: what comes now comes live.
    root.run(&["start", "ev-f"]).ok();
    follower.expect_line("start ev-f");
    follower.signal(libc::SIGTERM);
    follower.finish();
    root.run(&["rm", "-f", "ev-f", "ev-other"]).ok();
}

/// The service's inotify instances (a follower's watch of the journal).
fn inotify_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|target| target.to_string_lossy() == "anon_inode:inotify")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn docker_events_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    let since = now();
    root.run(&["run", "--name", "ev-d", "busybox", "true"]).ok();
    root.run(&["rm", "ev-d"]).ok();
    let until = now();
    let range = ["events", "--since", &since, "--until", &until];
    let all = service.docker(&[&range[..], &["--format", BRIEF]].concat());
    all.ok();
    assert_eq!(
        all.lines(),
        [
            "container create ev-d",
            "container start ev-d",
            "container die ev-d",
            "container destroy ev-d",
        ]
    );
    service
        .docker(
            &[
                &range[..],
                &[
                    "--filter",
                    "event=die",
                    "--format",
                    "{{.Actor.Attributes.exitCode}}",
                ],
            ]
            .concat(),
        )
        .ok()
        .stdout_is("0");

    // Following, until the client goes: then the service drops its watch.
    let idle = inotify_fds(service.child.id());
    let mut follower = Running::spawn(service.docker_cmd(&[
        "events",
        "--since",
        &until,
        "--filter",
        "event=start",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]));
    root.run(&["run", "--name", "ev-s", "busybox", "true"]).ok();
    follower.expect_line("start ev-s");
    assert_eq!(inotify_fds(service.child.id()), idle + 1);
    drop(follower);
    assert!(
        settles(|| inotify_fds(service.child.id()) == idle),
        "the service kept watching for a client that went"
    );
    root.run(&["rm", "ev-s"]).ok();
}

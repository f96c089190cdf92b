//! `system df`, `system prune` and `system reset`, from the command line
//! and through the service with docker's own client; the volume and image
//! endpoints docker's `volume`, `image prune`, `import`, `build` and
//! `ps -s` use.

use std::fs;

use tinydocker_tests::{busybox_rootfs, entries, mounts_mentioning, settles, TempDir, TestRoot};

use super::api::Service;
use super::cgroups::{cgroup_dirs, unique_parent, ParentGuard};
use super::network::{
    create_network, free_port, inspect, link_exists, nft_map, nft_table, subnets_in, tag,
};

/// docker's size text ("1.23MB", "512B") in bytes, roughly.
fn bytes(text: &str) -> f64 {
    let at = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or_else(|| panic!("no unit in {text:?}"));
    let (number, unit) = text.split_at(at);
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// Import the busybox root filesystem under `name` with `change`: a new
/// image (its config differs from busybox's) that takes `name` from any
/// image that had it, leaving that one dangling.
fn import_as(root: &TestRoot, name: &str, change: &str) -> String {
    let out = root.run(&[
        "import",
        "-c",
        change,
        &busybox_rootfs().to_string_lossy(),
        name,
    ]);
    out.ok();
    out.text().to_string()
}

/// `system df --format`'s rows of TYPE, TOTAL and ACTIVE.
fn df_counts(root: &TestRoot) -> String {
    let out = root.run(&[
        "system",
        "df",
        "--format",
        "{{.Type}}:{{.TotalCount}}:{{.Active}}",
    ]);
    out.ok();
    out.stdout
}

#[test]
fn system_df_counts_and_measures_images_containers_and_volumes() {
    let root = TestRoot::new();
    assert_eq!(
        df_counts(&root),
        "Images:1:0\nContainers:0:0\nLocal Volumes:0:0\nBuild Cache:0:0\n"
    );
    // 300 kB in a volume, 200 kB in a stopped container's layer.
    root.run(&[
        "run",
        "--name",
        "writer",
        "-v",
        "dfvol:/data",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/data/f bs=1k count=300 && dd if=/dev/zero of=/big bs=1k count=200",
    ])
    .ok();
    assert_eq!(
        df_counts(&root),
        "Images:1:1\nContainers:1:0\nLocal Volumes:1:1\nBuild Cache:0:0\n"
    );
    let sizes = root.run(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    sizes.ok();
    let rows: Vec<Vec<&str>> = sizes
        .lines()
        .iter()
        .map(|l| l.split('|').collect())
        .collect();
    let containers = bytes(rows[1][1]);
    assert!((200e3..300e3).contains(&containers), "{sizes:?}");
    // Stopped: all of it reclaimable.
    assert!(rows[1][2].ends_with("(100%)"), "{sizes:?}");
    let volumes = bytes(rows[2][1]);
    assert!((300e3..400e3).contains(&volumes), "{sizes:?}");
    assert_eq!(rows[2][2], "0B (0%)", "{sizes:?}");
    assert!(bytes(rows[0][1]) > 500e3, "busybox: {sizes:?}");

    let table = root.run(&["system", "df"]);
    table.ok();
    assert_eq!(
        table.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    assert!(table.lines()[3].starts_with("Local Volumes "), "{table:?}");
    let verbose = root.run(&["system", "df", "-v"]);
    verbose.ok();
    for needle in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ] {
        assert!(verbose.stdout.contains(needle), "{verbose:?}");
    }
    let volume_row = verbose
        .lines()
        .into_iter()
        .find(|l| l.starts_with("dfvol "))
        .unwrap_or_else(|| panic!("{verbose:?}"))
        .split_whitespace()
        .map(String::from)
        .collect::<Vec<_>>();
    assert_eq!(volume_row[1], "1", "LINKS: {verbose:?}");
    assert!(
        verbose
            .lines()
            .iter()
            .any(|l| l.starts_with("busybox ") && l.ends_with(" 1")),
        "{verbose:?}"
    );
}

#[test]
fn system_prune_removes_what_nothing_uses() {
    let root = TestRoot::new();
    let net = format!("prune{}", tag());
    create_network(&root, &net, subnets_in(238));
    let done = root.detach(&["--name", "done", "busybox", "true"]);
    assert!(
        settles(|| root.run(&["ps", "-q"]).text().is_empty()),
        "done never ended"
    );
    let live = root.detach(&["--name", "live", "busybox", "sleep", "1000"]);
    root.run(&["volume", "create", "spare"]).ok();
    let dangling = import_as(&root, "extra:1", "ENV A=1");
    let extra = import_as(&root, "extra:1", "ENV A=2");

    // Asked, and answered no: nothing goes.
    let asked = root.run_with_stdin(&["system", "prune"], b"n\n");
    asked.ok();
    assert!(
        asked
            .stdout
            .starts_with("WARNING! This will remove:\n  - all stopped containers\n"),
        "{asked:?}"
    );
    assert_eq!(root.container_ids().len(), 2);

    // Filtered: only the labelled stopped container goes.
    let labelled = root.detach(&["--label", "sweep=1", "busybox", "true"]);
    assert!(
        settles(|| root.run(&["ps", "-q"]).text() == &live[..12]),
        "the labelled one never ended"
    );
    let filtered = root.run(&["system", "prune", "-f", "--filter", "label=sweep=1"]);
    filtered.ok();
    assert!(
        filtered.stdout.starts_with(&format!(
            "Deleted Containers:\n{labelled}\n\nTotal reclaimed space: "
        )),
        "{filtered:?}"
    );
    root.run(&["system", "prune", "-f", "--filter", "until=soon"])
        .code(125)
        .stderr_has("invalid until");

    let pruned = root.run(&["system", "prune", "-f"]);
    pruned.ok();
    let text = &pruned.stdout;
    assert!(
        text.contains(&format!("Deleted Containers:\n{done}\n")),
        "{pruned:?}"
    );
    assert!(
        text.contains(&format!("Deleted Networks:\n{net}\n")),
        "{pruned:?}"
    );
    assert!(
        text.contains(&format!("Deleted Images:\ndeleted: {dangling}\n")),
        "{pruned:?}"
    );
    assert!(!text.contains("Deleted Volumes"), "{pruned:?}");
    assert!(text.contains("Total reclaimed space: "), "{pruned:?}");
    assert_eq!(root.container_ids(), std::slice::from_ref(&live));
    root.run(&["volume", "inspect", "spare"]).ok();
    root.run(&["image", "inspect", &extra]).ok();

    let with_volumes = root.run(&["system", "prune", "-f", "--volumes"]);
    with_volumes.ok();
    assert!(
        with_volumes.stdout.contains("Deleted Volumes:\nspare\n"),
        "{with_volumes:?}"
    );
    root.run(&["image", "inspect", &extra]).ok();

    // -a: every image no container uses; busybox is live's.
    let all = root.run(&["system", "prune", "-a", "-f"]);
    all.ok();
    assert!(
        all.stdout.contains(&format!(
            "Deleted Images:\nuntagged: extra:1\ndeleted: {extra}\n"
        )),
        "{all:?}"
    );
    root.run(&["image", "inspect", "busybox"]).ok();
    assert_eq!(root.container_ids(), [live]);
}

/// Kill everything of a container from outside tinydocker (its supervisor,
/// then every process of its cgroup) and remove its cgroup, as a crash
/// or a careless admin would leave it: its network entries stay.
fn kill_behind_its_back(root: &TestRoot, id: &str, parent: &str) {
    let record = root.record(id);
    let supervisor = record["state"]["runtime_pid"].as_i64().unwrap() as i32;
    assert!(supervisor > 0, "no supervisor: {record}");
    // SAFETY: a signal to a process of the test's own making.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    let cgroups = cgroup_dirs(&format!("{parent}/{id}"));
    assert!(!cgroups.is_empty(), "no cgroup {parent}/{id}");
    for dir in &cgroups {
        for pid in fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
        {
            // SAFETY: as above.
            unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
        }
    }
    for dir in &cgroups {
        assert!(
            settles(|| fs::remove_dir(dir).is_ok() || !dir.exists()),
            "cgroup {} never emptied",
            dir.display()
        );
    }
}

#[test]
fn system_reset_removes_what_a_deleted_root_left_on_the_host() {
    let parent = unique_parent();
    let _parent = ParentGuard(parent.clone());
    let gone = TestRoot::new();
    let name = format!("gone{}", tag());
    create_network(&gone, &name, subnets_in(239));
    let net = inspect(&gone, &name);
    let port = free_port();
    let published = format!("tcp . {port} : ");
    let id = gone.detach(&[
        "--network",
        &name,
        "--cgroup-parent",
        &parent,
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(nft_map("ports_any").contains(&published));
    kill_behind_its_back(&gone, &id, &parent);
    fs::remove_dir_all(gone.path()).unwrap();
    assert!(link_exists(&net.bridge), "nothing took it away yet");
    assert!(nft_map("ports_any").contains(&published));

    let other = TestRoot::empty();
    // A root that exists keeps its network.
    let kept = format!("kept{}", tag());
    create_network(&other, &kept, subnets_in(239));
    let kept_bridge = inspect(&other, &kept).bridge;
    let bystander = TestRoot::empty();
    let safe = format!("safe{}", tag());
    create_network(&bystander, &safe, subnets_in(239));
    let safe_bridge = inspect(&bystander, &safe).bridge;

    other.run(&["system", "reset", "-f"]).ok();
    assert!(
        !link_exists(&net.bridge),
        "bridge {} is still there",
        net.bridge
    );
    assert!(!link_exists(&kept_bridge), "the reset root's own bridge");
    let ports = nft_map("ports_any");
    assert!(!ports.contains(&published), "{ports}");
    // Its set element and its chain's rules name the bridge (the subnet
    // and its chain's name may already be another network's, freed).
    let table = nft_table();
    assert!(!table.contains(&net.bridge), "{table}");
    assert!(link_exists(&safe_bridge), "another root's bridge went");
    assert_eq!(entries(other.path()), Vec::<String>::new());
    bystander.run(&["network", "rm", &safe]).ok();
}

#[test]
fn system_reset_of_a_root_with_running_containers_leaves_nothing() {
    let parent = unique_parent();
    let _parent = ParentGuard(parent.clone());
    let root = TestRoot::new();
    let name = format!("rst{}", tag());
    create_network(&root, &name, subnets_in(239));
    let port = free_port();
    let published = format!("tcp . {port} : ");
    let running = root.detach(&[
        "--name",
        "up",
        "--network",
        &name,
        "--cgroup-parent",
        &parent,
        "-p",
        &format!("{port}:80"),
        "-v",
        "resetvol:/data",
        "busybox",
        "sleep",
        "1000",
    ]);
    let net = inspect(&root, &name);
    let veth = format!("veth{}", &running[..7]);
    assert!(link_exists(&veth));
    root.run(&["run", "--cgroup-parent", &parent, "busybox", "true"])
        .ok();

    let asked = root.run_with_stdin(&["system", "reset"], b"n\n");
    asked.ok();
    assert!(
        asked.stdout.starts_with("WARNING! This will remove:\n"),
        "{asked:?}"
    );
    assert_eq!(root.container_ids().len(), 2);

    root.run(&["system", "reset", "-f"]).ok();
    assert_eq!(entries(root.path()), Vec::<String>::new());
    assert!(!link_exists(&net.bridge), "bridge {}", net.bridge);
    assert!(settles(|| !link_exists(&veth)), "veth {veth}");
    assert!(!nft_map("ports_any").contains(&published));
    assert!(!nft_table().contains(&net.bridge));
    assert_eq!(mounts_mentioning(root.path()), Vec::<String>::new());
    let cgroups: Vec<String> = cgroup_dirs(&parent)
        .iter()
        .flat_map(|d| entries(d))
        .filter(|e| e.len() == 64)
        .collect();
    assert_eq!(cgroups, Vec::<String>::new(), "cgroups under {parent}");
    // The root works again, from nothing.
    root.run(&["images", "-q"]).ok().stdout_is("");
}

#[test]
fn docker_system_df_volumes_prune_import_build_and_ps_size_through_the_service() {
    let root = TestRoot::new();
    let service = Service::start(&root);
    root.run(&[
        "run",
        "--name",
        "sized",
        "-v",
        "apivol:/data",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1k count=100",
    ])
    .ok();
    service
        .docker(&[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ])
        .ok()
        .stdout_is("Images 1 1\nContainers 1 0\nLocal Volumes 1 1\nBuild Cache 0 0");
    let verbose = service.docker(&["system", "df", "-v"]);
    verbose.ok();
    assert!(
        verbose.lines().iter().any(|l| l.starts_with("apivol ")),
        "{verbose:?}"
    );
    let size = service.docker(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
    size.ok();
    assert!(size.text().contains("(virtual "), "{size:?}");
    assert!(
        bytes(size.text().split(' ').next().unwrap()) >= 100e3,
        "{size:?}"
    );

    // Volumes.
    service
        .docker(&["volume", "create", "--label", "team=api", "labelled"])
        .ok()
        .stdout_is("labelled");
    service
        .docker(&["volume", "ls", "-q", "--filter", "label=team=api"])
        .ok()
        .stdout_is("labelled");
    service
        .docker(&["volume", "ls", "-q", "--filter", "dangling=true"])
        .ok()
        .stdout_is("labelled");
    service
        .docker(&[
            "volume",
            "inspect",
            "--format",
            "{{.Driver}} {{.Labels.team}}",
            "labelled",
        ])
        .ok()
        .stdout_is("local api");
    service
        .docker(&["volume", "create", "-o", "type=tmpfs", "withopts"])
        .code(1)
        .stderr_has("takes no options");
    service
        .docker(&["volume", "inspect", "nosuch"])
        .code(1)
        .stderr_has("No such volume: nosuch");
    service
        .docker(&["volume", "rm", "apivol"])
        .code(1)
        .stderr_has("volume is in use");
    service
        .docker(&["volume", "rm", "nosuch"])
        .code(1)
        .stderr_has("No such volume: nosuch");
    service.docker(&["volume", "rm", "-f", "nosuch"]).ok();
    let pruned = service.docker(&["volume", "prune", "-f"]);
    pruned.ok();
    assert!(
        pruned.stdout.contains("Deleted Volumes:\nlabelled\n"),
        "{pruned:?}"
    );
    root.run(&["volume", "inspect", "apivol"]).ok();

    // Import through images/create?fromSrc=-, with a change.
    let work = TempDir::new("system-import");
    let (tar, _) = tinydocker_tests::tarballs(busybox_rootfs(), work.path());
    let imported = service.docker(&[
        "import",
        "--change",
        "CMD [\"echo\", \"imported\"]",
        &tar.to_string_lossy(),
        "imported:v1",
    ]);
    imported.ok();
    assert!(imported.text().starts_with("sha256:"), "{imported:?}");
    root.run(&["run", "--rm", "imported:v1"])
        .ok()
        .stdout_is("imported");
    // Imported again, the name goes to the new image: the old one dangles.
    service
        .docker(&[
            "import",
            "--change",
            "ENV X=1",
            &tar.to_string_lossy(),
            "imported:v1",
        ])
        .ok();
    let image_pruned = service.docker(&["image", "prune", "-f"]);
    image_pruned.ok();
    assert!(
        image_pruned
            .stdout
            .contains(&format!("deleted: {}", imported.text())),
        "{image_pruned:?}"
    );
    let all = service.docker(&["image", "prune", "-a", "-f"]);
    all.ok();
    assert!(all.stdout.contains("untagged: imported:v1"), "{all:?}");
    root.run(&["image", "inspect", "busybox"]).ok();

    // No builds.
    let context = work.join("context");
    fs::create_dir_all(&context).unwrap();
    fs::write(context.join("Dockerfile"), "FROM busybox\n").unwrap();
    service
        .docker(&["build", "-t", "built", &context.to_string_lossy()])
        .code(1)
        .stderr_has("tinydocker does not build images: use buildah");
}

/// docker's kill and stop reach a paused container: the signal is
/// delivered (the container thawed), its trap runs, and it is not paused.
#[test]
fn kill_and_stop_reach_a_paused_container() {
    let root = TestRoot::new();
    let trap = "trap 'exit 7' USR1; trap 'exit 9' TERM; while :; do sleep 0.05; done";
    // Paused only once its traps are set: before, the kernel drops a
    // USR1 or TERM to a namespace's init that has no handler for it.
    let trapping = |id: &str| {
        let pid = crate::config::inspect(&root, id)["State"]["Pid"]
            .as_i64()
            .unwrap();
        let caught = (1u64 << (libc::SIGUSR1 - 1)) | (1u64 << (libc::SIGTERM - 1));
        assert!(tinydocker_tests::settles(|| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .is_some_and(|m| m & caught == caught)
        }));
    };
    let killed = root.detach(&["busybox", "sh", "-c", trap]);
    trapping(&killed);
    root.run(&["pause", &killed]).ok();
    root.run(&["kill", "-s", "USR1", &killed]).ok();
    root.run(&["wait", &killed]).ok().stdout_is("7");
    let stopped = root.detach(&["busybox", "sh", "-c", trap]);
    trapping(&stopped);
    root.run(&["pause", &stopped]).ok();
    root.run(&["stop", "-t", "30", &stopped]).ok();
    root.run(&["wait", &stopped]).ok().stdout_is("9");
    for id in [&killed, &stopped] {
        let state = crate::config::inspect(&root, id)["State"].clone();
        assert_eq!(state["Paused"], false, "{state}");
    }
}

//! Named volumes: `volume create|inspect|ls|rm|prune` and `run -v
//! NAME:PATH`, as docker's local driver keeps them.

use tinydocker_tests::TestRoot;

use crate::config::{import_volume_image, inspect, volumes};

/// `volume inspect NAME`'s one object.
fn volume_json(root: &TestRoot, name: &str) -> serde_json::Value {
    let out = root.run(&["volume", "inspect", name]);
    out.ok();
    let all: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    all[0].clone()
}

/// `volume ls` with `args`, names only, in order.
fn listed(root: &TestRoot, args: &[&str]) -> Vec<String> {
    let mut all = vec!["volume", "ls"];
    all.extend_from_slice(args);
    let out = root.run(&all);
    out.ok();
    let lines = out.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    lines[1..]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells[0], "local", "{l}");
            cells[1].to_string()
        })
        .collect()
}

#[test]
fn volume_create_and_inspect() {
    let root = TestRoot::new();
    root.run(&[
        "volume", "create", "--label", "team=db", "--label", "tier", "data1",
    ])
    .ok()
    .stdout_is("data1");
    // Again: the same volume, as docker.
    root.run(&["volume", "create", "data1"])
        .ok()
        .stdout_is("data1");
    let v = volume_json(&root, "data1");
    assert_eq!(v["Name"], "data1");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"], serde_json::json!({ "team": "db", "tier": "" }));
    assert_eq!(
        v["Mountpoint"],
        root.path()
            .join("volumes/data1/_data")
            .display()
            .to_string()
    );
    assert!(v["CreatedAt"].as_str().unwrap().starts_with("20"), "{v}");
    assert!(v["Options"].is_null());

    // No name: 64 hex digits.
    let out = root.run(&["volume", "create"]);
    out.ok();
    let generated = out.text().to_string();
    assert!(
        generated.len() == 64 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
        "{generated}"
    );
    assert!(volume_json(&root, &generated)["Labels"].is_null());

    // Missing ones: code 1, what was found still printed.
    let out = root.run(&["volume", "inspect", "data1", "nope"]);
    out.code(1)
        .one_error_line()
        .stderr_has("no such volume: nope");
    let found: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(found[0]["Name"], "data1");

    // Bad input: code 1, one line, nothing made.
    for bad in [
        &["volume", "create", "a/b"][..],
        &["volume", "create", "--driver", "nfs", "nfsvol"][..],
        &["volume", "create", "--label", "=x", "lab"][..],
        &["volume", "create", "--name", "one", "two"][..],
    ] {
        root.run(bad).code(1).one_error_line();
    }
    let mut expected = vec!["data1".to_string(), generated];
    expected.sort();
    assert_eq!(volumes(&root), expected);

    // Filters.
    assert_eq!(listed(&root, &["--filter", "label=team=db"]), ["data1"]);
    assert_eq!(
        listed(&root, &["-f", "label=tier", "-f", "name=ta1"]),
        ["data1"]
    );
    assert!(listed(&root, &["--filter", "label=team=web"]).is_empty());
    assert_eq!(listed(&root, &["--filter", "dangling=true"]).len(), 2);
    assert!(listed(&root, &["--filter", "dangling=false"]).is_empty());
    root.run(&["volume", "ls", "--filter", "colour=red"])
        .code(1)
        .one_error_line();

    root.run(&["volume", "rm", "data1"]).ok().stdout_is("data1");
    root.run(&["volume", "inspect", "data1"])
        .code(1)
        .stderr_has("no such volume");
}

#[test]
fn named_volumes_are_made_on_first_use_filled_and_kept() {
    let root = TestRoot::new();
    let _tmp = import_volume_image(&root, "vol");
    // Made on first use, filled with the image's /data, kept after --rm.
    root.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "-v",
        "shared:/data",
        "vol",
        "sh",
        "-c",
        "cat /data/hello; stat -c '%u:%g %a' /data/hello; echo one > /data/new",
    ])
    .ok()
    .stdout_is("from the image\n1000:1000 640");
    let data = root.path().join("volumes/shared/_data");
    assert_eq!(std::fs::read_to_string(data.join("new")).unwrap(), "one\n");
    // Not empty now: not filled again (the image's hello is back only in
    // an empty volume); ro honoured.
    std::fs::remove_file(data.join("hello")).unwrap();
    root.run(&[
        "run",
        "--name",
        "reader",
        "--pull",
        "never",
        "-v",
        "shared:/data:ro",
        "vol",
        "sh",
        "-c",
        "cat /data/new; test -e /data/hello || echo no hello; touch /data/x || echo ro",
    ])
    .ok()
    .stdout_is("one\nno hello\nro");
    let mounts = inspect(&root, "reader")["Mounts"].clone();
    let mount = mounts
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap_or_else(|| panic!("no /data in {mounts}"))
        .clone();
    assert_eq!(mount["Type"], "volume");
    assert_eq!(mount["Name"], "shared");
    assert_eq!(mount["RW"], false);
    // The image's other Volumes path still gets an anonymous volume.
    let mut names = volumes(&root);
    assert_eq!(names.len(), 2, "{names:?}");
    names.retain(|n| n != "shared");
    let anonymous = names.pop().unwrap();

    // In use by a stopped container: not removed, not pruned.
    root.run(&["volume", "rm", "shared"])
        .code(1)
        .one_error_line()
        .stderr_has("volume is in use");
    assert_eq!(
        listed(&root, &["--filter", "dangling=true"]),
        Vec::<String>::new()
    );
    root.run(&["volume", "prune", "-f"])
        .ok()
        .stdout_is("Total reclaimed space: 0B");

    // rm -v: the anonymous volume goes, the named one stays.
    root.run(&["rm", "-v", "reader"]).ok();
    assert_eq!(volumes(&root), ["shared"]);
    assert!(!root.path().join("volumes").join(&anonymous).exists());
    assert_eq!(listed(&root, &["--filter", "dangling=true"]), ["shared"]);

    // A volume made by `volume create` and first mounted empty is filled.
    root.run(&["volume", "create", "made"]).ok();
    root.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "-v",
        "made:/data",
        "vol",
        "cat",
        "/data/hello",
    ])
    .ok()
    .stdout_is("from the image");

    // A run that fails before its container is made leaves no volume it
    // made, and keeps the ones that were there.
    root.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "-v",
        "fresh:/data",
        "-v",
        "made:/m",
        "-u",
        "nosuchuser",
        "vol",
        "true",
    ])
    .code(125)
    .one_error_line();
    let mut expected = vec!["made".to_string(), "shared".to_string()];
    expected.sort();
    assert_eq!(volumes(&root), expected);
    // A bad name: nothing made.
    root.run(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "-v",
        "a$b:/data",
        "vol",
        "true",
    ])
    .usage_error()
    .stderr_has("includes invalid characters for a local volume name");

    // docker 20.10's prune: unused named volumes go too.
    root.run(&["volume", "prune", "-f"]).ok();
    assert!(volumes(&root).is_empty());
    assert_eq!(
        tinydocker_tests::entries(&root.path().join("volumes")),
        ["lock"]
    );
}

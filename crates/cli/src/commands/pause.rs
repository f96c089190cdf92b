//! `tinydocker pause CONTAINER...` and `unpause CONTAINER...`: freeze and
//! thaw every process of running containers through their cgroup's
//! freezer (`cgroup.freeze` on v2, `freezer.state` on v1).

use tinydocker_engine::Engine;

use crate::cli::ContainersArgs;

/// docker's code when any container failed.
const FAILED: i32 = 1;

/// Pause (or unpause) each container, in order: its name as given when
/// done, else the error, and on with the others, as docker.
pub fn pause(engine: &Engine, args: ContainersArgs, pause: bool) -> i32 {
    let mut failed = false;
    for key in &args.containers {
        let done = if pause {
            engine.pause(key)
        } else {
            engine.resume(key)
        };
        match done {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("tinydocker: {}", e.one_line());
                failed = true;
            }
        }
    }
    if failed {
        FAILED
    } else {
        0
    }
}

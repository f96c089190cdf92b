//! One module per operation on a container, as youki's `container/` has
//! them: making and starting it the first time (`create`), starting it
//! again (`start`), the launch both share (`launch`), recording its end
//! (`finish`), `stop` and `kill`, `remove` and `prune`, `wait`, `exec`,
//! `update`, `stats`, `connect` (to networks beside the first), and
//! `images` for what removing an image must know of the containers.
//! `update`, `stats`, `root` (its filesystem from outside, for `cp` and
//! `export`), and `images` for what removing an image must know
//! of the containers.

pub(crate) mod attach;
pub(crate) mod connect;
pub(crate) mod create;
pub(crate) mod exec;
pub(crate) mod finish;
pub(crate) mod images;
pub(crate) mod launch;
pub(crate) mod oci;
pub(crate) mod prune;
pub(crate) mod remove;
pub(crate) mod root;
pub(crate) mod start;
pub(crate) mod stats;
pub(crate) mod stop;
pub(crate) mod update;
pub(crate) mod wait;

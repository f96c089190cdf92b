//! v2 device access control: cgroup v2 has no devices controller; an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup
//! (bpf(2), `BPF_PROG_ATTACH` with `BPF_CGROUP_DEVICE`) decides every open
//! and mknod of a device node by its processes and their descendants'.
//! The program itself is built in [`super::bpf`].

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use super::bpf::Insn;
use crate::sys::{self, is_errno};
use crate::{DeviceControl, Error};

pub(crate) struct Devices;

/// The program's license: the kernel only asks for a GPL-compatible one
/// before GPL-only helpers, which the device program does not call.
const LICENSE: &std::ffi::CStr = c"Apache-2.0";

/// The program's name, as `bpftool prog` shows it.
const PROG_NAME: &str = "tinydocker_dev";

impl Devices {
    /// Load `program` and attach it to the cgroup at `dir`, open as
    /// `cgroup`. The program fd is closed on return: the attachment keeps
    /// the program alive until the cgroup goes.
    pub(crate) fn attach(
        dir: &Path,
        cgroup: BorrowedFd<'_>,
        program: &[Insn],
    ) -> Result<DeviceControl, Error> {
        let is_cgroup2 = sys::is_cgroup2(cgroup).map_err(|source| Error::OpenDir {
            path: dir.into(),
            source,
        })?;
        if !is_cgroup2 {
            // A fake cgroupfs in a test, or a wrong root: the kernel would
            // refuse the attach with EBADF.
            return Ok(DeviceControl::Unavailable(format!(
                "{} is not on a cgroup2 filesystem",
                dir.display()
            )));
        }
        let prog = match sys::bpf_load_device_program(program, LICENSE, PROG_NAME) {
            Ok(fd) => fd,
            Err(err) if unsupported(&err) => {
                return Ok(DeviceControl::Unavailable(format!(
                    "the kernel refused the eBPF device program: {}",
                    describe(&err)
                )))
            }
            Err(source) => {
                return Err(Error::LoadDeviceProgram {
                    path: dir.into(),
                    source,
                })
            }
        };
        match sys::bpf_attach_device_program(cgroup, prog.as_fd()) {
            Ok(()) => Ok(DeviceControl::Enforced),
            Err(err) if unsupported(&err) => Ok(DeviceControl::Unavailable(format!(
                "the kernel refused to attach the eBPF device program to {}: {}",
                dir.display(),
                describe(&err)
            ))),
            Err(source) => Err(Error::AttachDeviceProgram {
                path: dir.into(),
                source,
            }),
        }
    }
}

/// The errnos of a host that cannot run the program: no privilege
/// (EPERM: no CAP_BPF/CAP_SYS_ADMIN, a seccomp filter or a lockdown), a
/// kernel without the program type (EINVAL, EOPNOTSUPP) or without bpf(2)
/// (ENOSYS).
fn unsupported(err: &io::Error) -> bool {
    [libc::EPERM, libc::EINVAL, libc::ENOSYS, libc::EOPNOTSUPP]
        .iter()
        .any(|&errno| is_errno(err, errno))
}

/// The error's text without Rust's " (os error N)" suffix, for a reason
/// a user reads.
fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_well() {
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        assert!(unsupported(&eperm));
        assert_eq!(describe(&eperm), "Operation not permitted");
        assert!(!unsupported(&io::Error::from_raw_os_error(libc::EACCES)));
    }
}

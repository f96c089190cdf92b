//! The compiled classic BPF program (`seccomp(2)`, `SECCOMP_SET_MODE_FILTER`)
//! and the one system call that installs it in the child.

use std::fmt;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// The size of one `struct sock_filter` as libseccomp exports it: `code`
/// (u16), `jt`, `jf` (u8), `k` (u32), in host byte order.
const INSN_SIZE: usize = 8;

/// Whether `bytes` can be a program: a whole number of instructions, not
/// empty, not over the kernel's limit.
pub(crate) fn is_program(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len().is_multiple_of(INSN_SIZE)
        && bytes.len() / INSN_SIZE <= MAX_INSTRUCTIONS
}

/// A seccomp filter ready to load: built in the parent by
/// [`compile`](super::compile), loaded in the child by [`Filter::load`].
#[derive(Clone)]
pub struct Filter {
    /// Between 1 and [`MAX_INSTRUCTIONS`] instructions.
    program: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*`.
    flags: u32,
}

impl Filter {
    /// A program in libseccomp's export format; `None` unless
    /// [`is_program`].
    pub(crate) fn from_bytes(bytes: &[u8], flags: u32) -> Option<Filter> {
        if !is_program(bytes) {
            return None;
        }
        let program = bytes
            .chunks_exact(INSN_SIZE)
            .map(|b| libc::sock_filter {
                code: u16::from_ne_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            })
            .collect();
        Some(Filter { program, flags })
    }

    /// The program in libseccomp's export format (what the cache holds).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.program.len() * INSN_SIZE);
        for insn in &self.program {
            bytes.extend_from_slice(&insn.code.to_ne_bytes());
            bytes.extend_from_slice(&[insn.jt, insn.jf]);
            bytes.extend_from_slice(&insn.k.to_ne_bytes());
        }
        bytes
    }

    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Always false: a compiled filter has at least its default action.
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The `seccomp(2)` flags [`load`](Filter::load) passes (0 unless the
    /// profile lists `flags`).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Install the filter on the calling thread. For the child between
    /// `clone` and `execve(2)`: no allocation, no locks, one `seccomp(2)`
    /// call. Returns the errno on failure: `EACCES` when the thread has
    /// neither `no_new_privs` nor `CAP_SYS_ADMIN`, `EINVAL` for a program
    /// the kernel rejects.
    ///
    /// The filter stays for the life of the process and its children, so
    /// load it last, after everything that needs calls it denies.
    ///
    /// ```no_run
    /// use tinydocker_security::caps::CapSet;
    /// use tinydocker_security::seccomp::{self, Profile};
    ///
    /// let resolved = seccomp::resolve(&Profile::docker_default(), &CapSet::default_set())?;
    /// let filter = seccomp::compile(&resolved, None)?;
    /// // ... in the child, after prctl(PR_SET_NO_NEW_PRIVS, 1):
    /// if let Err(errno) = filter.load() {
    ///     // report errno to the parent and _exit
    /// }
    /// # Ok::<(), seccomp::Error>(())
    /// ```
    pub fn load(&self) -> Result<(), i32> {
        // At most MAX_INSTRUCTIONS (from_bytes checks), so its length fits.
        crate::sys::seccomp_set_mode_filter(&self.program, self.flags).map_err(|e| e as i32)
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let bytes: Vec<u8> = (0u8..16).collect();
        let filter = Filter::from_bytes(&bytes, 0).unwrap();
        assert_eq!(filter.len(), 2);
        assert_eq!(filter.to_bytes(), bytes);
    }

    #[test]
    fn rejects_partial_empty_and_oversized_programs() {
        assert!(Filter::from_bytes(&[], 0).is_none());
        assert!(Filter::from_bytes(&[0; 12], 0).is_none());
        assert!(Filter::from_bytes(&vec![0; (MAX_INSTRUCTIONS + 1) * INSN_SIZE], 0).is_none());
        assert!(Filter::from_bytes(&vec![0; MAX_INSTRUCTIONS * INSN_SIZE], 0).is_some());
    }
}

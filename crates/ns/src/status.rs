//! How a process ended, and the shell-style exit code that goes with it.

/// How the container's init ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// Decode a raw `waitpid(2)` status.
    pub fn from_raw(status: i32) -> Self {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        }
    }

    /// The exit code a shell (and docker) reports: the code itself, or 128+N
    /// for a process killed by signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(sig) => 128 + sig,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_shell_convention() {
        assert_eq!(ExitStatus::Exited(0).code(), 0);
        assert_eq!(ExitStatus::Exited(3).code(), 3);
        assert_eq!(ExitStatus::Signaled(libc::SIGKILL).code(), 137);
        assert_eq!(ExitStatus::Signaled(libc::SIGTERM).code(), 143);
    }

    #[test]
    fn raw_statuses_decode() {
        // exit(3): status 3 << 8; killed by SIGKILL: status 9.
        assert_eq!(ExitStatus::from_raw(3 << 8), ExitStatus::Exited(3));
        assert_eq!(ExitStatus::from_raw(9), ExitStatus::Signaled(9));
    }
}

//! How a run ends (DESIGN.md §5), and how an error says which ending it means. Every
//! capability classifies its own errors beside them: "stop: this may be tampering" (1),
//! "fix the command" (2), "retry later" (3).

use std::error::Error;

/// The process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: everything verified.
    Ok,
    /// 3: network or I/O trouble; retrying later may help.
    Io,
    /// 1: verification failed: stop, this may be tampering.
    Failed,
    /// 2: the command line was wrong.
    Usage,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Io => 3,
        }
    }

    /// The status of two results together: a failed verification outranks an I/O
    /// error, so a script never retries what looked like tampering.
    pub fn and(self, other: ExitStatus) -> ExitStatus {
        self.max(other)
    }
}

/// An error that knows what it means for the run, and the next step if there is one.
pub trait Classified: Error {
    fn exit_status(&self) -> ExitStatus;

    /// The capability's own next step for this error, if it knows one.
    fn hint(&self) -> Option<String> {
        None
    }

    /// What to tell the user to do next: the capability's hint, else "retry later" for
    /// what was network or I/O trouble.
    fn next_step(&self) -> Option<String> {
        self.hint()
            .or_else(|| (self.exit_status() == ExitStatus::Io).then(|| "this may be temporary: retry later".into()))
    }

    /// The message with its causes, on one line, for a report line.
    fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}

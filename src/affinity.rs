//! Pinning threads to CPUs. On a machine with few cores the engine's p99 is
//! the scheduler's: the engine thread is preempted by the journal's storage
//! thread, sled's IO threads and kernel writeback. Giving the engine thread
//! a CPU of its own, and the journal's threads another, is how trading
//! systems are run (`taskset`, `isolcpus`); this does it from inside, since
//! the engine and the journal's threads live in one process.
//!
//! The order matters: a thread inherits its creator's CPUs. `record` pins
//! its thread to the storage CPU, opens the journal (whose storage thread,
//! and every sled thread started from it, inherit that CPU), then pins
//! itself to the engine CPU.

use std::str::FromStr;

/// Where the engine thread and the journal's threads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuPins {
    pub engine: usize,
    pub storage: usize,
}

impl FromStr for CpuPins {
    type Err = AffinityError;

    /// `ENGINE,STORAGE`, two CPU numbers: `0,1`.
    fn from_str(text: &str) -> Result<CpuPins, AffinityError> {
        let malformed = || AffinityError::Malformed { text: text.to_owned() };
        let (engine, storage) = text.split_once(',').ok_or_else(malformed)?;
        let engine = engine.trim().parse().map_err(|_| malformed())?;
        let storage = storage.trim().parse().map_err(|_| malformed())?;
        Ok(CpuPins { engine, storage })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AffinityError {
    #[error("'{text}' is not two CPU numbers ENGINE,STORAGE (for example 0,1)")]
    Malformed { text: String },
    #[error("CPU {cpu} is not one this process may run on (it may use {allowed})")]
    NotAllowed { cpu: usize, allowed: String },
    #[error("pinning a thread to CPU {cpu} failed: {reason}")]
    Failed { cpu: usize, reason: String },
    #[error("pinning threads to CPUs is supported on Linux only")]
    Unsupported,
}

/// Runs the calling thread on `cpu` only, from now on; threads it starts
/// later inherit that.
#[cfg(target_os = "linux")]
pub fn pin_current_thread(cpu: usize) -> Result<(), AffinityError> {
    use nix::sched::{sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let allowed = allowed_cpus()?;
    if !allowed.contains(&cpu) {
        let allowed = allowed.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
        return Err(AffinityError::NotAllowed { cpu, allowed });
    }
    let mut set = CpuSet::new();
    set.set(cpu).map_err(|error| AffinityError::Failed { cpu, reason: error.to_string() })?;
    // Pid 0 is the calling thread (not the whole process).
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|error| AffinityError::Failed { cpu, reason: error.to_string() })
}

#[cfg(not(target_os = "linux"))]
pub fn pin_current_thread(_cpu: usize) -> Result<(), AffinityError> {
    Err(AffinityError::Unsupported)
}

/// The CPUs this process may use: those of the first thread to ask, read
/// before any pinning (a pinned thread's own set is one CPU, which must not
/// stop it from being moved to another).
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> Result<Vec<usize>, AffinityError> {
    static ALLOWED: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    if let Some(allowed) = ALLOWED.get() {
        return Ok(allowed.clone());
    }
    let allowed = thread_cpus()?;
    Ok(ALLOWED.get_or_init(|| allowed).clone())
}

/// The CPUs the calling thread may run on now.
#[cfg(target_os = "linux")]
fn thread_cpus() -> Result<Vec<usize>, AffinityError> {
    use nix::sched::{sched_getaffinity, CpuSet};
    use nix::unistd::Pid;
    let set = sched_getaffinity(Pid::from_raw(0))
        .map_err(|error| AffinityError::Failed { cpu: 0, reason: format!("reading the allowed CPUs: {error}") })?;
    Ok((0..CpuSet::count()).filter(|&cpu| set.is_set(cpu).unwrap_or(false)).collect())
}

#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> Result<Vec<usize>, AffinityError> {
    Err(AffinityError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_two_cpu_numbers() {
        assert_eq!("0,1".parse::<CpuPins>(), Ok(CpuPins { engine: 0, storage: 1 }));
        assert_eq!(" 3 , 2 ".parse::<CpuPins>(), Ok(CpuPins { engine: 3, storage: 2 }));
        for bad in ["", "0", "0;1", "a,1", "0,-1", "0,1,2"] {
            assert!(matches!(bad.parse::<CpuPins>(), Err(AffinityError::Malformed { .. })), "{bad:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pinned_thread_runs_on_its_cpu_only_can_be_moved_and_a_foreign_cpu_is_refused() {
        let allowed = allowed_cpus().unwrap();
        let (first, last) = (allowed[0], *allowed.last().unwrap());
        let inside = std::thread::spawn(move || {
            pin_current_thread(last).unwrap();
            let pinned = thread_cpus().unwrap();
            pin_current_thread(first).unwrap();
            (pinned, thread_cpus().unwrap())
        });
        assert_eq!(inside.join().unwrap(), (vec![last], vec![first]), "pinned, then moved");
        assert_eq!(thread_cpus().unwrap(), allowed, "only the pinned thread changed");
        let foreign = beyond_every_cpu();
        let error = std::thread::spawn(move || pin_current_thread(foreign)).join().unwrap().unwrap_err();
        assert!(matches!(error, AffinityError::NotAllowed { cpu, .. } if cpu == foreign), "{error}");
    }

    /// A CPU number no process may use.
    #[cfg(target_os = "linux")]
    fn beyond_every_cpu() -> usize {
        nix::sched::CpuSet::count() + 1
    }
}

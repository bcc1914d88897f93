//! Small pages only: the process opts out of transparent huge pages.
//!
//! mimalloc asks for huge pages (`MADV_HUGEPAGE`) on its arenas, so the first
//! touch of fresh memory zeroes a whole 2 MiB page at once. On the VM these
//! figures come from such a fault took up to ~2.5 ms, and a run that grew its
//! heap through a burst of them lost up to half its throughput (the engine
//! bench swung from 0.41 to 0.83 M ticks/s between identical runs). With 4 KiB
//! pages the same growth costs the same bytes of zeroing, spread over many
//! cheap faults: the runs stop swinging. Redis and Oracle Database give the
//! same advice for their servers: latency spikes from huge-page faults and
//! compaction outweigh the fewer TLB misses.

/// Opts this process (and any child it starts) out of transparent huge pages
/// for memory it touches from now on. Call it first thing in `main`. Only
/// speed depends on it, so a caller may ignore a failure.
#[cfg(target_os = "linux")]
pub fn small_pages_only() -> std::io::Result<()> {
    nix::sys::prctl::set_thp_disable(true).map_err(std::io::Error::from)
}

/// Elsewhere there are no transparent huge pages to opt out of.
#[cfg(not(target_os = "linux"))]
pub fn small_pages_only() -> std::io::Result<()> {
    Ok(())
}

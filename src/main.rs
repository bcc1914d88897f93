//! The `tradeledger` binary; everything it does lives in `tradeledger::cli`.

/// mimalloc instead of glibc's allocator: the engine allocates and frees
/// small objects on one thread and the journal's storage thread frees the
/// frames it stores; glibc's arenas trimmed and re-faulted pages under that
/// pattern (page faults were a fifth of the engine benchmark's time), and
/// mimalloc's per-thread free lists do not. The library leaves the choice to
/// the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Only speed depends on it (see `tradeledger::memory`): a kernel that
    // refuses it leaves the process as it was.
    let _ = tradeledger::memory::small_pages_only();
    tradeledger::cli::main()
}

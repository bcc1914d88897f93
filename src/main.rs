//! The `tradeledger` binary; everything it does lives in `tradeledger::cli`.

fn main() -> std::process::ExitCode {
    tradeledger::cli::main()
}

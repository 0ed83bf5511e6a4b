//! The `falsematch` binary: parse arguments, run, map the outcome to an exit code.
//! Exit codes: 0 success, 1 a check failed, 2 bad input or an error.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // A closed pipe (`falsematch scenarios | head`) is not an error.
            if err
                .chain()
                .filter_map(|e| e.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", falsematch::format::error_line(err.as_ref()));
            ExitCode::from(2)
        }
    }
}

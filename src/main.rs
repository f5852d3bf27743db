//! Entry point: runs the command line and turns an error into one clear line and exit code 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    match stadtkarte::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` writes the whole chain of causes on one line.
            eprintln!("stadtkarte: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

//! `flowlyctl`: see the library's documentation and `flowlyctl --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = flowlyctl::cli::Cli::parse();
    match flowlyctl::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowlyctl: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

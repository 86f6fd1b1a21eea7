//! `privml`: private machine learning with three-party secret sharing.

mod demo;
mod federated;

use clap::{Parser, Subcommand};

/// Private machine learning with secure three-party computation.
#[derive(Parser)]
#[command(name = "privml", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the experiments of the source tutorial and article.
    Demo(demo::DemoArgs),
    /// Federated learning: clients train locally, updates are aggregated
    /// by secret sharing (mpc) or homomorphic encryption (he).
    Federated(federated::FederatedArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Federated(a) => federated::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

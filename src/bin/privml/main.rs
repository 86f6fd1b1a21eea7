//! `privml`: private machine learning with three-party secret sharing.
// Arguments and files reach most of this binary: no `unwrap()` (see src/lib.rs).
#![warn(clippy::unwrap_used)]

/// `print!` for the command's results. If stdout is closed (piped into
/// `head`, say), the program ends quietly instead of panicking; any other
/// write error ends it with the error on stderr.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            $crate::stdout_failed(e)
        }
    }};
}

/// `println!` with the handling of [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            $crate::stdout_failed(e)
        }
    }};
}

mod args;
mod bench;
mod cost;
#[cfg(feature = "tls")]
mod dealer;
mod demo;
mod federated;
mod import;
#[cfg(feature = "tls")]
mod keygen;
#[cfg(feature = "tls")]
mod party;
mod plot;
mod predict;
#[cfg(feature = "tls")]
mod serve;
mod share;
mod site;
mod site_he;
mod train;

use clap::{Parser, Subcommand};

// Three parties in one process allocate large buffers in one thread and
// free them in another (in-memory messages move between threads); mimalloc
// handles that without the arena locks and page faults glibc's malloc
// spends a quarter of the CPU on in the benchmarks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Train an MLP on a CSV table (or a bundled data set), privately.
    Train(train::TrainArgs),
    /// Predict with a saved model on new rows.
    Predict(predict::PredictArgs),
    /// Import an ONNX model: its owner secret-shares the weights into one
    /// share file per party.
    Import(import::ImportArgs),
    /// Export a saved model to ONNX: the weights are opened to the model
    /// owner (party 0 unless --owner says otherwise) only.
    Export(import::ExportArgs),
    /// What one prediction with a saved model costs under MPC (rounds,
    /// bytes per party, comparisons), from the cost model, before running
    /// it.
    Cost(cost::CostArgs),
    /// Split a table into the three parties' dataset share files (the
    /// hand-over without a network; `privml party ... train --input`
    /// trains on them).
    Share(share::ShareArgs),
    /// Combine the three parties' output share files (models, datasets).
    Reconstruct(share::ReconstructArgs),
    /// Draw figures (sigmoid approximations).
    Plot(plot::PlotArgs),
    /// Time the benchmark workloads against plaintext f64 in the same process.
    Bench(bench::BenchArgs),
    /// Run one party of a job over TCP with mutual TLS (the other two
    /// parties run elsewhere with the same job).
    #[cfg(feature = "tls")]
    Party(party::PartyArgs),
    /// The dealer of the two-party protocol (--protocol 2pc): deal
    /// correlated randomness live as id 2 over TLS, or write both parties'
    /// preprocessing files for a job ahead of time.
    #[cfg(feature = "tls")]
    Dealer(dealer::DealerArgs),
    /// Write the public values a two-party train or predict job will
    /// announce (the data's shapes, the model id), for a dealer that deals
    /// ahead of time (`privml dealer --out DIR --announced FILE`).
    #[cfg(feature = "tls")]
    Announce(dealer::AnnounceArgs),
    /// One party as a long-running service for outside clients (data
    /// providers), until SIGTERM or Ctrl-C.
    #[cfg(feature = "tls")]
    Serve(serve::ServeArgs),
    /// A client of the three serving parties: upload a table as shares.
    #[cfg(feature = "tls")]
    Client(serve::ClientArgs),
    /// Write a deployment CA, certificates and keys for the three parties,
    /// and a parties file.
    #[cfg(feature = "tls")]
    Keygen(keygen::KeygenArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Federated(a) => federated::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Import(a) => import::run(a),
        Command::Export(a) => import::export(a),
        Command::Cost(a) => cost::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Share(a) => share::run(a),
        Command::Reconstruct(a) => share::reconstruct(a),
        #[cfg(feature = "tls")]
        Command::Party(a) => party::run(a),
        #[cfg(feature = "tls")]
        Command::Dealer(a) => dealer::run(a),
        #[cfg(feature = "tls")]
        Command::Announce(a) => dealer::announce(a),
        #[cfg(feature = "tls")]
        Command::Keygen(a) => keygen::run(a),
        #[cfg(feature = "tls")]
        Command::Serve(a) => serve::run(a),
        #[cfg(feature = "tls")]
        Command::Client(a) => serve::client(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Ends the program after a failed write to stdout: silently with success
/// when the reader went away (broken pipe), else with the error.
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("privml: cannot write to stdout: {e}");
    std::process::exit(1);
}

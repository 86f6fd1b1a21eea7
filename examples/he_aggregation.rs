//! One federated round with homomorphic aggregation, end to end, at the size
//! that matters: 100 clients × 10^5 parameters (override with
//! `-- CLIENTS PARAMS`).
//!
//! ```text
//! cargo run --release --example he_aggregation            # 100 x 100000
//! RAYON_NUM_THREADS=1 cargo run --release --example he_aggregation
//! ```
//!
//! Prints per-client encryption time and bytes, the aggregator's time, the
//! owner's decryption time, and the plaintext sum as the reference, and
//! checks the decrypted sum against it.

use std::time::{Duration, Instant};

use privml::he::{Aggregator, EncryptedUpdate, HeParams, KeyPair};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> privml::Result<()> {
    let mut args = std::env::args().skip(1);
    let parse = |a: Option<String>, default: usize| -> privml::Result<usize> {
        a.map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| privml::Error::invalid("argument", format!("'{s}' is not a count")))
        })
    };
    let clients = parse(args.next(), 100)?;
    let len = parse(args.next(), 100_000)?;
    let params = HeParams::default();
    println!(
        "{clients} clients x {len} parameters; {params}; {} rayon threads",
        rayon::current_num_threads()
    );
    println!(
        "fixed point: 2^-{} resolution, |x| <= {:.1} per client, sum tolerance {:.2e}",
        params.frac_bits(),
        params.max_abs_value(),
        params.sum_tolerance(clients)
    );

    // Model owner: key generation.
    let t = Instant::now();
    let (pk, sk) = KeyPair::generate(&params)?;
    let keygen = t.elapsed();
    let pk_bytes = pk.to_bytes();

    // Local training stand-in: random updates (not timed).
    let mut rng = StdRng::seed_from_u64(7);
    let updates: Vec<Vec<f64>> = (0..clients)
        .map(|_| (0..len).map(|_| rng.random_range(-0.5..0.5)).collect())
        .collect();

    // Clients: each encrypts and serialises its update.
    let mut wire = Vec::with_capacity(clients);
    let mut client_times = Vec::with_capacity(clients);
    for u in &updates {
        let t = Instant::now();
        let bytes = pk.encrypt_update(u)?.to_bytes();
        client_times.push(t.elapsed());
        wire.push(bytes);
    }
    let client_total: Duration = client_times.iter().sum();
    let client_max = client_times.iter().max().copied().unwrap_or_default();
    let bytes_per_client = wire.first().map_or(0, Vec::len);

    // Aggregator: decode and add, public key only.
    let t = Instant::now();
    let mut agg = Aggregator::new(pk, len);
    for (i, bytes) in wire.iter().enumerate() {
        agg.add(&format!("client-{i}"), &EncryptedUpdate::from_bytes(bytes)?)?;
    }
    let sum = agg.finish();
    let aggregate = t.elapsed();
    let sum_bytes = sum.byte_len();

    // Model owner: decrypt the sum.
    let t = Instant::now();
    let decrypted = sk.decrypt_sum(&sum)?;
    let decrypt = t.elapsed();

    // Reference: the plaintext sum a trusted aggregator would compute.
    let t = Instant::now();
    let mut reference = vec![0.0f64; len];
    for u in &updates {
        for (r, x) in reference.iter_mut().zip(u) {
            *r += x;
        }
    }
    let plain = t.elapsed();

    let max_err = decrypted
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);

    println!(
        "key generation:             {:9.1} ms (public key {} bytes)",
        ms(keygen),
        pk_bytes.len()
    );
    println!(
        "client encrypt + serialise: {:9.1} ms per client (mean; max {:.1} ms), {:.2} s for all {clients}",
        ms(client_total) / clients as f64,
        ms(client_max),
        client_total.as_secs_f64()
    );
    println!(
        "bytes per client:           {bytes_per_client} ({:.2} bytes per parameter; plaintext f64 {} bytes)",
        bytes_per_client as f64 / len as f64,
        len * 8
    );
    println!(
        "aggregator decode + add:    {:9.1} ms total, {:.2} ms per client",
        ms(aggregate),
        ms(aggregate) / clients as f64
    );
    println!("encrypted sum:              {sum_bytes} bytes");
    println!("owner decrypt sum:          {:9.1} ms", ms(decrypt));
    println!("plaintext sum (reference):  {:9.3} ms", ms(plain));
    println!(
        "max |decrypted - plaintext| = {max_err:.3e} (tolerance {:.3e})",
        params.sum_tolerance(clients)
    );
    if max_err > params.sum_tolerance(clients) + 1e-9 {
        return Err(privml::Error::invalid(
            "sum",
            "decrypted sum outside the tolerance",
        ));
    }
    Ok(())
}

use privml::{Ring, Shared};
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20000);
    let t = std::time::Instant::now();
    let out = Shared::<u64>::simulate(|r| {
        let x = r.scalar(1.0)?;
        let t0 = std::time::Instant::now();
        for _ in 0..n {
            r.reshare(&x)?;
        }
        Ok(t0.elapsed())
    })
    .unwrap();
    println!(
        "{} rounds: {:?} per round (party0), total {:?}",
        n,
        out[0] / n as u32,
        t.elapsed()
    );
}

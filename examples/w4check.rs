use ndarray::arr2;
use privml::approx::sigmoid;
use privml::nn::{self, Activation};
use privml::{Fixed, Plain, Ring, Shared};

fn run<R: Ring>(r: &mut R) -> privml::Result<Vec<f64>> {
    let x = arr2(&[[0., 0., 1.], [0., 1., 1.], [1., 0., 1.], [1., 1., 1.]]).into_dyn();
    let y = arr2(&[[0.], [1.], [1.], [0.]]).into_dyn();
    let xs = r.input(1, r.owns(1).then_some(&x), &[4, 3])?;
    let ys = r.input(1, r.owns(1).then_some(&y), &[4, 1])?;
    let mut net = nn::three_layer(r, Activation::sigmoid(sigmoid::notebook_effective()), 1)?;
    let party = r.party();
    nn::train_full_batch(r, &mut net, &xs, &ys, 10000, 1.0, 1000, |e| if party.unwrap_or(0) == 0 { println!("Error: {}", e.error) })?;
    let p = net.predict(r, &xs)?;
    Ok(r.reveal(&p)?.iter().copied().collect())
}

fn main() {
    let t = std::time::Instant::now();
    println!("plain {:?} {:?}", run(&mut Plain::new()), t.elapsed());
    let t = std::time::Instant::now();
    println!("fixed64 {:?} {:?}", run(&mut Fixed::<u64>::new()), t.elapsed());
    let t = std::time::Instant::now();
    println!("fixed128 {:?} {:?}", run(&mut Fixed::<u128>::new()), t.elapsed());
    let t = std::time::Instant::now();
    let s = Shared::<u64>::simulate(|r| run(r));
    println!("shared64 {:?} {:?}", s.map(|v| v[0].clone()), t.elapsed());
}

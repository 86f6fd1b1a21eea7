//! Homomorphic aggregation: sums match plaintext sums within the fixed-point
//! tolerance; bad submissions and bad bytes are refused without harm.
//!
//! Sizes are kept small (a few ciphertexts) so the file runs in seconds on
//! two cores.
#![cfg(feature = "he")]

use privml::Error;
use privml::error::DecodeError;
use privml::he::{
    Aggregator, EncryptedSum, EncryptedUpdate, HeParams, KeyPair, PublicKey, Rejection, SecretKey,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn keys(seed: u64, params: HeParams) -> (PublicKey, SecretKey) {
    KeyPair::generate_with_rng(&params, &mut StdRng::seed_from_u64(seed)).expect("keygen")
}

fn random_update(rng: &mut StdRng, len: usize, amplitude: f64) -> Vec<f64> {
    (0..len)
        .map(|_| rng.random_range(-amplitude..=amplitude))
        .collect()
}

fn plain_sum(updates: &[Vec<f64>]) -> Vec<f64> {
    let mut s = vec![0.0; updates[0].len()];
    for u in updates {
        for (a, b) in s.iter_mut().zip(u) {
            *a += b;
        }
    }
    s
}

/// Asserts |got − want| ≤ tolerance element-wise (plus f64 rounding of the
/// reference sum).
fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let slack = tol + 4.0 * f64::EPSILON * w.abs().max(1.0);
        assert!(
            (g - w).abs() <= slack,
            "element {i}: got {g}, want {w}, |diff| {} > {slack}",
            (g - w).abs()
        );
    }
}

fn aggregate(pk: &PublicKey, updates: &[Vec<f64>], rng: &mut StdRng) -> EncryptedSum {
    let mut agg = Aggregator::new(pk.clone(), updates[0].len());
    for (i, u) in updates.iter().enumerate() {
        let enc = pk.encrypt_update_with_rng(u, rng).expect("encrypt");
        // Through the wire, as in a deployment.
        let enc = EncryptedUpdate::from_bytes(&enc.to_bytes()).expect("decode");
        agg.add(&format!("client-{i}"), &enc).expect("add");
    }
    assert_eq!(agg.count(), updates.len());
    agg.finish()
}

#[test]
fn sum_matches_plaintext_for_various_lengths_and_client_counts() {
    let params = HeParams::default();
    let (pk, sk) = keys(1, params);
    let mut rng = StdRng::seed_from_u64(2);
    // Lengths below, at, just above and not a multiple of the 4096 slots.
    for (len, clients) in [(1, 1), (7, 3), (4095, 2), (4096, 4), (4097, 3), (9000, 5)] {
        let updates: Vec<Vec<f64>> = (0..clients)
            .map(|_| random_update(&mut rng, len, 100.0))
            .collect();
        let sum = aggregate(&pk, &updates, &mut rng);
        assert_eq!(sum.len(), len);
        assert_eq!(sum.count(), clients);
        assert_eq!(sum.num_ciphertexts(), len.div_ceil(4096));
        let got = sk.decrypt_sum(&sum).expect("decrypt");
        assert_close(&got, &plain_sum(&updates), params.sum_tolerance(clients));
    }
}

#[test]
fn extreme_values_sum_to_the_edge_without_wrapping() {
    // Every client at ±max: the sum reaches ±max_clients·max, the edge of
    // the plaintext space, and still decodes exactly.
    let params = HeParams::new(16, 4).expect("params");
    let (pk, sk) = keys(3, params);
    let mut rng = StdRng::seed_from_u64(4);
    let m = params.max_abs_value();
    let updates = vec![vec![m, -m, 0.0, m / 3.0]; 4];
    let sum = aggregate(&pk, &updates, &mut rng);
    let got = sk.decrypt_sum(&sum).expect("decrypt");
    assert_close(&got, &plain_sum(&updates), params.sum_tolerance(4));
    // The mean is the sum over the count.
    let mean = sk.decrypt_mean(&sum).expect("mean");
    assert!((mean[0] - m).abs() <= params.resolution());
    assert!((mean[1] + m).abs() <= params.resolution());
}

#[test]
fn fine_resolution_parameters() {
    let params = HeParams::new(30, 8).expect("params");
    let (pk, sk) = keys(5, params);
    let mut rng = StdRng::seed_from_u64(6);
    let updates: Vec<Vec<f64>> = (0..3).map(|_| random_update(&mut rng, 10, 1e-3)).collect();
    let got = sk
        .decrypt_sum(&aggregate(&pk, &updates, &mut rng))
        .expect("decrypt");
    assert_close(&got, &plain_sum(&updates), params.sum_tolerance(3));
    assert!(params.sum_tolerance(3) < 2e-9);
}

#[test]
fn out_of_range_and_non_finite_values_are_errors_naming_the_index() {
    let params = HeParams::new(16, 100).expect("params");
    let (pk, _) = keys(7, params);
    let max = params.max_abs_value();
    assert!(pk.encrypt_update(&[max, -max]).is_ok());

    let just_over = max + params.resolution();
    match pk.encrypt_update(&[0.0, 1.0, -just_over]) {
        Err(Error::OutOfRange {
            value,
            index,
            max: m,
            ..
        }) => {
            assert_eq!((value, index), (-just_over, 2));
            assert_eq!(m, max);
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    let msg = pk.encrypt_update(&[1e12]).expect_err("too big").to_string();
    assert!(
        msg.contains("1000000000000") && msg.contains("element 0"),
        "{msg}"
    );

    for (bad, at) in [(f64::NAN, 1), (f64::INFINITY, 0), (f64::NEG_INFINITY, 3)] {
        let mut v = vec![0.5; 4];
        v[at] = bad;
        match pk.encrypt_update(&v) {
            Err(Error::NonFinite { index, .. }) => assert_eq!(index, at),
            other => panic!("expected NonFinite, got {other:?}"),
        }
    }
    assert!(matches!(
        pk.encrypt_update(&[]),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn rejected_submissions_leave_the_sum_untouched() {
    let params = HeParams::new(16, 3).expect("params");
    let (pk, sk) = keys(8, params);
    let (other_pk, _) = keys(9, params);
    let (other_params_pk, _) = keys(8, HeParams::new(12, 3).expect("params"));
    let mut rng = StdRng::seed_from_u64(10);
    let len = 5000;
    let good: Vec<Vec<f64>> = (0..3).map(|_| random_update(&mut rng, len, 10.0)).collect();

    let mut agg = Aggregator::new(pk.clone(), len);
    let enc = |k: &PublicKey, u: &[f64], rng: &mut StdRng| {
        k.encrypt_update_with_rng(u, rng).expect("encrypt")
    };
    agg.add("a", &enc(&pk, &good[0], &mut rng)).expect("a");

    let reason = |r: privml::Result<()>| match r {
        Err(Error::UpdateRejected { client, reason }) => (client, reason),
        other => panic!("expected a rejection, got {other:?}"),
    };
    // Wrong length (one value short, and a shorter number of ciphertexts).
    let (client, why) = reason(agg.add("short", &enc(&pk, &good[1][..len - 1], &mut rng)));
    assert_eq!(client, "short");
    assert_eq!(
        why,
        Rejection::WrongLength {
            expected: len,
            got: len - 1
        }
    );
    let (_, why) = reason(agg.add("tiny", &enc(&pk, &[1.0], &mut rng)));
    assert!(matches!(why, Rejection::WrongLength { got: 1, .. }));
    // Another key with the same parameters.
    let (_, why) = reason(agg.add("mallory", &enc(&other_pk, &good[1], &mut rng)));
    assert!(matches!(why, Rejection::WrongKey { .. }));
    // Other fixed-point parameters.
    let (_, why) = reason(agg.add("f12", &enc(&other_params_pk, &good[1], &mut rng)));
    assert!(matches!(why, Rejection::WrongParameters { .. }));
    // The same client twice.
    let (_, why) = reason(agg.add("a", &enc(&pk, &good[1], &mut rng)));
    assert_eq!(why, Rejection::Duplicate);
    // Corrupted in transit: refused at decoding, never reaches the sum.
    let mut bytes = enc(&pk, &good[1], &mut rng).to_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    assert!(matches!(
        EncryptedUpdate::from_bytes(&bytes),
        Err(Error::Decode {
            error: DecodeError::Checksum,
            ..
        })
    ));
    assert_eq!(agg.count(), 1);

    agg.add("b", &enc(&pk, &good[1], &mut rng)).expect("b");
    agg.add("c", &enc(&pk, &good[2], &mut rng)).expect("c");
    // max_clients = 3: a fourth would risk wrap-around.
    let (_, why) = reason(agg.add("d", &enc(&pk, &good[2], &mut rng)));
    assert_eq!(why, Rejection::TooManyUpdates { max: 3 });

    let got = sk.decrypt_sum(&agg.finish()).expect("decrypt");
    assert_close(&got, &plain_sum(&good), params.sum_tolerance(3));
}

#[test]
fn from_bytes_rejects_truncated_padded_and_random_input() {
    let params = HeParams::default();
    let (pk, _) = keys(11, params);
    let mut rng = StdRng::seed_from_u64(12);
    let update = pk
        .encrypt_update_with_rng(&random_update(&mut rng, 5000, 1.0), &mut rng)
        .expect("encrypt");
    let bytes = update.to_bytes();
    assert_eq!(bytes.len(), update.byte_len());
    assert_eq!(bytes.len(), params.encrypted_len(5000));
    assert_eq!(
        EncryptedUpdate::from_bytes(&bytes).expect("ok").to_bytes(),
        bytes
    );

    // Every truncation point in the header, and some in the body.
    for cut in (0..64).chain([bytes.len() / 2, bytes.len() - 1]) {
        assert!(
            matches!(
                EncryptedUpdate::from_bytes(&bytes[..cut]),
                Err(Error::Decode {
                    error: DecodeError::Truncated { .. },
                    ..
                })
            ),
            "cut at {cut}"
        );
    }
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(EncryptedUpdate::from_bytes(&padded).is_err());
    // An update is not a sum, and vice versa.
    assert!(EncryptedSum::from_bytes(&bytes, 5000).is_err());
    // Each header field flipped: an error, never a panic.
    for i in 0..48 {
        let mut b = bytes.clone();
        b[i] ^= 0x80;
        assert!(EncryptedUpdate::from_bytes(&b).is_err(), "header byte {i}");
    }
    // Random bytes of many lengths, with and without a valid-looking header.
    for len in [0, 1, 47, 48, 49, 1000, 63_536, bytes.len()] {
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        assert!(EncryptedUpdate::from_bytes(&noise).is_err());
        assert!(EncryptedSum::from_bytes(&noise, 5000).is_err());
        assert!(PublicKey::from_bytes(&noise).is_err());
        let mut framed = bytes[..48.min(len)].to_vec();
        framed.extend_from_slice(&noise[framed.len()..]);
        assert!(EncryptedUpdate::from_bytes(&framed).is_err());
    }
}

#[test]
fn sums_and_public_keys_round_trip_through_bytes() {
    let params = HeParams::new(20, 10).expect("params");
    let (pk, sk) = keys(13, params);
    let pk_bytes = pk.to_bytes();
    let pk2 = PublicKey::from_bytes(&pk_bytes).expect("public key");
    assert_eq!(pk2.key_id(), pk.key_id());
    assert_eq!(pk2.params(), pk.params());
    for cut in [0, 10, 16, 100, pk_bytes.len() - 1] {
        assert!(
            PublicKey::from_bytes(&pk_bytes[..cut]).is_err(),
            "cut {cut}"
        );
    }
    // A valid header followed by garbage, and single flipped bytes.
    let mut noise_rng = StdRng::seed_from_u64(99);
    for len in [1, 100, pk_bytes.len() - 16] {
        let mut b = pk_bytes[..16].to_vec();
        b.extend((0..len).map(|_| noise_rng.random::<u8>()));
        assert!(PublicKey::from_bytes(&b).is_err(), "garbage body of {len}");
    }
    for i in [0, 5, 8, 16, 17, 20, 1000, pk_bytes.len() - 1] {
        let mut b = pk_bytes.clone();
        b[i] ^= 0xff;
        if let Ok(k) = PublicKey::from_bytes(&b) {
            // A changed coefficient still parses, but it is another key.
            assert_ne!(k.key_id(), pk.key_id(), "byte {i}");
        }
    }

    // Clients that received the key as bytes encrypt for the same owner.
    let mut rng = StdRng::seed_from_u64(14);
    let updates: Vec<Vec<f64>> = (0..2).map(|_| random_update(&mut rng, 300, 5.0)).collect();
    let sum = aggregate(&pk2, &updates, &mut rng);
    let sum_bytes = sum.to_bytes();
    assert_eq!(sum_bytes.len(), sum.byte_len());
    let sum2 = EncryptedSum::from_bytes(&sum_bytes, 300).expect("sum");
    assert_eq!(sum2.count(), 2);
    let got = sk.decrypt_sum(&sum2).expect("decrypt");
    assert_close(&got, &plain_sum(&updates), params.sum_tolerance(2));
    let mut bad = sum_bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(EncryptedSum::from_bytes(&bad, 300).is_err());
    // The right bytes for a model of another size: refused.
    assert!(EncryptedSum::from_bytes(&sum_bytes, 301).is_err());
}

#[test]
fn a_sum_only_decrypts_under_its_own_key() {
    let params = HeParams::default();
    let (pk, _sk) = keys(15, params);
    let (_, other_sk) = keys(16, params);
    let mut agg = Aggregator::new(pk.clone(), 3);
    agg.add("a", &pk.encrypt_update(&[1.0, 2.0, 3.0]).expect("encrypt"))
        .expect("add");
    assert!(matches!(
        other_sk.decrypt_sum(&agg.finish()),
        Err(Error::KeyMismatch { .. })
    ));
}

#[test]
fn empty_aggregate() {
    let params = HeParams::default();
    let (pk, sk) = keys(17, params);
    let sum = Aggregator::new(pk, 5).finish();
    assert_eq!(sum.count(), 0);
    assert_eq!(sk.decrypt_sum(&sum).expect("zeros"), vec![0.0; 5]);
    assert!(sk.decrypt_mean(&sum).is_err());
    let back = EncryptedSum::from_bytes(&sum.to_bytes(), 5).expect("round trip");
    assert_eq!(back.count(), 0);
}

/// The wire checksum (64-bit FNV-1a over little-endian 8-byte words of
/// header bytes 0..40 and the body, finished with the byte length), as the
/// `he` module documents it: lets a test forge a well-formed header.
fn wire_checksum(parts: &[&[u8]]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut total = 0u64;
    for part in parts {
        total += part.len() as u64;
        for c in part.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        }
    }
    (h ^ total).wrapping_mul(PRIME)
}

#[test]
fn a_sum_that_declares_more_values_than_the_owner_expects_is_refused_before_allocating() {
    // A sum of zero updates carries no ciphertext, so nothing in its bytes
    // bounds the number of values it declares; decrypting one that declares
    // 2^61 values would allocate 2^64 bytes. The owner passes the length of
    // its model, and decoding checks it from the header.
    let (pk, _) = keys(19, HeParams::default());
    let mut bytes = Aggregator::new(pk, 5).finish().to_bytes();
    assert_eq!(bytes.len(), 48, "an empty sum is a bare header");
    bytes[24..32].copy_from_slice(&(1u64 << 61).to_le_bytes());
    let sum = wire_checksum(&[&bytes[..40]]);
    bytes[40..48].copy_from_slice(&sum.to_le_bytes());
    match EncryptedSum::from_bytes(&bytes, 5) {
        Err(Error::Decode {
            what: "encrypted sum",
            error: DecodeError::BadField { field, reason },
            ..
        }) => {
            assert_eq!(field, "number of values");
            assert!(reason.contains(&(1u64 << 61).to_string()), "{reason}");
        }
        other => panic!("expected a refusal naming the number of values, got {other:?}"),
    }
    // The forged header is otherwise well formed: with the length it
    // declares, it decodes (so the refusal above is the length check).
    let forged = EncryptedSum::from_bytes(&bytes, 1 << 61).expect("well-formed header");
    assert_eq!((forged.len(), forged.count()), (1 << 61, 0));
}

#[test]
fn secrets_are_redacted_in_debug() {
    let (pk, sk) = keys(18, HeParams::default());
    let s = format!("{sk:?}");
    assert!(s.contains("<redacted>"), "{s}");
    assert!(s.len() < 300, "{s}");
    assert!(format!("{pk:?}").len() < 300);
    let u = pk.encrypt_update(&[1.0]).expect("encrypt");
    assert!(format!("{u:?}").len() < 300);
}

#[test]
fn encryption_is_randomised_and_reproducible_with_a_seeded_rng() {
    let (pk, _) = keys(19, HeParams::default());
    let v = [1.0, 2.0, 3.0];
    let a = pk.encrypt_update(&v).expect("a").to_bytes();
    let b = pk.encrypt_update(&v).expect("b").to_bytes();
    assert_ne!(a, b, "two encryptions of the same update must differ");
    let c = pk
        .encrypt_update_with_rng(&v, &mut StdRng::seed_from_u64(1))
        .expect("c");
    let d = pk
        .encrypt_update_with_rng(&v, &mut StdRng::seed_from_u64(1))
        .expect("d");
    assert_eq!(c.to_bytes(), d.to_bytes());
}

/// Sums `clients` single-ciphertext updates at ±max_abs_value (the worst
/// case for both wrap-around and noise) and checks the decryption.
fn many_clients_at_the_bound(clients: u32) {
    let params = HeParams::new(16, clients).expect("params");
    let (pk, sk) = keys(20, params);
    let mut rng = StdRng::seed_from_u64(21);
    let m = params.max_abs_value();
    let update = [m, -m, 0.0, m / 2.0, -m / 7.0];
    let mut agg = Aggregator::new(pk.clone(), update.len());
    for i in 0..clients {
        let enc = pk
            .encrypt_update_with_rng(&update, &mut rng)
            .expect("encrypt");
        agg.add(&i.to_string(), &enc).expect("add");
    }
    let got = sk.decrypt_sum(&agg.finish()).expect("decrypt");
    let want: Vec<f64> = update.iter().map(|x| x * f64::from(clients)).collect();
    assert_close(&got, &want, params.sum_tolerance(clients as usize));
}

#[test]
fn sixty_four_clients_at_the_bound() {
    many_clients_at_the_bound(64);
}

/// The decryption-noise budget at `HeParams::MAX_CLIENTS` (about 25 s in
/// release): `cargo test --release --test suite he:: -- --ignored`.
#[test]
#[ignore = "slow: 16384 encryptions"]
fn max_clients_at_the_bound() {
    many_clients_at_the_bound(HeParams::MAX_CLIENTS);
}

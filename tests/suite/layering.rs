//! House rule of ARCHITECTURE.md: arrows point down only. The lowest layers
//! name only the modules below them in their code (doc links aside), so that
//! the transport never learns about domains or protocols and `ring` stays a
//! leaf next to the crate's error type.

use std::path::Path;

/// The first path segment of every `crate::` path in the code (comments
/// left out) of the `.rs` file `root`, or of every `.rs` file under the
/// directory `root`, with the file it is in. A group (`crate::{a::X, b}`)
/// counts each of its top-level names.
fn crate_modules_used(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in code.match_indices("crate::") {
            for name in first_segments(&code[at + "crate::".len()..]) {
                found.push((path.display().to_string(), name));
            }
        }
    }
    found
}

/// The first segment of the path that starts `rest`, or the top-level names
/// of the group `{...}` it starts with.
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let (mut names, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                names.push(ident(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

#[test]
fn first_segments_of_paths_and_groups() {
    assert_eq!(first_segments("error::{Error, Result};"), ["error"]);
    assert_eq!(
        first_segments("{\n    error::{DecodeError, Error},\n    ring::Payload,\n};"),
        ["error", "ring"]
    );
}

#[test]
fn net_and_ring_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules: [(&str, &[&str]); 4] = [
        ("net", &["net", "ring", "party_id", "private_file", "error"]),
        ("ring", &["ring", "error"]),
        ("party_id.rs", &[]),
        ("private_file.rs", &["error"]),
    ];
    // The scan sees an upward path where there is one: mpc uses the transport.
    assert!(
        crate_modules_used(&src.join("mpc"))
            .iter()
            .any(|(_, name)| name == "net")
    );
    for (module, allowed) in rules {
        let path = src.join(module);
        assert!(path.exists(), "{} is missing", path.display());
        let upward: Vec<_> = crate_modules_used(&path)
            .into_iter()
            .filter(|(_, name)| !allowed.contains(&name.as_str()))
            .collect();
        assert!(
            upward.is_empty(),
            "{module} may use only {allowed:?} of the crate, but: {upward:?}"
        );
    }
}

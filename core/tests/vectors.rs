//! Replays every conformance vector in `tests/vectors/` and compares the
//! output with the expected JSON.

use std::path::PathBuf;

use bangui_state_core::Trace;
use serde_json::Value;

fn vector_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_conformance_vector_replays_to_its_expected_output() {
    let files = vector_files();
    assert!(files.len() >= 9, "expected the vector files, found {files:?}");
    let mut steps = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let vector: Value = serde_json::from_str(line).unwrap();
            let name = vector["name"].as_str().unwrap_or("?");
            let trace = Trace::from_value(&vector).unwrap();
            let actual = serde_json::to_value(trace.replay()).unwrap();
            let expected = &vector["expected"];
            assert_eq!(
                actual.as_array().map(Vec::len),
                expected.as_array().map(Vec::len),
                "{}:{}: {name}: step count",
                file.display(),
                index + 1
            );
            for (step, (got, want)) in actual
                .as_array()
                .unwrap()
                .iter()
                .zip(expected.as_array().unwrap())
                .enumerate()
            {
                assert_eq!(got, want, "{}:{}: {name}: step {step}", file.display(), index + 1);
                steps += 1;
            }
        }
    }
    assert!(steps > 150, "only {steps} steps replayed");
}

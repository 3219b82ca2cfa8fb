//! Runs N steady-state fast-path health probes: a fixed workload for
//! `valgrind --tool=callgrind`, which counts instructions repeatably where
//! wall-clock timings are noisy. Usage: `probe_loop [N]` (default 1 000 000).

use std::hint::black_box;

use bangui_state_core::{Instant, Settings, State};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut state = State::new(Settings::new(true, 3600.0).unwrap());
    let now = Instant::from_unix_micros(1_777_305_600_000_000).unwrap();
    state.health_probe(true, Some("1.1.0"), 3, now).unwrap();
    for _ in 0..n {
        let report = state
            .health_probe(black_box(true), black_box(Some("1.1.0")), black_box(3), now)
            .unwrap();
        black_box(report.transition());
    }
    println!("{} probes, revision {}", n, state.revision());
}

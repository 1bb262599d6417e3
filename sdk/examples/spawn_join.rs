//! Spawns and joins N trivial tasks natively, as the `spawn-join` runtime
//! benchmark does in a guest: a target for native profilers.
//!
//! ```text
//! cargo build --release -p wasync --example spawn_join
//! valgrind --tool=callgrind target/release/examples/spawn_join 200000
//! ```

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let sum = wasync::block_on(async move {
            let handles: Vec<_> = (0..n).map(|i| wasync::spawn(async move { i })).collect();
            let mut sum = 0u64;
            for h in handles {
                sum += u64::from(h.await.expect("not aborted"));
            }
            sum
        });
        assert_eq!(sum, u64::from(n) * u64::from(n.saturating_sub(1)) / 2);
        let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
        println!("{ns:.1} ns per task");
    }
}

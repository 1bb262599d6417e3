//! Intervals under each missed-tick policy, on the virtual clock.

use std::time::Duration;

use wasync::sim;
use wasync::time::{Instant, MissedTickBehavior, interval_at};

const MS: Duration = Duration::from_millis(1);

/// Ticks a 10 ms interval once on time, then stalls 35 ms (virtual), then
/// records the next ticks' scheduled times and when they were observed,
/// both relative to the start.
fn ticks_after_a_stall(behavior: MissedTickBehavior) -> Vec<(u64, u64)> {
    wasync::block_on(async {
        let start = Instant::now();
        let mut every = interval_at(start, 10 * MS);
        every.set_missed_tick_behavior(behavior);
        every.tick().await;
        sim::advance(35 * MS);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let scheduled = every.tick().await;
            let at = Instant::now();
            seen.push((
                (scheduled - start).as_millis() as u64,
                (at - start).as_millis() as u64,
            ));
        }
        seen
    })
}

#[test]
fn burst_catches_up_back_to_back() {
    assert_eq!(
        ticks_after_a_stall(MissedTickBehavior::Burst),
        [(10, 35), (20, 35), (30, 35), (40, 40)]
    );
}

#[test]
fn delay_restarts_one_period_after_the_late_tick() {
    assert_eq!(
        ticks_after_a_stall(MissedTickBehavior::Delay),
        [(10, 35), (45, 45), (55, 55), (65, 65)]
    );
}

#[test]
fn skip_rejoins_the_original_schedule() {
    assert_eq!(
        ticks_after_a_stall(MissedTickBehavior::Skip),
        [(10, 35), (40, 40), (50, 50), (60, 60)]
    );
}

#[test]
fn an_interval_that_is_never_late_keeps_its_period() {
    let seen = wasync::block_on(async {
        let start = Instant::now();
        let mut every = interval_at(start, 7 * MS);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push((every.tick().await - start).as_millis() as u64);
        }
        seen
    });
    assert_eq!(seen, [0, 7, 14, 21]);
}

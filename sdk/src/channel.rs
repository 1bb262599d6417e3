//! Channels between tasks: `futures`' own, re-exported so that a guest
//! needs one dependency. They need no runtime support: a receiver that
//! waits is woken like any other wasync future.
//!
//! - [`oneshot`]: one value, once (a task's answer, a cancel signal);
//! - [`mpsc`]: a stream of values, bounded ([`mpsc::channel`], with
//!   backpressure) or unbounded.
//!
//! # Examples
//!
//! ```
//! use wasync::channel::{mpsc, oneshot};
//! use wasync::futures::{SinkExt, StreamExt};
//!
//! wasync::block_on(async {
//!     let (mut tx, rx) = mpsc::channel::<u32>(2);
//!     let (done_tx, done_rx) = oneshot::channel();
//!     wasync::spawn(async move {
//!         let total: u32 = rx.collect::<Vec<_>>().await.into_iter().sum();
//!         let _ = done_tx.send(total);
//!     });
//!     for n in 1..=4 {
//!         tx.send(n).await.unwrap(); // waits while 2 are queued
//!     }
//!     drop(tx); // ends the receiver's stream
//!     assert_eq!(done_rx.await, Ok(10));
//! });
//! ```

pub use futures::channel::{mpsc, oneshot};

//! `max_connections`: concurrent calls share a bounded number of connections (counted by
//! the emulator).

use std::time::Duration;

use authsignal::types::TrackAttributes;
use authsignal_emulator::Emulator;

/// `calls` concurrent tracks against an emulator that answers each 100 ms late, by a
/// client with `bound`: how many connections the emulator accepted.
async fn connections_for(calls: usize, bound: Option<usize>) -> u64 {
    let emulator = Emulator::builder()
        .latency("track", Duration::from_millis(100))
        .start()
        .await
        .expect("the emulator starts");
    let mut builder = emulator.client_builder();
    if let Some(bound) = bound {
        builder = builder.max_connections(bound);
    }
    let client = builder.build().expect("a client");
    let mut tracks = tokio::task::JoinSet::new();
    for n in 0..calls {
        let client = client.clone();
        tracks.spawn(async move {
            let user = format!("user-{n}");
            client
                .track(&user, "signIn", TrackAttributes::default())
                .await
        });
    }
    for tracked in tracks.join_all().await {
        tracked.expect("every call is answered");
    }
    let accepted = emulator.connections_accepted();
    emulator.shutdown().await;
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_bounds_the_connections_of_concurrent_calls() {
    // Unbounded, every call that finds no idle connection opens one.
    assert!(connections_for(40, None).await > 8);
    // Bounded, the calls wait their turn on the same few connections.
    let bounded = connections_for(40, Some(4)).await;
    assert!((1..=4).contains(&bounded), "{bounded} connections");
}

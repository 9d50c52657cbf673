//! Real-time: one WebSocket per client at `/api/v1/ws` (upgraded in `api`, run in [`socket`]),
//! a per-node [`hub::Hub`] fanning out through Redis, gap-free resume from the `room_events` log,
//! presence and typing.

pub mod client_frames;
pub mod frames;
pub mod hub;
pub mod presence;
pub mod socket;

/// Resolves once the node's shutdown flag is set (or its sender is gone).
pub async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

//! A pipeline stage or sink as a service: its `/metrics` + `/healthz` server around the stage
//! loop, started and stopped in the one order every stage needs.

use prometheus::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Sink, Stage, StageParams, run_sink, run_stage};
use crate::RuntimeError;
use audit_service::ops::{self, OpsState};

/// Runs `stage` per `params` until `shutdown`, serving the ops endpoints of
/// `ops.1` (the service's registry) on `ops.0`.
pub async fn run_service<S: Stage>(
    stage: S,
    params: StageParams,
    ops: (TcpListener, Registry),
    shutdown: CancellationToken,
) -> Result<(), RuntimeError> {
    let (listener, registry) = ops;
    let state = OpsState { registry, health: params.health.clone() };
    with_ops(listener, state, run_stage(stage, params, shutdown)).await
}

/// [`run_service`] for a [`Sink`].
pub async fn run_sink_service<S: Sink>(
    sink: S,
    params: StageParams,
    ops: (TcpListener, Registry),
    shutdown: CancellationToken,
) -> Result<(), S::Error> {
    let (listener, registry) = ops;
    let state = OpsState { registry, health: params.health.clone() };
    with_ops(listener, state, run_sink(sink, params, shutdown)).await
}

/// Serves the ops endpoints on `listener` while `work` runs. Metrics stay scrapable
/// while the work drains; the ops server stops last.
async fn with_ops<T>(listener: TcpListener, state: OpsState, work: impl Future<Output = T>) -> T {
    let ops_shutdown = CancellationToken::new();
    let ops_server = tokio::spawn(ops::serve(listener, state, ops_shutdown.clone()));
    let result = work.await;
    ops_shutdown.cancel();
    let _ = ops_server.await;
    result
}

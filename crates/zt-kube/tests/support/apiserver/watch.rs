//! `?watch=true`: a held-open chunked stream of `WatchEvent` JSON lines.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::{BodyExt, Channel};
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{Body, Event, Query, Shared, bad_request, matches, objects};

/// Events buffered between the store and the connection.
const BODY_BUFFER: usize = 64;

/// Starts a watch: the initial events (every current pod as `ADDED` without a resource
/// version or with `0`; the logged changes after it otherwise), then live changes until
/// the client goes away, `timeoutSeconds` passes or the watch falls too far behind.
pub(super) fn serve(
    shared: &Arc<Shared>,
    namespace: Option<&str>,
    query: &Query,
    table: bool,
) -> Response<Body> {
    let selector = match query.field_selector() {
        Ok(selector) => selector,
        Err(message) => return bad_request(&message),
    };
    let since = query
        .get("resourceVersion")
        .and_then(|version| version.parse::<u64>().ok())
        .filter(|version| *version > 0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map(Duration::from_secs);
    let namespace = namespace.map(str::to_owned);
    let wanted = move |pod: &objects::Pod| matches(pod, namespace.as_deref(), &selector);

    // Snapshot and subscribe under one lock, so no change is missed or sent twice.
    let store = shared.store();
    let mut live = shared.changes.subscribe();
    let initial: Vec<Event> = match since {
        None => store
            .pods
            .values()
            .filter(|pod| wanted(pod))
            .map(|pod| Event {
                kind: "ADDED",
                pod: pod.clone(),
            })
            .collect(),
        Some(since) => store
            .log
            .iter()
            .filter(|event| event.pod.resource_version > since && wanted(&event.pod))
            .cloned()
            .collect(),
    };
    drop(store);

    let (mut sender, body) = Channel::<Bytes>::new(BODY_BUFFER);
    tokio::spawn(async move {
        let deadline = async {
            match timeout {
                Some(timeout) => tokio::time::sleep(timeout).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        for event in initial {
            if sender.send_data(line(&event, table)).await.is_err() {
                return;
            }
        }
        loop {
            let event = tokio::select! {
                event = live.recv() => event,
                () = &mut deadline => return,
            };
            match event {
                Ok(event) if wanted(&event.pod) => {
                    if sender.send_data(line(&event, table)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_) | RecvError::Closed) => return,
            }
        }
    });

    let mut response = Response::new(body.boxed());
    let content_type = if table {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    } else {
        "application/json"
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// One `WatchEvent` as a JSON line; the object is a one-row `Table` when asked for.
fn line(event: &Event, table: bool) -> Bytes {
    let object: Value = if table {
        objects::pod_table(
            std::slice::from_ref(&event.pod),
            event.pod.resource_version,
            Timestamp::now(),
        )
    } else {
        event.pod.to_json()
    };
    let mut line = json!({ "type": event.kind, "object": object }).to_string();
    line.push('\n');
    Bytes::from(line)
}

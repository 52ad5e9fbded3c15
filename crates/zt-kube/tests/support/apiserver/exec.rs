//! `pods/NAME/exec` over WebSocket, the remote command protocol `v5.channel.k8s.io`
//! (and `v4.channel.k8s.io`), with a handful of built-in commands instead of a container.
//!
//! Every binary message starts with a stream id: 0 stdin, 1 stdout, 2 stderr, 3 error
//! (the final `metav1.Status`), 4 resize; in v5, `[255, id]` closes stream `id` (kubectl
//! sends `[255, 0]` at the end of its stdin).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::{Body, Query, Shared, bad_request, pod_not_found};

/// Subprotocols the stand-in speaks, best first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// Stream ids.
const STDIN: u8 = 0;
/// Standard output.
const STDOUT: u8 = 1;
/// Standard error.
const STDERR: u8 = 2;
/// The final status.
const ERROR: u8 = 3;
/// v5 close-stream signal.
const CLOSE: u8 = 255;

/// The upgraded connection.
type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// What the exec request asked for.
struct Exec {
    /// `command` parameters, in order.
    command: Vec<String>,
    /// `stdin=true`.
    stdin: bool,
    /// `stderr=true` (otherwise error output goes to stdout, as with a TTY).
    stderr: bool,
}

/// Answers the WebSocket upgrade and runs the command on the upgraded connection.
pub(super) fn serve(
    shared: &Arc<Shared>,
    mut request: Request<Incoming>,
    namespace: Option<&str>,
    name: &str,
    query: &Query,
) -> Response<Body> {
    let exists = namespace.is_some_and(|namespace| {
        shared
            .store()
            .pods
            .contains_key(&(namespace.to_owned(), name.to_owned()))
    });
    if !exists {
        return pod_not_found(name);
    }
    let exec = Exec {
        command: query.all("command").map(str::to_owned).collect(),
        stdin: query.flag("stdin"),
        stderr: query.flag("stderr"),
    };
    if exec.command.is_empty() {
        return bad_request("you must specify at least 1 command");
    }
    let (key, protocol) = match handshake(&request) {
        Ok(handshake) => handshake,
        Err(message) => return bad_request(&message),
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let socket =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            run(socket, exec).await;
            shared.store().exec_ended.push(std::time::Instant::now());
        }
    });
    let mut response = Response::new(Empty::new().boxed());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The client's `Sec-WebSocket-Key` and the subprotocol chosen, or a 400: not a
/// WebSocket upgrade (SPDY is not spoken here) or no subprotocol in common.
fn handshake<B>(request: &Request<B>) -> Result<(String, &'static str), String> {
    let headers = request.headers();
    let upgrade = headers
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(format!(
            "the zt stand-in API server speaks exec only over WebSocket, not {upgrade:?}"
        ));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|value| value.to_str().ok())
        .ok_or("missing Sec-WebSocket-Key")?;
    let offered: Vec<&str> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let protocol = PROTOCOLS
        .into_iter()
        .find(|protocol| offered.contains(protocol))
        .ok_or_else(|| format!("no supported subprotocol in {offered:?}"))?;
    Ok((key.to_owned(), protocol))
}

/// Runs the command, sends its status on stream 3 and closes normally (kubectl treats
/// any other close code as an error).
async fn run(mut socket: Socket, exec: Exec) {
    let code = command(&mut socket, &exec, &exec.command).await;
    let _ = send(
        &mut socket,
        ERROR,
        status(&exec.command, code).to_string().as_bytes(),
    )
    .await;
    let _ = socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
    // Let the client's close frame arrive; its content does not matter.
    while let Some(Ok(_)) = socket.next().await {}
}

/// One built-in command; returns its exit code.
async fn command(socket: &mut Socket, exec: &Exec, argv: &[String]) -> i32 {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["echo", args @ ..] => {
            let line = format!("{}\n", args.join(" "));
            if send(socket, STDOUT, line.as_bytes()).await {
                0
            } else {
                1
            }
        }
        ["cat"] => cat(socket, exec.stdin).await,
        ["true"] => 0,
        ["false"] => 1,
        ["exit", code] => code.parse().unwrap_or(2),
        ["sh", "-c", script] => {
            let argv: Vec<String> = script.split_whitespace().map(str::to_owned).collect();
            Box::pin(command(socket, exec, &argv)).await
        }
        _ => {
            let stream = if exec.stderr { STDERR } else { STDOUT };
            let message = format!("stand-in: {}: command not found\n", words.join(" "));
            send(socket, stream, message.as_bytes()).await;
            127
        }
    }
}

/// `cat`: copies stdin to stdout until kubectl closes stdin (`[255, 0]`) or the
/// connection.
async fn cat(socket: &mut Socket, stdin: bool) -> i32 {
    if !stdin {
        return 0;
    }
    while let Some(Ok(message)) = socket.next().await {
        let Message::Binary(data) = message else {
            if matches!(message, Message::Close(_)) {
                break;
            }
            continue;
        };
        match data.first() {
            Some(&STDIN) if !send(socket, STDOUT, &data[1..]).await => return 1,
            Some(&CLOSE) if data.get(1) == Some(&STDIN) => break,
            _ => {}
        }
    }
    0
}

/// Sends `data` on `stream`; `false` if the connection is gone.
async fn send(socket: &mut Socket, stream: u8, data: &[u8]) -> bool {
    let mut message = Vec::with_capacity(data.len() + 1);
    message.push(stream);
    message.extend_from_slice(data);
    socket
        .send(Message::Binary(Bytes::from(message)))
        .await
        .is_ok()
}

/// The final `metav1.Status`: `Success`, or `NonZeroExitCode` with the code as the
/// `ExitCode` cause, which kubectl turns into its exit code.
fn status(argv: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({ "metadata": {}, "status": "Success" });
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command {argv:?}, exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": { "causes": [{ "reason": "ExitCode", "message": code.to_string() }] },
    })
}

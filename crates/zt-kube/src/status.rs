//! Errors the way Kubernetes clients read them: a `metav1.Status` JSON object, so that
//! kubectl prints `Error from server (Forbidden): pods "web" is forbidden: <reason>`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::RequestInfo;

/// A `Status` response with `code` and `message`; `reason` follows the code the way the API
/// server sets it (`Forbidden`, `Unauthorized`, `ServiceUnavailable`, ...).
pub fn status_response(code: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason(code),
        "code": code.as_u16(),
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The message the API server would give for `detail` about `info`'s object, e.g.
/// `pods "web" is forbidden: denied by rule "no-delete"`.
pub fn message(code: StatusCode, info: Option<&RequestInfo>, detail: &str) -> String {
    let what = match code {
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::UNAUTHORIZED => return "Unauthorized".to_owned(),
        _ => return detail.to_owned(),
    };
    match info.filter(|info| info.is_resource_request) {
        Some(info) => {
            let mut resource = info.resource.clone();
            if !info.subresource.is_empty() {
                resource = format!("{resource}/{}", info.subresource);
            }
            if !info.api_group.is_empty() {
                resource = format!("{resource}.{}", info.api_group);
            }
            if info.name.is_empty() {
                format!("{resource} is {what}: {detail}")
            } else {
                format!("{resource} \"{}\" is {what}: {detail}", info.name)
            }
        }
        None => format!("{what}: {detail}"),
    }
}

/// The `reason` the API server uses with `code`.
fn reason(code: StatusCode) -> &'static str {
    match code {
        StatusCode::BAD_REQUEST => "BadRequest",
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLarge",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
        StatusCode::GATEWAY_TIMEOUT => "Timeout",
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        _ => "InternalError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn info(path: &str) -> RequestInfo {
        RequestInfo::resolve(&Method::DELETE, path, None).unwrap_or_default()
    }

    #[test]
    fn forbidden_names_the_object_like_the_api_server() {
        let pod = info("/api/v1/namespaces/demo/pods/web");
        assert_eq!(
            message(
                StatusCode::FORBIDDEN,
                Some(&pod),
                "denied by rule \"no-delete\""
            ),
            "pods \"web\" is forbidden: denied by rule \"no-delete\""
        );
        let deployments = info("/apis/apps/v1/namespaces/demo/deployments");
        assert_eq!(
            message(StatusCode::FORBIDDEN, Some(&deployments), "no"),
            "deployments.apps is forbidden: no"
        );
        let exec = info("/api/v1/namespaces/demo/pods/web/exec");
        assert_eq!(
            message(StatusCode::FORBIDDEN, Some(&exec), "no"),
            "pods/exec \"web\" is forbidden: no"
        );
        let healthz = info("/healthz");
        assert_eq!(
            message(StatusCode::FORBIDDEN, Some(&healthz), "no"),
            "forbidden: no"
        );
    }

    #[test]
    fn status_bodies_carry_code_and_reason() {
        let response = status_response(StatusCode::FORBIDDEN, "pods is forbidden: no");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            Some(&b"application/json"[..])
        );
        assert_eq!(reason(StatusCode::GATEWAY_TIMEOUT), "Timeout");
        assert_eq!(reason(StatusCode::IM_A_TEAPOT), "InternalError");
    }
}

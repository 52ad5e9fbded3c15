//! The dev IdP's tiny HTML pages. Every value that came from a request is escaped.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::DevUser;

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}\
.dev{background:#fff3cd;border:1px solid #e0b000;padding:.5rem .75rem;border-radius:.25rem}\
button{display:block;width:100%;margin:.4rem 0;padding:.6rem;font-size:1rem;text-align:left;cursor:pointer}\
button.hint{border:2px solid #0a58ca}button.deny{color:#a00}.err{color:#a00}small{color:#555}";

/// A complete page with the "development only" notice. `body` must already be escaped.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{title} - zt dev IdP</title><style>{STYLE}</style></head><body>\
<p class=\"dev\"><strong>zt dev IdP - development only.</strong> \
No passwords; anyone who can reach this page can sign in as any user. Never use in production.</p>\
<h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

/// An error page shown instead of redirecting (bad client or redirect URI).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Error",
        &format!("<p class=\"err\">{}</p>", escape(message)),
    )
}

/// A page with a short message.
pub(crate) fn message_page(title: &str, message: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        &format!("<p>{}</p>", escape(message)),
    )
}

fn hidden_fields(out: &mut String, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
}

fn user_buttons(out: &mut String, users: &[DevUser], hint: Option<&str>) {
    for user in users {
        let is_hint = hint == Some(user.username.as_str());
        let _ = write!(
            out,
            "<button type=\"submit\" name=\"username\" value=\"{u}\"{cls}>{name} \
<small>({u}; {email}; groups: {groups})</small></button>",
            u = escape(&user.username),
            cls = if is_hint {
                " class=\"hint\" autofocus"
            } else {
                ""
            },
            name = escape(&user.name),
            email = escape(&user.email),
            groups = escape(&user.groups.join(", ")),
        );
    }
}

/// The login form: one button per dev user; the request parameters ride along hidden.
pub(crate) fn login_page(
    action: &str,
    client_id: &str,
    fields: &[(&str, &str)],
    users: &[DevUser],
    hint: Option<&str>,
) -> Response {
    let mut body = format!(
        "<p>Sign in to <strong>{}</strong> as:</p><form method=\"post\" action=\"{}\">",
        escape(client_id),
        escape(action)
    );
    hidden_fields(&mut body, fields);
    user_buttons(&mut body, users, hint);
    body.push_str("</form>");
    page(StatusCode::OK, "Sign in", &body)
}

/// The device verification form: user code, one button per user, and a deny button.
pub(crate) fn device_page(
    action: &str,
    user_code: Option<&str>,
    users: &[DevUser],
    notice: Option<&str>,
) -> Response {
    let mut body = String::new();
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"err\">{}</p>", escape(n));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\"><p><label>Code shown on your device: \
<input name=\"user_code\" value=\"{}\" autocomplete=\"off\" required></label></p>\
<p>Approve as:</p>",
        escape(action),
        escape(user_code.unwrap_or_default()),
    );
    user_buttons(&mut body, users, None);
    body.push_str(
        "<button type=\"submit\" name=\"action\" value=\"deny\" class=\"deny\">Deny</button></form>",
    );
    page(StatusCode::OK, "Device sign-in", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_dangerous() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#x27;y&#x27;&lt;/script&gt;"
        );
    }
}

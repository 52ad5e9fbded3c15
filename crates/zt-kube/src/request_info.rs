//! Kubernetes request attributes: the API server's `RequestInfo`, resolved the same way.
//!
//! [`RequestInfo::resolve`] reproduces `RequestInfoFactory.NewRequestInfo` from
//! `k8s.io/apiserver/pkg/endpoints/request/requestinfo.go` with the API server's
//! configuration (API prefixes `api` and `apis`, groupless prefix `api`), so that policy
//! decides on the same verb, group, resource, namespace and name the API server's own
//! authorizer would see:
//!
//! - paths are split like Go's `strings.Split(strings.Trim(path, "/"), "/")`; fewer than
//!   three segments, an unknown prefix, or `/apis/{group}/{version}` alone is a
//!   non-resource request whose verb is the lower-case HTTP method;
//! - `POST` is `create`, `GET` and `HEAD` are `get`, `PUT` `update`, `PATCH` `patch`,
//!   `DELETE` `delete`, any other method the empty verb; without a name `get` becomes
//!   `list` or `watch` and `delete` becomes `deletecollection`;
//! - the deprecated path verbs `/watch/...` and `/proxy/...` set the verb (`proxy` takes no
//!   subresource);
//! - `namespaces/{ns}/...` sets the namespace, except that `status` and `finalize` after it
//!   are subresources of the namespace itself;
//! - for `list` and `watch` the query is decoded as the API server decodes `ListOptions`:
//!   `watch` is true unless it is `0` or `false` (any case), and a `fieldSelector` that
//!   requires `metadata.name=X` names the object, but only when every list option parses
//!   (`fieldSelector`, `labelSelector`, `timeoutSeconds`, `limit`) and `X` is a valid path
//!   segment name. When an option does not parse, the verb still follows `watch` (compared
//!   case-insensitively with `false` and `0`) and no name is set, as upstream.
//!
//! # Exec, attach and port-forward
//!
//! `pods/exec`, `pods/attach` and `pods/portforward` arrive as `POST` over SPDY and as a
//! `GET` upgraded to a WebSocket. The API server's `RequestInfo` calls the WebSocket form
//! `get`; since Kubernetes 1.35 (feature gate `AuthorizePodWebsocketUpgradeCreatePermission`,
//! beta and on by default, KEP-4006) it then authorizes the upgrade a second time as
//! `create`, so a WebSocket exec needs `get` and `create` while SPDY needs `create`.
//!
//! Here the verb of a `GET` or `HEAD` to these subresources of core-group pods **is**
//! `create`, with or without an upgrade header: policy sees `create` for exec, attach and
//! port-forward whatever the transport, and no rule written for `get` opens a shell. This
//! is the one place where [`RequestInfo::verb`] differs from upstream's field. (The API
//! server refuses a `GET` to these subresources that is not an upgrade, so the stricter
//! reading costs nothing; and the API server still runs its own checks on the
//! impersonated user.)
//!
//! # Differences from upstream
//!
//! - A path verb with nothing after it is a [`RequestInfoError`], where Go returns the
//!   partial `RequestInfo` together with its error (and the API server answers 500).
//! - Query keys and values that are not UTF-8 once decoded have U+FFFD in place of the
//!   invalid bytes; [`RequestInfo::from_parts`] rejects a path that is not UTF-8 once
//!   decoded ([`RequestInfoError::NonUtf8Path`]).

use std::borrow::Cow;

use http::Method;
use zt_core::policy::KubeAttributes;

/// Path prefixes of API resources (`RequestInfoFactory.APIPrefixes`).
const API_PREFIXES: [&str; 2] = ["api", "apis"];
/// Prefixes whose next segment is the version, not a group (`GrouplessAPIPrefixes`).
const GROUPLESS_API_PREFIXES: [&str; 1] = ["api"];
/// Deprecated verbs given as the first segment after the version.
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// Path verbs after which the third part is not a subresource.
const SPECIAL_VERBS_NO_SUBRESOURCES: [&str; 1] = ["proxy"];
/// Segments after `namespaces/{ns}` that are subresources of the namespace itself.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];
/// Verbs for which the API server records the raw field and label selectors.
const VERBS_WITH_SELECTORS: [&str; 3] = ["list", "watch", "deletecollection"];
/// Pod subresources that start a stream into the container: `create` whatever the method.
const STREAMING_POD_SUBRESOURCES: [&str; 3] = ["exec", "attach", "portforward"];

/// What the Kubernetes API server knows about a request before it is authorized: the
/// fields of its `RequestInfo`, with the same values.
///
/// Empty strings stand for absent values, as in Go (`namespace` is `""` for
/// cluster-scoped and all-namespace requests, `api_group` is `""` for the core group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The request is for an API resource or subresource (not `/healthz`, `/version`,
    /// `/api`, `/apis/{group}` and the like).
    pub is_resource_request: bool,
    /// The decoded URL path.
    pub path: String,
    /// The Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, `proxy`, or `""` for other methods) of a resource request; the
    /// lower-case HTTP method of a non-resource request.
    pub verb: String,
    /// `api` or `apis` for resource requests; upstream also keeps it for the non-resource
    /// request `/apis/{group}/{version}`.
    pub api_prefix: String,
    /// The API group (`""` for the core group).
    pub api_group: String,
    /// The API version, e.g. `v1`.
    pub api_version: String,
    /// The namespace, `""` for cluster-scoped or all-namespace requests.
    pub namespace: String,
    /// The resource (plural, e.g. `pods`).
    pub resource: String,
    /// The subresource, e.g. `status`, `exec`.
    pub subresource: String,
    /// The object's name, from the path or from a `metadata.name` field selector on a list
    /// or watch.
    pub name: String,
    /// The path segments from the resource on: `{resource}/{name}/{subresource}/...`.
    pub parts: Vec<String>,
    /// The raw `fieldSelector` of a `list`, `watch` or `deletecollection` request that did
    /// not name its verb in the path (`RequestInfo.FieldSelector`, authorize-with-selectors).
    pub field_selector: String,
    /// The raw `labelSelector`, under the same conditions as `field_selector`.
    pub label_selector: String,
}

/// A request the API server cannot describe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestInfoError {
    /// A path verb (`/api/v1/watch`, `/api/v1/proxy`) with nothing after it. The API
    /// server answers such requests with 500.
    #[error("no resource after the '{verb}' path verb")]
    MissingResource {
        /// `watch` or `proxy`.
        verb: String,
    },
    /// A `%` in the path not followed by two hexadecimal digits (Go's URL parser rejects
    /// the request).
    #[error("malformed percent-escape in the path")]
    MalformedEscape,
    /// The decoded path is not UTF-8.
    #[error("the decoded path is not UTF-8")]
    NonUtf8Path,
}

impl RequestInfo {
    /// Resolves the request described by `parts`: its method, its path (percent-decoded,
    /// as Go's `URL.Path`) and its query.
    ///
    /// # Errors
    ///
    /// [`RequestInfoError::MalformedEscape`] or [`RequestInfoError::NonUtf8Path`] when the
    /// path cannot be decoded, otherwise as [`RequestInfo::resolve`].
    pub fn from_parts(parts: &http::request::Parts) -> Result<Self, RequestInfoError> {
        Self::from_uri(&parts.method, &parts.uri)
    }

    /// Resolves `request` like [`RequestInfo::from_parts`].
    ///
    /// # Errors
    ///
    /// As [`RequestInfo::from_parts`].
    pub fn from_request<B>(request: &http::Request<B>) -> Result<Self, RequestInfoError> {
        Self::from_uri(request.method(), request.uri())
    }

    fn from_uri(method: &Method, uri: &http::Uri) -> Result<Self, RequestInfoError> {
        let path = decode_path(uri.path())?;
        Self::resolve(method, &path, uri.query())
    }

    /// Resolves a request from its method, its decoded path (Go's `URL.Path`) and its raw
    /// query (without `?`), exactly as the API server's `NewRequestInfo`.
    ///
    /// ```
    /// use http::Method;
    /// use zt_kube::request_info::RequestInfo;
    ///
    /// let info = RequestInfo::resolve(&Method::GET, "/api/v1/namespaces/dev/pods", Some("watch=1"))?;
    /// assert_eq!(
    ///     (info.verb.as_str(), info.namespace.as_str(), info.resource.as_str()),
    ///     ("watch", "dev", "pods")
    /// );
    /// # Ok::<(), zt_kube::request_info::RequestInfoError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RequestInfoError::MissingResource`] for a path verb with nothing after it
    /// (`/api/v1/watch`), the only input the API server cannot describe.
    pub fn resolve(
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> Result<Self, RequestInfoError> {
        let mut info = Self {
            path: path.to_owned(),
            verb: method.as_str().to_ascii_lowercase(),
            ..Self::default()
        };

        let segments = split_path(path);
        let Some((&prefix, rest)) = segments.split_first() else {
            return Ok(info);
        };
        if segments.len() < 3 || !API_PREFIXES.contains(&prefix) {
            return Ok(info);
        }
        // As upstream, the prefix is kept even when the request turns out not to be a
        // resource request (`/apis/apps/v1`).
        info.api_prefix = prefix.to_owned();
        let mut current = rest;
        if !GROUPLESS_API_PREFIXES.contains(&prefix) {
            // The prefix is consumed: this asks for four segments in all.
            let (Some((&group, rest)), true) = (current.split_first(), current.len() >= 3) else {
                return Ok(info);
            };
            info.api_group = group.to_owned();
            current = rest;
        }
        let Some((&version, rest)) = current.split_first() else {
            return Ok(info);
        };
        info.is_resource_request = true;
        info.api_version = version.to_owned();
        current = rest;

        let mut verb_via_path = false;
        match current.split_first() {
            Some((&first, rest)) if SPECIAL_VERBS.contains(&first) => {
                if rest.is_empty() {
                    return Err(RequestInfoError::MissingResource {
                        verb: first.to_owned(),
                    });
                }
                first.clone_into(&mut info.verb);
                current = rest;
                verb_via_path = true;
            }
            _ => {
                info.verb = verb_for_method(method).to_owned();
            }
        }

        if let [first, namespace, rest @ ..] = current
            && *first == "namespaces"
        {
            (*namespace).clone_into(&mut info.namespace);
            if let Some(next) = rest.first()
                && !NAMESPACE_SUBRESOURCES.contains(next)
            {
                current = rest;
            }
        }

        info.parts = current.iter().map(|part| (*part).to_owned()).collect();
        if let Some(resource) = current.first() {
            (*resource).clone_into(&mut info.resource);
        }
        if let Some(name) = current.get(1) {
            (*name).clone_into(&mut info.name);
        }
        if let Some(subresource) = current.get(2)
            && !SPECIAL_VERBS_NO_SUBRESOURCES.contains(&info.verb.as_str())
        {
            (*subresource).clone_into(&mut info.subresource);
        }

        let query = Query::parse(query.unwrap_or(""));
        if info.name.is_empty() && info.verb == "get" {
            match decode_list_options(&query) {
                Ok(options) => {
                    info.verb = if options.watch { "watch" } else { "list" }.to_owned();
                    if let Some(name) = options.exact_name
                        && is_valid_path_segment_name(&name)
                    {
                        info.name = name;
                    }
                }
                Err(ListOptionsError) => {
                    // Upstream resets the options and looks at `watch` alone.
                    let watch = query.first("watch").is_some_and(|value| {
                        !(value.eq_ignore_ascii_case("false") || value == "0")
                    });
                    info.verb = if watch { "watch" } else { "list" }.to_owned();
                }
            }
        }
        if info.name.is_empty() && info.verb == "delete" {
            "deletecollection".clone_into(&mut info.verb);
        }

        if !verb_via_path && VERBS_WITH_SELECTORS.contains(&info.verb.as_str()) {
            if let Some(selector) = query.first("fieldSelector") {
                selector.clone_into(&mut info.field_selector);
            }
            if let Some(selector) = query.first("labelSelector") {
                selector.clone_into(&mut info.label_selector);
            }
        }

        if info.verb == "get"
            && info.api_group.is_empty()
            && info.resource == "pods"
            && STREAMING_POD_SUBRESOURCES.contains(&info.subresource.as_str())
        {
            "create".clone_into(&mut info.verb);
        }
        Ok(info)
    }

    /// The `kube.*` policy attributes of this request: group, version and resource for
    /// resource requests only; subresource, namespace and name when not empty.
    pub fn to_attributes(&self) -> KubeAttributes {
        KubeAttributes::from(self)
    }
}

impl From<&RequestInfo> for KubeAttributes {
    fn from(info: &RequestInfo) -> Self {
        let resource_field = |value: &str| info.is_resource_request.then(|| value.to_owned());
        let non_empty =
            |value: &str| (info.is_resource_request && !value.is_empty()).then(|| value.to_owned());
        Self {
            verb: info.verb.clone(),
            api_group: resource_field(&info.api_group),
            api_version: resource_field(&info.api_version),
            resource: resource_field(&info.resource),
            subresource: non_empty(&info.subresource),
            namespace: non_empty(&info.namespace),
            name: non_empty(&info.name),
            is_resource_request: info.is_resource_request,
        }
    }
}

/// Go's `splitPath`: `strings.Split(strings.Trim(path, "/"), "/")`, empty for an empty
/// trimmed path.
fn split_path(path: &str) -> Vec<&str> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// The verb of a resource request that does not name one in its path.
fn verb_for_method(method: &Method) -> &'static str {
    match method.as_str() {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
}

/// Decodes every `%XX` of a path, as Go's `url.PathUnescape` (`+` stays `+`).
fn decode_path(raw: &str) -> Result<Cow<'_, str>, RequestInfoError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = unescape(raw.as_bytes(), false).ok_or(RequestInfoError::MalformedEscape)?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| RequestInfoError::NonUtf8Path)
}

/// Go's `unescape`: `%XX` decoded, `+` a space in query mode; `None` for a `%` without two
/// hexadecimal digits.
fn unescape(raw: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'%' => {
                let high = bytes.next().copied().and_then(hex_value)?;
                let low = bytes.next().copied().and_then(hex_value)?;
                out.push(high << 4 | low);
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
    }
    Some(out)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.ParseQuery` as `URL.Query()` uses it: pairs split on `&`, pairs containing
/// `;` or a malformed escape dropped, keys and values decoded (`+` is a space).
struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    fn parse(raw: &'a str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.contains(';'))
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((query_unescape(key)?, query_unescape(value)?))
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `key` (Go's `Query()[key][0]`).
    fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_ref())
    }
}

/// Go's `url.QueryUnescape`; bytes that are not UTF-8 become U+FFFD.
fn query_unescape(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains(['%', '+']) {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = unescape(raw.as_bytes(), true)?;
    Some(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()))
}

/// What `NewRequestInfo` takes from the decoded `ListOptions`.
struct ListOptions {
    watch: bool,
    /// The value the field selector requires for `metadata.name`.
    exact_name: Option<String>,
}

/// Some list option did not decode.
struct ListOptionsError;

/// Decodes the query into `ListOptions` as the API server's parameter codec does
/// (`url.Values` to `metav1.ListOptions` to the internal version): only `timeoutSeconds`,
/// `limit` (integers), `fieldSelector` and `labelSelector` can fail.
fn decode_list_options(query: &Query<'_>) -> Result<ListOptions, ListOptionsError> {
    for integer in ["timeoutSeconds", "limit"] {
        if let Some(value) = query.first(integer)
            && value.parse::<i64>().is_err()
        {
            return Err(ListOptionsError);
        }
    }
    let exact_name = field_selector::required_exact_match(
        query.first("fieldSelector").unwrap_or(""),
        "metadata.name",
    )?;
    if let Some(selector) = query.first("labelSelector")
        && !label_selector::is_valid(selector)
    {
        return Err(ListOptionsError);
    }
    let watch = query
        .first("watch")
        .is_some_and(|value| !(value == "0" || equal_fold_false(value)));
    Ok(ListOptions { watch, exact_name })
}

/// Go's `strings.EqualFold(value, "false")`: simple Unicode case folding, under which
/// `ſ` (U+017F) is an `s`.
fn equal_fold_false(value: &str) -> bool {
    let mut chars = value.chars();
    "false".chars().all(|expected| {
        chars
            .next()
            .is_some_and(|c| c.to_ascii_lowercase() == expected || (expected == 's' && c == 'ſ'))
    }) && chars.next().is_none()
}

/// `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`.
fn is_valid_path_segment_name(name: &str) -> bool {
    name != "." && name != ".." && !name.contains(['/', '%'])
}

/// `k8s.io/apimachinery/pkg/fields`: `ParseSelector` and `RequiresExactMatch`.
mod field_selector {
    use super::ListOptionsError;

    /// Parses `selector` and returns the value it requires for `field` (the first such
    /// term after sorting the raw terms, as `andTerm.RequiresExactMatch`).
    pub(super) fn required_exact_match(
        selector: &str,
        field: &str,
    ) -> Result<Option<String>, ListOptionsError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut found = None;
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let (lhs, operator, rhs) = split_term(term).ok_or(ListOptionsError)?;
            let value = unescape_value(rhs)?;
            if found.is_none() && operator != "!=" && lhs == field {
                found = Some(value);
            }
        }
        Ok(found)
    }

    /// Splits on commas not escaped with a backslash (the backslash stays).
    fn split_terms(selector: &str) -> Vec<&str> {
        if selector.is_empty() {
            return Vec::new();
        }
        let mut terms = Vec::with_capacity(1);
        let mut start = 0;
        let mut in_slash = false;
        for (index, c) in selector.char_indices() {
            if in_slash {
                in_slash = false;
            } else if c == '\\' {
                in_slash = true;
            } else if c == ',' {
                terms.push(selector.get(start..index).unwrap_or_default());
                start = index + 1;
            }
        }
        terms.push(selector.get(start..).unwrap_or_default());
        terms
    }

    /// The first `!=`, `==` or `=` splits the term (checked in that order at each position).
    fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
        term.char_indices().find_map(|(index, _)| {
            let remaining = term.get(index..)?;
            ["!=", "==", "="].into_iter().find_map(|operator| {
                remaining
                    .strip_prefix(operator)
                    .map(|rhs| (term.get(..index).unwrap_or_default(), operator, rhs))
            })
        })
    }

    /// `fields.UnescapeValue`: `\\`, `\,` and `\=` are escapes; any other escape, a
    /// trailing `\`, or a bare `,` or `=` is an error.
    fn unescape_value(value: &str) -> Result<String, ListOptionsError> {
        let mut out = String::with_capacity(value.len());
        let mut in_slash = false;
        for c in value.chars() {
            if in_slash {
                if !matches!(c, '\\' | ',' | '=') {
                    return Err(ListOptionsError);
                }
                out.push(c);
                in_slash = false;
                continue;
            }
            match c {
                '\\' => in_slash = true,
                ',' | '=' => return Err(ListOptionsError),
                other => out.push(other),
            }
        }
        if in_slash {
            return Err(ListOptionsError);
        }
        Ok(out)
    }
}

/// `k8s.io/apimachinery/pkg/labels.Parse`, reduced to whether the selector parses: the
/// same byte lexer (a NUL byte ends a token, and the input when a token would start with
/// it), the same recursive descent and the same `NewRequirement` validation.
mod label_selector {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Token {
        Error,
        EndOfString,
        ClosedPar,
        Comma,
        DoesNotExist,
        DoubleEquals,
        Equals,
        GreaterThan,
        Identifier,
        In,
        LessThan,
        NotEquals,
        NotIn,
        OpenPar,
    }

    fn keyword(literal: &[u8]) -> Option<Token> {
        Some(match literal {
            b")" => Token::ClosedPar,
            b"," => Token::Comma,
            b"!" => Token::DoesNotExist,
            b"==" => Token::DoubleEquals,
            b"=" => Token::Equals,
            b">" => Token::GreaterThan,
            b"in" => Token::In,
            b"<" => Token::LessThan,
            b"!=" => Token::NotEquals,
            b"notin" => Token::NotIn,
            b"(" => Token::OpenPar,
            _ => return None,
        })
    }

    fn is_whitespace(byte: u8) -> bool {
        matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
    }

    fn is_special_symbol(byte: u8) -> bool {
        matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
    }

    struct Lexer<'a> {
        input: &'a [u8],
        position: usize,
    }

    impl<'a> Lexer<'a> {
        /// The next byte, or 0 at the end (a NUL byte reads as 0 too, but is consumed).
        fn read(&mut self) -> u8 {
            match self.input.get(self.position) {
                Some(&byte) => {
                    self.position += 1;
                    byte
                }
                None => 0,
            }
        }

        fn unread(&mut self) {
            self.position = self.position.saturating_sub(1);
        }

        fn slice(&self, start: usize, end: usize) -> &'a [u8] {
            self.input.get(start..end).unwrap_or_default()
        }

        fn lex(&mut self) -> (Token, &'a [u8]) {
            let mut byte = self.read();
            while is_whitespace(byte) {
                byte = self.read();
            }
            if byte == 0 {
                return (Token::EndOfString, b"");
            }
            self.unread();
            if is_special_symbol(byte) {
                self.scan_special_symbol()
            } else {
                self.scan_identifier_or_keyword()
            }
        }

        fn scan_identifier_or_keyword(&mut self) -> (Token, &'a [u8]) {
            let start = self.position;
            let end = loop {
                let before = self.position;
                let byte = self.read();
                if byte == 0 {
                    break before;
                }
                if is_special_symbol(byte) || is_whitespace(byte) {
                    self.unread();
                    break before;
                }
            };
            let literal = self.slice(start, end);
            (keyword(literal).unwrap_or(Token::Identifier), literal)
        }

        fn scan_special_symbol(&mut self) -> (Token, &'a [u8]) {
            let start = self.position;
            let mut last: Option<(Token, &'a [u8])> = None;
            loop {
                let byte = self.read();
                if byte == 0 {
                    break;
                }
                if !is_special_symbol(byte) {
                    self.unread();
                    break;
                }
                let buffer = self.slice(start, self.position);
                if let Some(token) = keyword(buffer) {
                    last = Some((token, buffer));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            }
            last.unwrap_or((Token::Error, b""))
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Context {
        KeyAndOperator,
        Values,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Operator {
        Exists,
        DoesNotExist,
        In,
        NotIn,
        Equals,
        GreaterOrLess,
    }

    struct Parser<'a> {
        items: Vec<(Token, &'a [u8])>,
        position: usize,
    }

    /// The parse failed; upstream's message does not matter here.
    struct Invalid;

    impl<'a> Parser<'a> {
        fn item(&self, position: usize, context: Context) -> (Token, &'a [u8]) {
            let (token, literal) = self
                .items
                .get(position)
                .copied()
                .unwrap_or((Token::EndOfString, b""));
            match token {
                Token::In | Token::NotIn if context == Context::Values => {
                    (Token::Identifier, literal)
                }
                _ => (token, literal),
            }
        }

        fn lookahead(&self, context: Context) -> Token {
            self.item(self.position, context).0
        }

        fn consume(&mut self, context: Context) -> (Token, &'a [u8]) {
            self.position += 1;
            self.item(self.position - 1, context)
        }

        fn parse(&mut self) -> Result<(), Invalid> {
            loop {
                match self.lookahead(Context::Values) {
                    Token::Identifier | Token::DoesNotExist => {
                        self.parse_requirement()?;
                        match self.consume(Context::Values).0 {
                            Token::EndOfString => return Ok(()),
                            Token::Comma => {
                                if !matches!(
                                    self.lookahead(Context::Values),
                                    Token::Identifier | Token::DoesNotExist
                                ) {
                                    return Err(Invalid);
                                }
                            }
                            _ => return Err(Invalid),
                        }
                    }
                    Token::EndOfString => return Ok(()),
                    _ => return Err(Invalid),
                }
            }
        }

        fn parse_requirement(&mut self) -> Result<(), Invalid> {
            let (key, inferred) = self.parse_key_and_infer_operator()?;
            if let Some(operator) = inferred {
                return new_requirement(key, operator, &[]);
            }
            let operator = self.parse_operator()?;
            let values = match operator {
                Operator::In | Operator::NotIn => self.parse_values()?,
                _ => vec![self.parse_exact_value()?],
            };
            new_requirement(key, operator, &values)
        }

        fn parse_key_and_infer_operator(
            &mut self,
        ) -> Result<(&'a [u8], Option<Operator>), Invalid> {
            let mut operator = None;
            let (mut token, mut literal) = self.consume(Context::Values);
            if token == Token::DoesNotExist {
                operator = Some(Operator::DoesNotExist);
                (token, literal) = self.consume(Context::Values);
            }
            if token != Token::Identifier || !is_qualified_name(literal) {
                return Err(Invalid);
            }
            if matches!(
                self.lookahead(Context::Values),
                Token::EndOfString | Token::Comma
            ) && operator.is_none()
            {
                operator = Some(Operator::Exists);
            }
            Ok((literal, operator))
        }

        fn parse_operator(&mut self) -> Result<Operator, Invalid> {
            match self.consume(Context::KeyAndOperator).0 {
                Token::In => Ok(Operator::In),
                Token::NotIn => Ok(Operator::NotIn),
                Token::Equals | Token::DoubleEquals | Token::NotEquals => Ok(Operator::Equals),
                Token::GreaterThan | Token::LessThan => Ok(Operator::GreaterOrLess),
                _ => Err(Invalid),
            }
        }

        fn parse_values(&mut self) -> Result<Vec<&'a [u8]>, Invalid> {
            if self.consume(Context::Values).0 != Token::OpenPar {
                return Err(Invalid);
            }
            match self.lookahead(Context::Values) {
                Token::Identifier | Token::Comma => {
                    let values = self.parse_identifiers_list()?;
                    if self.consume(Context::Values).0 != Token::ClosedPar {
                        return Err(Invalid);
                    }
                    Ok(values)
                }
                Token::ClosedPar => {
                    self.consume(Context::Values);
                    Ok(vec![b""])
                }
                _ => Err(Invalid),
            }
        }

        fn parse_identifiers_list(&mut self) -> Result<Vec<&'a [u8]>, Invalid> {
            let mut values = Vec::new();
            loop {
                let (token, literal) = self.consume(Context::Values);
                match token {
                    Token::Identifier => {
                        values.push(literal);
                        match self.lookahead(Context::Values) {
                            Token::Comma => {}
                            Token::ClosedPar => return Ok(values),
                            _ => return Err(Invalid),
                        }
                    }
                    Token::Comma => {
                        if values.is_empty() {
                            values.push(b"");
                        }
                        match self.lookahead(Context::Values) {
                            Token::ClosedPar => {
                                values.push(b"");
                                return Ok(values);
                            }
                            Token::Comma => {
                                self.consume(Context::Values);
                                values.push(b"");
                            }
                            _ => {}
                        }
                    }
                    _ => return Err(Invalid),
                }
            }
        }

        fn parse_exact_value(&mut self) -> Result<&'a [u8], Invalid> {
            if matches!(
                self.lookahead(Context::Values),
                Token::EndOfString | Token::Comma
            ) {
                return Ok(b"");
            }
            match self.consume(Context::Values) {
                (Token::Identifier, literal) => Ok(literal),
                _ => Err(Invalid),
            }
        }
    }

    /// `labels.NewRequirement`'s checks (the parser always passes the right number of
    /// values for the operator).
    fn new_requirement(key: &[u8], operator: Operator, values: &[&[u8]]) -> Result<(), Invalid> {
        if !is_qualified_name(key) {
            return Err(Invalid);
        }
        if operator == Operator::GreaterOrLess
            && !values.iter().all(|value| {
                std::str::from_utf8(value).is_ok_and(|value| value.parse::<i64>().is_ok())
            })
        {
            return Err(Invalid);
        }
        if values.iter().all(|value| is_valid_label_value(value)) {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// `validation.IsQualifiedName`: `[prefix/]name`, the prefix a DNS-1123 subdomain, the
    /// name at most 63 characters of `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
    fn is_qualified_name(value: &[u8]) -> bool {
        let mut parts = value.split(|&byte| byte == b'/');
        let (Some(first), second, None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let name = match second {
            None => first,
            Some(name) => {
                if !is_dns1123_subdomain(first) {
                    return false;
                }
                name
            }
        };
        !name.is_empty() && name.len() <= 63 && is_qualified_name_part(name)
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, whole string.
    fn is_qualified_name_part(value: &[u8]) -> bool {
        match (value.first(), value.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && value
                        .iter()
                        .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(byte))
            }
            _ => false,
        }
    }

    /// `validation.IsValidLabelValue`: empty, or at most 63 characters of the qualified
    /// name pattern.
    fn is_valid_label_value(value: &[u8]) -> bool {
        value.is_empty() || (value.len() <= 63 && is_qualified_name_part(value))
    }

    /// `validation.IsDNS1123Subdomain`: at most 253 characters, dot-separated labels of
    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
    fn is_dns1123_subdomain(value: &[u8]) -> bool {
        value.len() <= 253
            && value
                .split(|&byte| byte == b'.')
                .all(|label| match (label.first(), label.last()) {
                    (Some(first), Some(last)) => {
                        is_lower_alphanumeric(*first)
                            && is_lower_alphanumeric(*last)
                            && label
                                .iter()
                                .all(|&byte| is_lower_alphanumeric(byte) || byte == b'-')
                    }
                    _ => false,
                })
    }

    fn is_lower_alphanumeric(byte: u8) -> bool {
        byte.is_ascii_lowercase() || byte.is_ascii_digit()
    }

    /// Whether `labels.Parse(selector)` succeeds.
    pub(super) fn is_valid(selector: &str) -> bool {
        let mut lexer = Lexer {
            input: selector.as_bytes(),
            position: 0,
        };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            items.push(item);
            if item.0 == Token::EndOfString {
                break;
            }
        }
        Parser { items, position: 0 }.parse().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Resolves `target` (`path?query`) sent with `method`.
    fn resolve(method: &str, target: &str) -> Result<RequestInfo, RequestInfoError> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        RequestInfo::resolve(&method, path, query)
    }

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|part| (*part).to_owned()).collect()
    }

    /// `(method, target, verb, api_prefix, api_group, api_version, namespace, resource,
    /// subresource, name, parts)`, every case a resource request without selectors.
    type ResourceCase<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
    );

    #[rustfmt::skip]
    const RESOURCE_CASES: &[ResourceCase<'static>] = &[
        // requestinfo_test.go TestGetAPIRequestInfo successCases, in order. (Upstream
        // writes the prefix "api" for the /apis rows but does not compare it.)
        ("GET", "/api/v1/namespaces", "list", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("GET", "/api/v1/namespaces/other", "get", "api", "", "v1", "other", "namespaces", "", "other", &["namespaces", "other"]),
        ("GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("GET", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("HEAD", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("PATCH", "/api/v1/namespaces/new-namespace", "patch", "api", "", "v1", "new-namespace", "namespaces", "", "new-namespace", &["namespaces", "new-namespace"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo", "subpath", "not", "a", "subresource"]),
        ("GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=false", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "api", "", "v1", "other", "pods", "status", "foo", &["pods", "foo", "status"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "api", "", "v1", "other", "pods", "proxy", "foo", &["pods", "foo", "proxy", "subpath"]),
        ("PUT", "/api/v1/namespaces/other/finalize", "update", "api", "", "v1", "other", "namespaces", "finalize", "other", &["namespaces", "other", "finalize"]),
        ("PUT", "/api/v1/namespaces/other/status", "update", "api", "", "v1", "other", "namespaces", "status", "other", &["namespaces", "other", "status"]),
        ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "api", "", "v1", "other", "pods", "", "foo", &["pods", "foo"]),
        ("POST", "/api/v1/namespaces/other/pods", "create", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("DELETE", "/api/v1/nodes", "deletecollection", "api", "", "v1", "", "nodes", "", "", &["nodes"]),
        ("DELETE", "/api/v1/namespaces", "deletecollection", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "api", "", "v1", "other", "pods", "", "", &["pods"]),
        ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "apis", "extensions", "v1", "other", "pods", "", "", &["pods"]),
        ("POST", "/apis/extensions/v1/namespaces/other/pods", "create", "apis", "extensions", "v1", "other", "pods", "", "", &["pods"]),
        ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "apis", "extensions", "v1beta3", "other", "pods", "", "", &["pods"]),
        // requestinfo_test.go TestGetNonAPIRequestInfo, the resource requests.
        ("GET", "/api/version/resource", "list", "api", "", "version", "", "resource", "", "", &["resource"]),
        ("GET", "/apis/group/version/resource/name/subresource", "get", "apis", "group", "version", "", "resource", "subresource", "name", &["resource", "name", "subresource"]),
        ("GET", "/api/version/resource/name/subresource", "get", "api", "", "version", "", "resource", "subresource", "name", &["resource", "name", "subresource"]),
        ("GET", "/apis/batch/v1/job", "list", "apis", "batch", "v1", "", "job", "", "", &["job"]),
        ("GET", "/apis/batch/v1/job/foo", "get", "apis", "batch", "v1", "", "job", "", "foo", &["job", "foo"]),
        ("GET", "/apis/batch/v1/job/foo/scale", "get", "apis", "batch", "v1", "", "job", "scale", "foo", &["job", "foo", "scale"]),
        // The verb table of kubernetes.io/docs/reference/access-authn-authz/authorization
        // (#determine-the-request-verb).
        ("PUT", "/apis/apps/v1/namespaces/ns/deployments/web", "update", "apis", "apps", "v1", "ns", "deployments", "", "web", &["deployments", "web"]),
        ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/scale", "patch", "apis", "apps", "v1", "ns", "deployments", "scale", "web", &["deployments", "web", "scale"]),
        ("GET", "/apis/apps/v1/deployments", "list", "apis", "apps", "v1", "", "deployments", "", "", &["deployments"]),
        ("GET", "/apis/apps/v1/namespaces/ns/deployments?watch=true", "watch", "apis", "apps", "v1", "ns", "deployments", "", "", &["deployments"]),
        ("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "delete", "apis", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "admin", &["clusterroles", "admin"]),
        ("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "deletecollection", "apis", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "", &["clusterroles"]),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create", "apis", "authorization.k8s.io", "v1", "", "selfsubjectaccessreviews", "", "", &["selfsubjectaccessreviews"]),
        // The namespace itself and its subresources.
        ("GET", "/api/v1/namespaces/foo/status", "get", "api", "", "v1", "foo", "namespaces", "status", "foo", &["namespaces", "foo", "status"]),
        ("POST", "/api/v1/namespaces", "create", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("DELETE", "/api/v1/namespaces/foo", "delete", "api", "", "v1", "foo", "namespaces", "", "foo", &["namespaces", "foo"]),
        // Exec, attach and port-forward are `create` whatever the method (KEP-4006).
        ("GET", "/api/v1/namespaces/ns/pods/web/exec?command=sh&stdin=true", "create", "api", "", "v1", "ns", "pods", "exec", "web", &["pods", "web", "exec"]),
        ("POST", "/api/v1/namespaces/ns/pods/web/exec?command=sh", "create", "api", "", "v1", "ns", "pods", "exec", "web", &["pods", "web", "exec"]),
        ("GET", "/api/v1/namespaces/ns/pods/web/attach", "create", "api", "", "v1", "ns", "pods", "attach", "web", &["pods", "web", "attach"]),
        ("HEAD", "/api/v1/namespaces/ns/pods/web/portforward", "create", "api", "", "v1", "ns", "pods", "portforward", "web", &["pods", "web", "portforward"]),
        ("POST", "/api/v1/namespaces/ns/pods/web/portforward", "create", "api", "", "v1", "ns", "pods", "portforward", "web", &["pods", "web", "portforward"]),
        ("GET", "/api/v1/namespaces/ns/pods/web/log", "get", "api", "", "v1", "ns", "pods", "log", "web", &["pods", "web", "log"]),
        ("GET", "/api/v1/namespaces/ns/pods/web/proxy", "get", "api", "", "v1", "ns", "pods", "proxy", "web", &["pods", "web", "proxy"]),
        ("GET", "/apis/example.com/v1/namespaces/ns/pods/web/exec", "get", "apis", "example.com", "v1", "ns", "pods", "exec", "web", &["pods", "web", "exec"]),
        ("GET", "/api/v1/namespaces/ns/services/web/exec", "get", "api", "", "v1", "ns", "services", "exec", "web", &["services", "web", "exec"]),
        ("PUT", "/api/v1/namespaces/ns/pods/web/exec", "update", "api", "", "v1", "ns", "pods", "exec", "web", &["pods", "web", "exec"]),
        // Path verbs: `watch` keeps its name and subresource, `proxy` has no subresource.
        ("GET", "/api/v1/watch/namespaces/ns/pods/web", "watch", "api", "", "v1", "ns", "pods", "", "web", &["pods", "web"]),
        ("GET", "/api/v1/watch/namespaces/ns/pods/web/status", "watch", "api", "", "v1", "ns", "pods", "status", "web", &["pods", "web", "status"]),
        ("GET", "/api/v1/watch/pods?watch=false", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("DELETE", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/proxy/nodes/n1/metrics", "proxy", "api", "", "v1", "", "nodes", "", "n1", &["nodes", "n1", "metrics"]),
        ("GET", "/apis/apps/v1/watch/namespaces/ns/deployments", "watch", "apis", "apps", "v1", "ns", "deployments", "", "", &["deployments"]),
        // The `watch` parameter: anything but `0` and `false` (any case) is true.
        ("GET", "/api/v1/pods?watch", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=FaLsE", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=no", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=0&watch=1", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?%77atch=1", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        // EqualFold: U+017F is an `s`, but not for the fallback's ToLower after `limit` fails.
        ("GET", "/api/v1/pods?watch=fal%C5%BFe", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?limit=x&watch=fal%C5%BFe", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?limit=x&watch=FALSE", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        // Go's ParseQuery drops pairs with a `;` or a malformed escape.
        ("GET", "/api/v1/pods?watch=1;x=1", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=%zz", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods?watch=%zz&watch=1", "watch", "api", "", "v1", "", "pods", "", "", &["pods"]),
        // Methods without a verb, trailing and repeated slashes.
        ("OPTIONS", "/api/v1/pods", "", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("PUT", "/api/v1/pods", "update", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/pods/", "list", "api", "", "v1", "", "pods", "", "", &["pods"]),
        ("GET", "/api/v1/namespaces/", "list", "api", "", "v1", "", "namespaces", "", "", &["namespaces"]),
        ("GET", "/api/v1/namespaces/foo/", "get", "api", "", "v1", "foo", "namespaces", "", "foo", &["namespaces", "foo"]),
        ("GET", "//api//v1/pods", "get", "api", "", "", "", "v1", "", "pods", &["v1", "pods"]),
        ("GET", "/api/v1/pods//status", "list", "api", "", "v1", "", "pods", "status", "", &["pods", "", "status"]),
        ("DELETE", "/api/v1/namespaces//pods", "deletecollection", "api", "", "v1", "", "pods", "", "", &["pods"]),
    ];

    #[test]
    fn resource_requests_resolve_like_the_api_server() {
        for &(
            method,
            target,
            verb,
            prefix,
            group,
            version,
            namespace,
            resource,
            subresource,
            name,
            parts,
        ) in RESOURCE_CASES
        {
            let expected = RequestInfo {
                is_resource_request: true,
                path: target.split('?').next().unwrap().to_owned(),
                verb: verb.to_owned(),
                api_prefix: prefix.to_owned(),
                api_group: group.to_owned(),
                api_version: version.to_owned(),
                namespace: namespace.to_owned(),
                resource: resource.to_owned(),
                subresource: subresource.to_owned(),
                name: name.to_owned(),
                parts: strings(parts),
                field_selector: String::new(),
                label_selector: String::new(),
            };
            assert_eq!(
                resolve(method, target).unwrap(),
                expected,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn non_resource_requests_carry_the_lower_case_method() {
        // `(method, target, verb, api_prefix)`: requestinfo_test.go TestGetNonAPIRequestInfo
        // and the error cases of TestGetAPIRequestInfo, then discovery and health paths.
        #[rustfmt::skip]
        let cases = [
            ("GET", "/not-api/version/resource", "get", ""),
            ("GET", "/apis/extensions/v1beta1", "get", "apis"),
            ("GET", "/apis/extensions/v1beta1/", "get", "apis"),
            ("GET", "/api/version", "get", ""),
            ("GET", "/api", "get", ""),
            ("GET", "/", "get", ""),
            ("GET", "", "get", ""),
            ("GET", "/api/version/", "get", ""),
            ("GET", "/apis/group/version/", "get", "apis"),
            ("GET", "/badprefix/version/resource", "get", ""),
            ("GET", "/apis/version/resource", "get", "apis"),
            ("GET", "/healthz", "get", ""),
            ("GET", "/livez/etcd", "get", ""),
            ("GET", "/readyz?verbose", "get", ""),
            ("GET", "/version", "get", ""),
            ("GET", "/apis", "get", ""),
            ("GET", "/apis/apps", "get", ""),
            ("GET", "/openapi/v3/apis/apps/v1", "get", ""),
            ("HEAD", "/metrics", "head", ""),
            ("POST", "/healthz", "post", ""),
            ("DELETE", "/api/v1", "delete", ""),
            ("OPTIONS", "/apis/apps/v1", "options", "apis"),
        ];
        for (method, target, verb, prefix) in cases {
            let expected = RequestInfo {
                path: target.split('?').next().unwrap().to_owned(),
                verb: verb.to_owned(),
                api_prefix: prefix.to_owned(),
                ..RequestInfo::default()
            };
            assert_eq!(
                resolve(method, target).unwrap(),
                expected,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn field_selectors_name_lists_and_watches() {
        // `(method, target, verb, name, field_selector, label_selector)`, all on a
        // resource `resource` of `/apis/group/version` or on core pods in `ns`. The first
        // seven are requestinfo_test.go TestFieldSelectorParsing.
        #[rustfmt::skip]
        let cases = [
            ("GET", "/apis/group/version/resource", "list", "", "", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1", "list", "name1", "metadata.name=name1", ""),
            ("GET", "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1", "watch", "name1", "metadata.name=name1", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=foo=bar", "list", "", "foo=bar", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo", "list", "", "metadata.name=name1,foo", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true", "watch", "", "metadata.name=name1,foo", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false", "list", "", "metadata.name=name1,foo", ""),
            // Operators, conjunctions, sorting and escapes of fields.ParseSelector.
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name==name1", "list", "name1", "metadata.name==name1", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name!=name1", "list", "", "metadata.name!=name1", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=spec.nodeName=n1,metadata.name=name1", "list", "name1", "spec.nodeName=n1,metadata.name=name1", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=b,metadata.name=a", "list", "a", "metadata.name=b,metadata.name=a", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name!=a,metadata.name=b", "list", "b", "metadata.name!=a,metadata.name=b", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=a%5C,b", "list", "a,b", "metadata.name=a\\,b", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=a%5Cx", "list", "", "metadata.name=a\\x", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=a=b", "list", "", "metadata.name=a=b", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=%20metadata.name=a", "list", "", " metadata.name=a", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name%3Dname1,", "list", "name1", "metadata.name=name1,", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=", "list", "", "metadata.name=", ""),
            // IsValidPathSegmentName.
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=a%2Fb", "list", "", "metadata.name=a/b", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=..", "list", "", "metadata.name=..", ""),
            ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=a%25b", "list", "", "metadata.name=a%b", ""),
            // Every list option must decode for the name to count.
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&labelSelector=app%3Dweb", "list", "web", "metadata.name=web", "app=web"),
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&labelSelector=app+in+(a,b),!legacy", "list", "web", "metadata.name=web", "app in (a,b),!legacy"),
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&labelSelector=app%3D-web", "list", "", "metadata.name=web", "app=-web"),
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&limit=500&timeoutSeconds=-3", "list", "web", "metadata.name=web", ""),
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&limit=", "list", "", "metadata.name=web", ""),
            ("GET", "/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name=web&timeoutSeconds=1.5", "watch", "", "metadata.name=web", ""),
            ("GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&resourceVersion=x&continue=y&sendInitialEvents=z", "list", "web", "metadata.name=web", ""),
            // Selectors are recorded for deletecollection, not for verbs named in the path
            // or for other verbs; a field selector never names a deletecollection.
            ("DELETE", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web&labelSelector=a", "deletecollection", "", "metadata.name=web", "a"),
            ("GET", "/api/v1/watch/namespaces/ns/pods?fieldSelector=metadata.name=web", "watch", "", "", ""),
            ("POST", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name=web", "create", "", "", ""),
        ];
        for (method, target, verb, name, field_selector, label_selector) in cases {
            let (path, _) = target.split_once('?').unwrap_or((target, ""));
            let segments = split_path(path);
            let core = segments.first() == Some(&"api");
            let watch_path = segments.get(2) == Some(&"watch");
            let expected = RequestInfo {
                is_resource_request: true,
                path: path.to_owned(),
                verb: verb.to_owned(),
                api_prefix: if core { "api" } else { "apis" }.to_owned(),
                api_group: if core { "" } else { "group" }.to_owned(),
                api_version: if core { "v1" } else { "version" }.to_owned(),
                namespace: if core { "ns" } else { "" }.to_owned(),
                resource: if core { "pods" } else { "resource" }.to_owned(),
                subresource: String::new(),
                name: name.to_owned(),
                parts: strings(&[if core { "pods" } else { "resource" }]),
                field_selector: field_selector.to_owned(),
                label_selector: label_selector.to_owned(),
            };
            assert!(!watch_path || expected.field_selector.is_empty());
            assert_eq!(
                resolve(method, target).unwrap(),
                expected,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn a_path_verb_without_a_resource_is_an_error() {
        for target in [
            "/api/v1/watch",
            "/api/v1/proxy/",
            "/apis/apps/v1/watch",
            "/api/v1/watch?watch=1",
        ] {
            let verb = if target.contains("proxy") {
                "proxy"
            } else {
                "watch"
            };
            assert_eq!(
                resolve("GET", target),
                Err(RequestInfoError::MissingResource {
                    verb: verb.to_owned()
                }),
                "{target}"
            );
        }
    }

    #[test]
    fn from_parts_decodes_the_path_like_go() {
        let info = |uri: &str| {
            let (parts, ()) = http::Request::get(uri).body(()).unwrap().into_parts();
            RequestInfo::from_parts(&parts)
        };
        let colon = info("/api/v1/namespaces/a%3Ab/pods?watch=1").unwrap();
        assert_eq!(
            (
                colon.path.as_str(),
                colon.namespace.as_str(),
                colon.verb.as_str()
            ),
            ("/api/v1/namespaces/a:b/pods", "a:b", "watch")
        );
        // Go decodes %2F before splitting; the ingress normaliser rejects it earlier.
        let slash = info("/api/v1/namespaces/a%2Fb/pods").unwrap();
        assert_eq!(
            (
                slash.namespace.as_str(),
                slash.resource.as_str(),
                slash.name.as_str()
            ),
            ("a", "b", "pods")
        );
        let plus = info("/api/v1/namespaces/a+b").unwrap();
        assert_eq!(plus.name, "a+b");
        assert_eq!(
            info("/api/v1/pods/%zz"),
            Err(RequestInfoError::MalformedEscape)
        );
        assert_eq!(
            info("/api/v1/pods/%4"),
            Err(RequestInfoError::MalformedEscape)
        );
        assert_eq!(info("/api/v1/pods/%FF"), Err(RequestInfoError::NonUtf8Path));

        let request = http::Request::post("/api/v1/namespaces/ns/pods/web/exec?command=id")
            .body(())
            .unwrap();
        assert_eq!(RequestInfo::from_request(&request).unwrap().verb, "create");
    }

    #[test]
    fn label_selectors_are_validated_like_labels_parse() {
        #[rustfmt::skip]
        let cases = [
            ("", true),
            ("a", true),
            ("!a", true),
            ("a=b", true),
            ("a==b", true),
            ("a!=b", true),
            ("a = b", true),
            ("a=", true),
            ("a=b,c", true),
            ("a in (b,c)", true),
            ("a notin ()", true),
            ("a in (,)", true),
            ("a in (b,,c)", true),
            ("x in (foo,,baz),y,z notin ()", true),
            ("in in (in)", true),
            ("notin notin (notin)", true),
            ("a>1", true),
            ("a<10", true),
            ("A.b-C_d", true),
            ("example.com/app=web", true),
            ("a.b-c.d/e", true),
            ("a=b,", false),
            (",a", false),
            ("a b", false),
            ("a in b", false),
            ("a in (b c)", false),
            ("a in (b", false),
            ("a=(b)", false),
            ("a>b", false),
            ("a<-1", false),
            ("a>", false),
            ("-a", false),
            ("a-", false),
            ("a/b/c", false),
            ("/a", false),
            ("Example.com/a", false),
            ("a..b/c", false),
            ("a=b c", false),
            ("!a=b", false),
            ("a!", false),
            ("a,,b", false),
            ("a=b=c", false),
            ("a===b", false),
            ("a=-b", false),
            ("a=b-", false),
            ("é=b", false),
            ("a=\u{0}b", true),
            ("a=b,\u{0}", false),
            ("a=b\u{0}", true),
        ];
        for (selector, valid) in cases {
            assert_eq!(label_selector::is_valid(selector), valid, "{selector:?}");
        }
        let long = "k".repeat(63);
        assert!(label_selector::is_valid(&long));
        assert!(!label_selector::is_valid(&format!("{long}k")));
        assert!(label_selector::is_valid(&format!("a={long}")));
        assert!(!label_selector::is_valid(&format!("a={long}k")));
        let prefix = ["a"; 127].join(".");
        assert!(label_selector::is_valid(&format!("{prefix}/k")));
        assert!(!label_selector::is_valid(&format!("{prefix}a/k")));
    }

    #[test]
    fn attributes_follow_the_request_info() {
        let exec = resolve("GET", "/api/v1/namespaces/ns/pods/web/exec")
            .unwrap()
            .to_attributes();
        assert_eq!(
            exec,
            KubeAttributes {
                verb: "create".to_owned(),
                api_group: Some(String::new()),
                api_version: Some("v1".to_owned()),
                resource: Some("pods".to_owned()),
                subresource: Some("exec".to_owned()),
                namespace: Some("ns".to_owned()),
                name: Some("web".to_owned()),
                is_resource_request: true,
            }
        );
        let list = resolve("GET", "/apis/apps/v1/deployments").unwrap();
        assert_eq!(
            KubeAttributes::from(&list),
            KubeAttributes {
                verb: "list".to_owned(),
                api_group: Some("apps".to_owned()),
                api_version: Some("v1".to_owned()),
                resource: Some("deployments".to_owned()),
                subresource: None,
                namespace: None,
                name: None,
                is_resource_request: true,
            }
        );
        let health = resolve("GET", "/apis/apps/v1").unwrap().to_attributes();
        assert_eq!(
            health,
            KubeAttributes {
                verb: "get".to_owned(),
                ..KubeAttributes::default()
            }
        );
    }

    #[test]
    fn equal_fold_false_is_unicode_simple_folding() {
        for value in ["false", "FALSE", "fAlSe", "falſe", "FALſE"] {
            assert!(equal_fold_false(value), "{value}");
        }
        for value in [
            "",
            "fals",
            "falsee",
            "0",
            "true",
            "fal\u{17F}\u{17F}",
            "f\u{212A}lse",
        ] {
            assert!(!equal_fold_false(value), "{value}");
        }
    }

    fn any_method() -> impl Strategy<Value = Method> {
        prop::sample::select(vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
    }

    proptest! {
        #[test]
        fn arbitrary_requests_never_panic(
            method in any_method(),
            path in "(/(api|apis|v1|watch|proxy|namespaces|ns|pods|status|exec|[a-z%./]{0,4}|)){0,8}/?",
            query in proptest::option::of(
                "((watch|fieldSelector|labelSelector|limit|timeoutSeconds|[a-z%;]{0,3})(=[a-z.=,!()<>\\\\%+ 0-9]{0,12})?&?){0,4}"
            ),
        ) {
            if let Ok(info) = RequestInfo::resolve(&method, &path, query.as_deref()) {
                prop_assert_eq!(&info.path, &path);
                if !info.is_resource_request {
                    prop_assert!(info.parts.is_empty() && info.resource.is_empty());
                }
                let attributes = info.to_attributes();
                prop_assert_eq!(attributes.is_resource_request, info.is_resource_request);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(path in ".*", query in ".*", selector in ".*") {
            let _ = RequestInfo::resolve(&Method::GET, &path, Some(&query));
            let _ = label_selector::is_valid(&selector);
            let _ = field_selector::required_exact_match(&selector, "metadata.name");
        }
    }
}

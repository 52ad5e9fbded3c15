//! Realistic zt policies and request mixes, translated rule for rule into Cedar
//! (`cedar-policy`) and Rego (`regorus`), for the `policy` benchmark
//! (`benches/benches/policy.rs`).
//!
//! One seeded generator produces an intermediate list of rules (per-host HTTP routes,
//! group rules, Kubernetes namespace rules, admin-area and exec deny rules) and renders
//! it three times. Requests are generated per kind ([`Kind`]) and built three ways from
//! one zt request document (docs/policy.md, section 12.2). [`check_agreement`] decides
//! every request with all three engines and compares the effect and the set of matching
//! rule ids of the winning effect (and, for zt's trace and Rego, the matching rules of
//! both effects).
//!
//! Translation (zt → Cedar → Rego), with zt's semantics of docs/policy.md, sections 1
//! and 6 (deny overrides allow, default deny, a comparison on an absent attribute is
//! false and `not` of it is true):
//!
//! | zt | Cedar | Rego |
//! |---|---|---|
//! | `allow "id"` / `deny "id"` | `@id("id") permit` / `forbid`, `PolicyId` = `id` | `allow contains "id" if {…}` / `deny contains "id" if {…}` |
//! | `request.*` attributes (HTTP) | `action == Action::"http"`, `context.host/path/method` | `input.request.host/path/method` |
//! | `kube.*` attributes | `action == Action::"kube"`, `context.namespace/verb/resource` | `input.kube.namespace/verb/resource` |
//! | `kube.subresource` (may be absent) | `context has subresource && …` | `input.kube.subresource` (undefined when absent) |
//! | `x == "v"` | `context.x == "v"` | `input….x == "v"` |
//! | `x in ["a", "b"]` | `["a", "b"].contains(context.x)` | `input….x in {"a", "b"}` |
//! | `x starts_with "/p/"` | `context.x like "/p/*"` (`*` in the literal escaped) | `startswith(input….x, "/p/")` |
//! | `identity.groups has "g"` | `principal in Group::"g"` (scope) | `"g" in input.identity.groups` |
//! | `not identity.groups has "g"` | `unless { principal in Group::"g" }` | `not "g" in input.identity.groups` |
//!
//! Protocols are kept apart as an enforcement point does: HTTP requests carry no `kube`
//! member, Kubernetes requests no `request` member, so zt's HTTP rules are false on
//! Kubernetes requests (their attributes are absent) and vice versa; Cedar scopes the
//! same rules by action, Rego finds the attributes undefined. Large Rego policies are
//! split into files of one package ([`REGO_RULES_PER_MODULE`]). Time conditions are not
//! generated: Cedar has no time zones, so a translation would not be faithful.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityUid, PolicyId, PolicySet, RestrictedExpression,
};
use serde_json::{Value as Json, json};
use zt_core::policy::{Effect, Engine, RequestContext, RequestFixture, RuleResult};

/// The policy sizes benchmarked (number of rules).
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// The default seed of [`Workload::generate`].
pub const SEED: u64 = 0x5eed_2026_0011_2233;

/// The Rego package of the generated policies (`data.zt.allow`, `data.zt.deny`).
pub const REGO_PACKAGE: &str = "zt";

/// Rules per Rego module: regorus refuses files over 1 MiB or 20,000 lines by default,
/// so large policies are split into files of one package, as OPA bundles are.
pub const REGO_RULES_PER_MODULE: usize = 1_000;

/// The decision instant of every generated request (a Monday, noon UTC).
pub const NOW: &str = "2026-11-23T12:00:00Z";

/// How many requests of each kind a workload has, in generation order.
pub const MIX: [(Kind, usize); 3] = [(Kind::Hit, 32), (Kind::Miss, 16), (Kind::Deny, 16)];

/// What a generated request is built to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Matches at least one allow rule and no deny rule: allowed.
    Hit,
    /// Matches no rule: the default deny.
    Miss,
    /// Matches at least one deny rule (often an allow rule too): denied by that rule.
    Deny,
}

impl Kind {
    /// Every kind, in [`MIX`] order.
    pub const ALL: [Kind; 3] = [Kind::Hit, Kind::Miss, Kind::Deny];

    /// `hit`, `miss` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hit => "hit",
            Kind::Miss => "miss",
            Kind::Deny => "deny",
        }
    }
}

/// A tiny deterministic generator (xorshift64*); not for anything but workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self((seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

const PREFIXES: [&str; 10] = [
    "/",
    "/api/",
    "/api/v2/",
    "/v1/",
    "/static/",
    "/graphql/",
    "/reports/",
    "/dashboards/",
    "/webhooks/",
    "/internal/",
];

const METHOD_SETS: [&[&str]; 5] = [
    &["GET", "HEAD"],
    &["GET", "HEAD", "POST"],
    &["GET", "POST", "PUT", "PATCH", "DELETE"],
    &["GET"],
    &["POST"],
];

const VERB_SETS: [&[&str]; 3] = [
    &["get", "list", "watch"],
    &[
        "get", "list", "watch", "create", "update", "patch", "delete",
    ],
    &["get", "list"],
];

const RESOURCE_SETS: [&[&str]; 3] = [
    &["pods", "services", "configmaps"],
    &["deployments", "replicasets", "statefulsets"],
    &["jobs", "cronjobs"],
];

const ALL_RESOURCES: [&str; 6] = [
    "pods",
    "services",
    "configmaps",
    "deployments",
    "jobs",
    "secrets",
];

const EXEC_SUBRESOURCES: &[&str] = &["exec", "attach", "portforward"];

/// One generated rule, before rendering.
#[derive(Clone, Debug)]
enum Rule {
    /// A team may use a path prefix of a host with some methods.
    Route {
        id: String,
        host: String,
        prefix: &'static str,
        methods: &'static [&'static str],
        group: String,
    },
    /// A viewer group may read a few hosts.
    Group {
        id: String,
        group: String,
        hosts: Vec<String>,
        methods: &'static [&'static str],
    },
    /// A team works in a namespace.
    Kube {
        id: String,
        namespace: String,
        verbs: &'static [&'static str],
        resources: Option<&'static [&'static str]>,
        group: String,
    },
    /// A host's admin area is for admins.
    DenyAdmin { id: String, host: String },
    /// exec, attach and port-forward in a namespace need the break-glass group.
    DenyExec { id: String, namespace: String },
}

impl Rule {
    fn id(&self) -> &str {
        match self {
            Rule::Route { id, .. }
            | Rule::Group { id, .. }
            | Rule::Kube { id, .. }
            | Rule::DenyAdmin { id, .. }
            | Rule::DenyExec { id, .. } => id,
        }
    }
}

/// A generated request: one zt request document (also the Rego input) plus what Cedar
/// needs (principal, parents, action, resource, context).
#[derive(Clone, Debug)]
pub struct Request {
    /// What the request was built to do; [`check_agreement`] verifies it.
    pub kind: Kind,
    /// The zt request document (docs/policy.md, section 12.2); also the Rego `input`.
    pub document: Json,
    /// The principal's entity id (`User::"<sub>"`).
    pub sub: String,
    /// The principal's groups (`Group::"<g>"` parents in Cedar).
    pub groups: Vec<String>,
    /// `http` or `kube`: the Cedar action (`Action::"<action>"`).
    pub action: &'static str,
    /// The Cedar resource (`Service::"<host>"` or `Namespace::"<namespace>"`).
    pub resource: String,
    /// The Cedar context record: string attributes only.
    pub context: Vec<(&'static str, String)>,
}

/// One policy in three languages plus a request mix.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The zt policy text.
    pub zt: String,
    /// The same rules as Cedar policies, each annotated `@id("<zt rule id>")`.
    pub cedar: String,
    /// The same rules as Rego modules (files) of package [`REGO_PACKAGE`], at most
    /// [`REGO_RULES_PER_MODULE`] rules each.
    pub rego: Vec<String>,
    /// The requests, [`MIX`] order.
    pub requests: Vec<Request>,
    rules: Vec<Rule>,
}

struct Shape {
    hosts: usize,
    teams: usize,
    namespaces: usize,
}

impl Shape {
    fn team_of(&self, index: usize) -> String {
        format!("team-{}", index % self.teams)
    }
}

fn host(index: usize) -> String {
    format!("svc{index}.example.com")
}

fn namespace(index: usize) -> String {
    format!("ns-{index}")
}

fn creates_pods(verbs: &[&str], resources: Option<&[&str]>) -> bool {
    verbs.contains(&"create") && resources.is_none_or(|resources| resources.contains(&"pods"))
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len())]
}

impl Workload {
    /// Generates a policy of exactly `rules` rules (at least 10) and its request mix.
    ///
    /// Proportions: 5% deny rules (at least 2: admin areas and exec), of the allow rules
    /// 10% group rules, 25% Kubernetes namespace rules and the rest per-host HTTP
    /// routes; about 3 routes per host, 50 rules per team, 2 namespace rules per
    /// namespace.
    pub fn generate(rules: usize, seed: u64) -> Self {
        let rules = rules.max(10);
        let mut rng = Rng::new(seed ^ rules as u64);
        let denies = (rules / 20).max(2);
        let admin_denies = denies.div_ceil(2);
        let exec_denies = denies - admin_denies;
        let allows = rules - denies;
        let group_rules = (allows / 10).max(1);
        let kube_rules = (allows / 4).max(1);
        let route_rules = allows - group_rules - kube_rules;
        let shape = Shape {
            hosts: (route_rules / 3).max(2),
            teams: (rules / 50).max(2),
            namespaces: (kube_rules / 2).max(2),
        };

        let mut list = Vec::with_capacity(rules);
        for i in 0..route_rules {
            let h = rng.below(shape.hosts);
            let group = if rng.chance(70) {
                shape.team_of(h)
            } else {
                shape.team_of(rng.below(shape.teams))
            };
            list.push(Rule::Route {
                id: format!("route-{i}"),
                host: host(h),
                prefix: pick(&mut rng, &PREFIXES),
                methods: pick(&mut rng, &METHOD_SETS),
                group,
            });
        }
        for i in 0..group_rules {
            let count = 2 + rng.below(3);
            list.push(Rule::Group {
                id: format!("group-read-{i}"),
                group: format!("viewers-{i}"),
                hosts: (0..count).map(|_| host(rng.below(shape.hosts))).collect(),
                methods: METHOD_SETS[0],
            });
        }
        for i in 0..kube_rules {
            let ns = rng.below(shape.namespaces);
            let group = if rng.chance(70) {
                shape.team_of(ns)
            } else {
                shape.team_of(rng.below(shape.teams))
            };
            let resources = rng.chance(50).then(|| pick(&mut rng, &RESOURCE_SETS));
            list.push(Rule::Kube {
                id: format!("kube-{i}"),
                namespace: namespace(ns),
                verbs: pick(&mut rng, &VERB_SETS),
                resources,
                group,
            });
        }
        // Admin areas are on hosts a team serves from `/`; exec is denied in namespaces
        // where a team may create pods: there deny overrides allow.
        let mut root_hosts: Vec<&str> = list
            .iter()
            .filter_map(|rule| match rule {
                Rule::Route {
                    host, prefix: "/", ..
                } => Some(host.as_str()),
                _ => None,
            })
            .collect();
        let mut exec_namespaces: Vec<&str> = list
            .iter()
            .filter_map(|rule| match rule {
                Rule::Kube {
                    namespace,
                    verbs,
                    resources,
                    ..
                } if creates_pods(verbs, *resources) => Some(namespace.as_str()),
                _ => None,
            })
            .collect();
        root_hosts.sort_unstable();
        root_hosts.dedup();
        exec_namespaces.sort_unstable();
        exec_namespaces.dedup();
        let spread =
            |i: usize, count: usize, known: &[&str], fallback: &dyn Fn(usize) -> String| {
                if count <= known.len() {
                    known[i * known.len() / count].to_owned()
                } else if i < known.len() {
                    known[i].to_owned()
                } else {
                    fallback(i)
                }
            };
        let mut deny_rules = Vec::with_capacity(denies);
        for i in 0..admin_denies {
            deny_rules.push(Rule::DenyAdmin {
                id: format!("deny-admin-{i}"),
                host: spread(i, admin_denies, &root_hosts, &|i| {
                    host(i * shape.hosts / admin_denies)
                }),
            });
        }
        for i in 0..exec_denies {
            deny_rules.push(Rule::DenyExec {
                id: format!("deny-exec-{i}"),
                namespace: spread(i, exec_denies, &exec_namespaces, &|i| {
                    namespace(i * shape.namespaces / exec_denies)
                }),
            });
        }
        list.extend(deny_rules);

        let mut requests = Vec::new();
        for (kind, count) in MIX {
            for n in 0..count {
                requests.push(match kind {
                    Kind::Hit => hit(&mut rng, &list),
                    Kind::Miss => miss(&mut rng, &list, &shape, n),
                    Kind::Deny => deny(&mut rng, &list, &shape, n),
                });
            }
        }

        Self {
            zt: render_zt(&list),
            cedar: render_cedar(&list),
            rego: render_rego(&list),
            requests,
            rules: list,
        }
    }

    /// How many rules the policy has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rule ids, in source order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(Rule::id)
    }
}

/// An employee's groups as an identity provider sends them, sorted: the group that
/// matters plus `employees` and six directory groups no rule names.
fn staff(rng: &mut Rng, group: &str) -> Vec<String> {
    let mut groups = vec![
        group.to_owned(),
        "employees".to_owned(),
        "vpn-users".to_owned(),
        format!("org-{}", rng.below(50)),
        format!("project-{}", rng.below(500)),
        format!("site-{}", rng.below(10)),
        format!("slack-{}", rng.below(100)),
        format!("mail-list-{}", rng.below(200)),
    ];
    groups.sort_unstable();
    groups
}

fn user(rng: &mut Rng) -> String {
    format!("user-{}", rng.below(100_000))
}

fn http_request(
    kind: Kind,
    sub: String,
    groups: Vec<String>,
    method: &str,
    host: &str,
    path: String,
) -> Request {
    Request {
        kind,
        document: json!({
            "now": NOW,
            "identity": {
                "sub": sub,
                "email": format!("{sub}@example.com"),
                "email_verified": true,
                "groups": groups,
            },
            "request": {"method": method, "host": host, "path": path},
        }),
        action: "http",
        resource: host.to_owned(),
        context: vec![
            ("host", host.to_owned()),
            ("path", path),
            ("method", method.to_owned()),
        ],
        sub,
        groups,
    }
}

fn kube_request(
    kind: Kind,
    sub: String,
    groups: Vec<String>,
    verb: &str,
    namespace: &str,
    resource: &str,
    subresource: Option<&str>,
) -> Request {
    let mut kube = json!({
        "verb": verb,
        "namespace": namespace,
        "resource": resource,
        "name": "api-7f9c",
    });
    let mut context = vec![
        ("verb", verb.to_owned()),
        ("namespace", namespace.to_owned()),
        ("resource", resource.to_owned()),
        ("name", "api-7f9c".to_owned()),
    ];
    if let (Some(sub), Some(object)) = (subresource, kube.as_object_mut()) {
        object.insert("subresource".into(), sub.into());
        context.push(("subresource", sub.to_owned()));
    }
    Request {
        kind,
        document: json!({
            "now": NOW,
            "identity": {
                "sub": sub,
                "email": format!("{sub}@example.com"),
                "email_verified": true,
                "groups": groups,
            },
            "kube": kube,
        }),
        action: "kube",
        resource: namespace.to_owned(),
        context,
        sub,
        groups,
    }
}

/// A request that one allow rule (picked at random) grants.
fn hit(rng: &mut Rng, rules: &[Rule]) -> Request {
    let sub = user(rng);
    let n = rng.below(1_000);
    // `generate` makes at least one allow rule, so this ends.
    loop {
        return match &rules[rng.below(rules.len())] {
            Rule::Route {
                host,
                prefix,
                methods,
                group,
                ..
            } => http_request(
                Kind::Hit,
                sub,
                staff(rng, group),
                pick(rng, methods),
                host,
                format!("{prefix}items/{n}"),
            ),
            Rule::Group { group, hosts, .. } => http_request(
                Kind::Hit,
                sub,
                staff(rng, group),
                "GET",
                &hosts[rng.below(hosts.len())],
                format!("/dashboards/{n}"),
            ),
            Rule::Kube {
                namespace,
                verbs,
                resources,
                group,
                ..
            } => {
                let resource = pick(rng, resources.unwrap_or(&ALL_RESOURCES));
                kube_request(
                    Kind::Hit,
                    sub,
                    staff(rng, group),
                    pick(rng, verbs),
                    namespace,
                    resource,
                    None,
                )
            }
            Rule::DenyAdmin { .. } | Rule::DenyExec { .. } => continue,
        };
    }
}

fn routes(rules: &[Rule]) -> Vec<(&str, &str)> {
    rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::Route { host, group, .. } => Some((host.as_str(), group.as_str())),
            _ => None,
        })
        .collect()
}

/// A request no rule matches, in four realistic variants.
fn miss(rng: &mut Rng, rules: &[Rule], shape: &Shape, n: usize) -> Request {
    let sub = user(rng);
    let routes = routes(rules);
    let (known_host, team) = routes
        .get(rng.below(routes.len()))
        .copied()
        .unwrap_or(("svc0.example.com", "team-0"));
    let other_team = shape.team_of(rng.below(shape.teams));
    match n % 4 {
        // A host no rule names.
        0 => http_request(
            Kind::Miss,
            sub,
            staff(rng, &other_team),
            "GET",
            &host(shape.hosts + rng.below(1_000)),
            "/api/items/1".into(),
        ),
        // A method no rule allows (CORS preflight).
        1 => http_request(
            Kind::Miss,
            sub,
            staff(rng, team),
            "OPTIONS",
            known_host,
            "/api/items/1".into(),
        ),
        // A namespace no rule names.
        2 => kube_request(
            Kind::Miss,
            sub,
            staff(rng, &other_team),
            "get",
            &namespace(shape.namespaces + rng.below(1_000)),
            "pods",
            None,
        ),
        // A contractor in no team.
        _ => http_request(
            Kind::Miss,
            sub,
            vec![
                "contractors".into(),
                format!("site-{}", rng.below(10)),
                "vpn-users".into(),
            ],
            "GET",
            known_host,
            "/api/items/1".into(),
        ),
    }
}

/// A request a deny rule refuses, in four variants: an admin page or exec by a team an
/// allow rule grants it to (deny overrides allow), and the same by the host's or
/// namespace's owner team (whom no allow rule may grant it).
fn deny(rng: &mut Rng, rules: &[Rule], shape: &Shape, n: usize) -> Request {
    let sub = user(rng);
    let admin: Vec<&str> = rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::DenyAdmin { host, .. } => Some(host.as_str()),
            _ => None,
        })
        .collect();
    let exec: Vec<&str> = rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::DenyExec { namespace, .. } => Some(namespace.as_str()),
            _ => None,
        })
        .collect();
    // (host, group, methods) of `/` routes on hosts with an admin deny rule.
    let granted_admin: Vec<(&str, &str, &[&str])> = rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::Route {
                host,
                prefix: "/",
                methods,
                group,
                ..
            } if admin.contains(&host.as_str()) => Some((host.as_str(), group.as_str(), *methods)),
            _ => None,
        })
        .collect();
    // (namespace, group) of rules granting pod creation where exec is denied.
    let granted_exec: Vec<(&str, &str)> = rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::Kube {
                namespace,
                verbs,
                resources,
                group,
                ..
            } if creates_pods(verbs, *resources) && exec.contains(&namespace.as_str()) => {
                Some((namespace.as_str(), group.as_str()))
            }
            _ => None,
        })
        .collect();
    let index_of = |name: &str, prefix: &str, suffix: &str| -> usize {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0)
    };
    let admin_request = |rng: &mut Rng, sub: String, host: &str, group: &str, method: &str| {
        http_request(
            Kind::Deny,
            sub,
            staff(rng, group),
            method,
            host,
            "/admin/users".into(),
        )
    };
    let exec_request = |rng: &mut Rng, sub: String, ns: &str, group: &str| {
        kube_request(
            Kind::Deny,
            sub,
            staff(rng, group),
            "create",
            ns,
            "pods",
            Some("exec"),
        )
    };
    let variant = match n % 4 {
        0 if granted_admin.is_empty() => 2,
        1 if granted_exec.is_empty() => 3,
        3 if exec.is_empty() => 2,
        other => other,
    };
    match variant {
        0 => {
            let (host, group, methods) = granted_admin[rng.below(granted_admin.len())];
            let method = pick(rng, methods);
            admin_request(rng, sub, host, group, method)
        }
        1 => {
            let (ns, group) = granted_exec[rng.below(granted_exec.len())];
            exec_request(rng, sub, ns, group)
        }
        2 => {
            let host = admin.get(rng.below(admin.len())).copied().unwrap_or("");
            let team = shape.team_of(index_of(host, "svc", ".example.com"));
            admin_request(rng, sub, host, &team, "GET")
        }
        _ => {
            let ns = exec[rng.below(exec.len())];
            let team = shape.team_of(index_of(ns, "ns-", ""));
            exec_request(rng, sub, ns, &team)
        }
    }
}

// ---------------------------------------------------------------------------------
// Rendering.

fn zt_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn zt_list(items: &[impl AsRef<str>]) -> String {
    let items: Vec<String> = items.iter().map(|item| zt_str(item.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

fn render_zt(rules: &[Rule]) -> String {
    let mut out = String::from("# Generated by zt-benches (policy_workload).\n");
    for rule in rules {
        let (effect, reason, conjuncts) = match rule {
            Rule::Route {
                host,
                prefix,
                methods,
                group,
                ..
            } => (
                "allow",
                None,
                vec![
                    format!("request.host == {}", zt_str(host)),
                    format!("request.path starts_with {}", zt_str(prefix)),
                    format!("request.method in {}", zt_list(methods)),
                    format!("identity.groups has {}", zt_str(group)),
                ],
            ),
            Rule::Group {
                group,
                hosts,
                methods,
                ..
            } => (
                "allow",
                None,
                vec![
                    format!("identity.groups has {}", zt_str(group)),
                    format!("request.host in {}", zt_list(hosts)),
                    format!("request.method in {}", zt_list(methods)),
                ],
            ),
            Rule::Kube {
                namespace,
                verbs,
                resources,
                group,
                ..
            } => {
                let mut conjuncts = vec![
                    format!("kube.namespace == {}", zt_str(namespace)),
                    format!("kube.verb in {}", zt_list(verbs)),
                ];
                if let Some(resources) = resources {
                    conjuncts.push(format!("kube.resource in {}", zt_list(resources)));
                }
                conjuncts.push(format!("identity.groups has {}", zt_str(group)));
                ("allow", None, conjuncts)
            }
            Rule::DenyAdmin { host, .. } => (
                "deny",
                Some("the admin area is for admins"),
                vec![
                    format!("request.host == {}", zt_str(host)),
                    "request.path starts_with \"/admin\"".to_owned(),
                    "not identity.groups has \"admins\"".to_owned(),
                ],
            ),
            Rule::DenyExec { namespace, .. } => (
                "deny",
                Some("exec, attach and port-forward need the break-glass group"),
                vec![
                    format!("kube.namespace == {}", zt_str(namespace)),
                    "kube.resource == \"pods\"".to_owned(),
                    format!("kube.subresource in {}", zt_list(EXEC_SUBRESOURCES)),
                    "not identity.groups has \"break-glass\"".to_owned(),
                ],
            ),
        };
        let _ = write!(out, "\n{effect} {}", zt_str(rule.id()));
        if let Some(reason) = reason {
            let _ = write!(out, "\n  reason {}", zt_str(reason));
        }
        let _ = write!(out, "\n  when {}", conjuncts.join("\n   and "));
        out.push('\n');
    }
    out
}

fn cedar_str(text: &str) -> String {
    zt_str(text)
}

/// A Cedar `like` pattern for a plain prefix: the literal with `*` escaped, then `*`.
fn cedar_prefix_pattern(prefix: &str) -> String {
    let mut out = String::from("\"");
    for c in prefix.chars() {
        match c {
            '"' | '\\' | '*' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str("*\"");
    out
}

fn cedar_set(items: &[impl AsRef<str>]) -> String {
    zt_list(items)
}

fn render_cedar(rules: &[Rule]) -> String {
    let mut out = String::from("// Generated by zt-benches (policy_workload).\n");
    for rule in rules {
        let (effect, principal, action, when, unless) = match rule {
            Rule::Route {
                host,
                prefix,
                methods,
                group,
                ..
            } => (
                "permit",
                format!("principal in Group::{}", cedar_str(group)),
                "http",
                vec![
                    format!("context.host == {}", cedar_str(host)),
                    format!("context.path like {}", cedar_prefix_pattern(prefix)),
                    format!("{}.contains(context.method)", cedar_set(methods)),
                ],
                None,
            ),
            Rule::Group {
                group,
                hosts,
                methods,
                ..
            } => (
                "permit",
                format!("principal in Group::{}", cedar_str(group)),
                "http",
                vec![
                    format!("{}.contains(context.host)", cedar_set(hosts)),
                    format!("{}.contains(context.method)", cedar_set(methods)),
                ],
                None,
            ),
            Rule::Kube {
                namespace,
                verbs,
                resources,
                group,
                ..
            } => {
                let mut when = vec![
                    format!("context.namespace == {}", cedar_str(namespace)),
                    format!("{}.contains(context.verb)", cedar_set(verbs)),
                ];
                if let Some(resources) = resources {
                    when.push(format!(
                        "{}.contains(context.resource)",
                        cedar_set(resources)
                    ));
                }
                (
                    "permit",
                    format!("principal in Group::{}", cedar_str(group)),
                    "kube",
                    when,
                    None,
                )
            }
            Rule::DenyAdmin { host, .. } => (
                "forbid",
                "principal".to_owned(),
                "http",
                vec![
                    format!("context.host == {}", cedar_str(host)),
                    format!("context.path like {}", cedar_prefix_pattern("/admin")),
                ],
                Some("principal in Group::\"admins\""),
            ),
            Rule::DenyExec { namespace, .. } => (
                "forbid",
                "principal".to_owned(),
                "kube",
                vec![
                    format!("context.namespace == {}", cedar_str(namespace)),
                    "context.resource == \"pods\"".to_owned(),
                    "context has subresource".to_owned(),
                    format!(
                        "{}.contains(context.subresource)",
                        cedar_set(EXEC_SUBRESOURCES)
                    ),
                ],
                Some("principal in Group::\"break-glass\""),
            ),
        };
        let _ = write!(
            out,
            "\n@id({})\n{effect} (\n  {principal},\n  action == Action::\"{action}\",\n  resource\n)\nwhen {{\n  {}\n}}",
            cedar_str(rule.id()),
            when.join(" &&\n  ")
        );
        if let Some(unless) = unless {
            let _ = write!(out, "\nunless {{ {unless} }}");
        }
        out.push_str(";\n");
    }
    out
}

fn rego_str(text: &str) -> String {
    Json::from(text).to_string()
}

fn rego_set(items: &[impl AsRef<str>]) -> String {
    let items: Vec<String> = items.iter().map(|item| rego_str(item.as_ref())).collect();
    format!("{{{}}}", items.join(", "))
}

fn render_rego(rules: &[Rule]) -> Vec<String> {
    rules
        .chunks(REGO_RULES_PER_MODULE)
        .map(render_rego_module)
        .collect()
}

fn render_rego_module(rules: &[Rule]) -> String {
    let mut out = format!("# Generated by zt-benches (policy_workload).\npackage {REGO_PACKAGE}\n");
    for rule in rules {
        let (head, body) = match rule {
            Rule::Route {
                host,
                prefix,
                methods,
                group,
                ..
            } => (
                "allow",
                vec![
                    format!("input.request.host == {}", rego_str(host)),
                    format!("startswith(input.request.path, {})", rego_str(prefix)),
                    format!("input.request.method in {}", rego_set(methods)),
                    format!("{} in input.identity.groups", rego_str(group)),
                ],
            ),
            Rule::Group {
                group,
                hosts,
                methods,
                ..
            } => (
                "allow",
                vec![
                    format!("{} in input.identity.groups", rego_str(group)),
                    format!("input.request.host in {}", rego_set(hosts)),
                    format!("input.request.method in {}", rego_set(methods)),
                ],
            ),
            Rule::Kube {
                namespace,
                verbs,
                resources,
                group,
                ..
            } => {
                let mut body = vec![
                    format!("input.kube.namespace == {}", rego_str(namespace)),
                    format!("input.kube.verb in {}", rego_set(verbs)),
                ];
                if let Some(resources) = resources {
                    body.push(format!("input.kube.resource in {}", rego_set(resources)));
                }
                body.push(format!("{} in input.identity.groups", rego_str(group)));
                ("allow", body)
            }
            Rule::DenyAdmin { host, .. } => (
                "deny",
                vec![
                    format!("input.request.host == {}", rego_str(host)),
                    "startswith(input.request.path, \"/admin\")".to_owned(),
                    "not \"admins\" in input.identity.groups".to_owned(),
                ],
            ),
            Rule::DenyExec { namespace, .. } => (
                "deny",
                vec![
                    format!("input.kube.namespace == {}", rego_str(namespace)),
                    "input.kube.resource == \"pods\"".to_owned(),
                    format!("input.kube.subresource in {}", rego_set(EXEC_SUBRESOURCES)),
                    "not \"break-glass\" in input.identity.groups".to_owned(),
                ],
            ),
        };
        let _ = write!(
            out,
            "\n{head} contains {} if {{\n\t{}\n}}\n",
            rego_str(rule.id()),
            body.join("\n\t")
        );
    }
    out
}

// ---------------------------------------------------------------------------------
// Engines and requests.

/// The three engines, loaded with one workload's policy.
pub struct Engines {
    /// zt, compiled from the text form.
    pub zt: Engine,
    /// Cedar policies, each `PolicyId` the zt rule id.
    pub cedar: PolicySet,
    /// The Cedar authorizer.
    pub authorizer: Authorizer,
    /// regorus with the Rego modules added.
    pub rego: regorus::Engine,
}

impl Engines {
    /// Parses and compiles the workload's policy in all three languages.
    pub fn build(workload: &Workload) -> Result<Self, String> {
        let zt = Engine::from_source(&workload.zt)
            .map_err(|e| format!("zt: {}", e.render("policy.zt", &workload.zt)))?;
        Ok(Self {
            zt,
            cedar: cedar_policy_set(&workload.cedar)?,
            authorizer: Authorizer::new(),
            rego: rego_engine(&workload.rego)?,
        })
    }
}

/// Parses Cedar policy text and renames every policy to its `@id` annotation.
pub fn cedar_policy_set(text: &str) -> Result<PolicySet, String> {
    let parsed = PolicySet::from_str(text).map_err(|e| format!("cedar: {e:?}"))?;
    let mut set = PolicySet::new();
    for policy in parsed.policies() {
        let id = policy
            .annotation("id")
            .ok_or_else(|| format!("cedar: policy {} has no @id", policy.id()))?;
        set.add(policy.new_id(PolicyId::new(id)))
            .map_err(|e| format!("cedar: {e}"))?;
    }
    Ok(set)
}

/// A regorus engine with the Rego modules added (as `policy-<n>.rego`).
pub fn rego_engine(modules: &[String]) -> Result<regorus::Engine, String> {
    let mut engine = regorus::Engine::new();
    for (n, module) in modules.iter().enumerate() {
        engine
            .add_policy(format!("policy-{n}.rego"), module.clone())
            .map_err(|e| format!("regorus: {e:#}"))?;
    }
    Ok(engine)
}

/// One request for Cedar: the request and the entity store (the principal with its
/// groups as parents).
pub struct CedarRequest {
    /// The Cedar request.
    pub request: cedar_policy::Request,
    /// The entities: `User::"<sub>"` with `Group::"<g>"` parents, and the groups.
    pub entities: Entities,
}

/// Every request of a workload, built for each engine (untimed set-up).
pub struct Prepared {
    /// What each request was built to do.
    pub kinds: Vec<Kind>,
    /// zt: the request fixtures; [`RequestFixture::context`] lends them to `decide`.
    pub zt: Vec<RequestFixture>,
    /// Cedar requests and entities.
    pub cedar: Vec<CedarRequest>,
    /// regorus inputs (the zt request documents).
    pub rego: Vec<regorus::Value>,
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    EntityUid::from_str(&format!("{type_name}::{}", cedar_str(id)))
        .map_err(|e| format!("cedar: entity uid {type_name}::{id}: {e}"))
}

fn cedar_request(request: &Request) -> Result<CedarRequest, String> {
    let principal = uid("User", &request.sub)?;
    let parents = request
        .groups
        .iter()
        .map(|group| uid("Group", group))
        .collect::<Result<HashSet<_>, _>>()?;
    let mut entities = vec![Entity::new_no_attrs(principal.clone(), parents.clone())];
    entities.extend(
        parents
            .into_iter()
            .map(|group| Entity::new_no_attrs(group, HashSet::new())),
    );
    let entities =
        Entities::from_entities(entities, None).map_err(|e| format!("cedar: entities: {e}"))?;
    let context = Context::from_pairs(request.context.iter().map(|(name, value)| {
        (
            (*name).to_owned(),
            RestrictedExpression::new_string(value.clone()),
        )
    }))
    .map_err(|e| format!("cedar: context: {e}"))?;
    let resource_type = if request.action == "kube" {
        "Namespace"
    } else {
        "Service"
    };
    let request = cedar_policy::Request::new(
        principal,
        uid("Action", request.action)?,
        uid(resource_type, &request.resource)?,
        context,
        None,
    )
    .map_err(|e| format!("cedar: request: {e}"))?;
    Ok(CedarRequest { request, entities })
}

impl Prepared {
    /// Builds every request of `workload` for the three engines.
    pub fn build(workload: &Workload) -> Result<Self, String> {
        let mut prepared = Self {
            kinds: Vec::new(),
            zt: Vec::new(),
            cedar: Vec::new(),
            rego: Vec::new(),
        };
        for request in &workload.requests {
            prepared.kinds.push(request.kind);
            prepared.zt.push(
                RequestFixture::from_json(&request.document, None)
                    .map_err(|e| format!("zt: request {}: {e}", request.document))?,
            );
            prepared.cedar.push(cedar_request(request)?);
            prepared
                .rego
                .push(regorus::Value::from(request.document.clone()));
        }
        Ok(prepared)
    }

    /// The zt request contexts, borrowing the fixtures.
    pub fn zt_contexts(&self) -> Vec<RequestContext<'_>> {
        self.zt.iter().map(RequestFixture::context).collect()
    }
}

/// One engine's decision: the effect and the ids of the matching rules of the winning
/// effect, sorted (empty for a default deny).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Allow or deny.
    pub effect: Effect,
    /// The matching rule ids of the winning effect, sorted.
    pub rules: Vec<String>,
}

impl Outcome {
    fn new(effect: Effect, rules: impl IntoIterator<Item = String>) -> Self {
        let mut rules: Vec<String> = rules.into_iter().collect();
        rules.sort_unstable();
        Self { effect, rules }
    }
}

/// zt's decision.
pub fn zt_outcome(engine: &Engine, context: &RequestContext<'_>) -> Outcome {
    let decision = engine.decide(context);
    Outcome::new(decision.effect(), decision.rules().map(str::to_owned))
}

/// Cedar's decision: for allow the satisfied permits, for deny the satisfied forbids
/// (none for a default deny). Evaluation errors are an error.
pub fn cedar_outcome(engines: &Engines, request: &CedarRequest) -> Result<Outcome, String> {
    let response =
        engines
            .authorizer
            .is_authorized(&request.request, &engines.cedar, &request.entities);
    let errors: Vec<String> = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(format!("cedar: evaluation errors: {errors:?}"));
    }
    let effect = match response.decision() {
        cedar_policy::Decision::Allow => Effect::Allow,
        cedar_policy::Decision::Deny => Effect::Deny,
    };
    Ok(Outcome::new(
        effect,
        response.diagnostics().reason().map(ToString::to_string),
    ))
}

fn rego_ids(engine: &mut regorus::Engine, rule: &str) -> Result<Vec<String>, String> {
    let value = engine
        .eval_rule(format!("data.{REGO_PACKAGE}.{rule}"))
        .map_err(|e| format!("regorus: {rule}: {e:#}"))?;
    match value {
        regorus::Value::Undefined => Ok(Vec::new()),
        regorus::Value::Set(set) => set
            .iter()
            .map(|id| {
                id.as_string()
                    .map(|id| id.to_string())
                    .map_err(|e| format!("regorus: {rule}: {e:#}"))
            })
            .collect(),
        other => Err(format!("regorus: {rule} is not a set: {other:?}")),
    }
}

/// Every matching rule of both effects, sorted ids: what zt's trace and Rego's two sets
/// show (Cedar reports only the determining policies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    /// Matching deny rules.
    pub deny: Vec<String>,
    /// Matching allow rules.
    pub allow: Vec<String>,
}

impl Matches {
    /// The decision with zt's semantics: the deny rules if any match, else the allow
    /// rules if any match, else a default deny.
    pub fn outcome(&self) -> Outcome {
        if !self.deny.is_empty() {
            Outcome::new(Effect::Deny, self.deny.clone())
        } else if !self.allow.is_empty() {
            Outcome::new(Effect::Allow, self.allow.clone())
        } else {
            Outcome::new(Effect::Deny, Vec::new())
        }
    }
}

/// regorus: the `deny` and `allow` sets.
pub fn rego_matches(
    engine: &mut regorus::Engine,
    input: &regorus::Value,
) -> Result<Matches, String> {
    engine.set_input(input.clone());
    let mut deny = rego_ids(engine, "deny")?;
    let mut allow = rego_ids(engine, "allow")?;
    deny.sort_unstable();
    allow.sort_unstable();
    Ok(Matches { deny, allow })
}

/// zt: every matching rule, from the trace (evaluates every rule, bypassing the index).
pub fn zt_matches(engine: &Engine, context: &RequestContext<'_>) -> Matches {
    let (_, trace) = engine.decide_traced(context);
    let mut matches = Matches::default();
    for entry in trace {
        if entry.result == RuleResult::Match {
            match entry.effect {
                Effect::Deny => matches.deny.push(entry.id.to_owned()),
                Effect::Allow => matches.allow.push(entry.id.to_owned()),
            }
        }
    }
    matches.deny.sort_unstable();
    matches.allow.sort_unstable();
    matches
}

fn rego_any(engine: &mut regorus::Engine, rule: &str) -> Result<bool, String> {
    let value = engine
        .eval_rule(format!("data.{REGO_PACKAGE}.{rule}"))
        .map_err(|e| format!("regorus: {rule}: {e:#}"))?;
    match value {
        regorus::Value::Undefined => Ok(false),
        regorus::Value::Set(set) => Ok(!set.is_empty()),
        other => Err(format!("regorus: {rule} is not a set: {other:?}")),
    }
}

/// The hot path for regorus: evaluates `deny`, and `allow` only if no deny rule
/// matched (as zt does). Returns the effect.
pub fn rego_effect(engine: &mut regorus::Engine, input: &regorus::Value) -> Result<Effect, String> {
    engine.set_input(input.clone());
    Ok(
        if !rego_any(engine, "deny")? && rego_any(engine, "allow")? {
            Effect::Allow
        } else {
            Effect::Deny
        },
    )
}

/// Counts of the effects seen by [`check_agreement`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Requests checked.
    pub requests: usize,
    /// Allowed requests.
    pub allowed: usize,
    /// Requests denied by a deny rule.
    pub denied_by_rule: usize,
    /// Default denies.
    pub default_denied: usize,
    /// Requests denied by a rule that an allow rule also matches (deny overrides allow).
    pub overridden_allows: usize,
}

/// Decides every request with the three engines and checks that they agree on the
/// effect and on the set of matching rules of the winning effect; that zt's trace and
/// Rego's two sets agree on the matching rules of both effects (Cedar reports only the
/// determining ones), and that zt's indexed decision equals the trace's; and that each
/// request does what its [`Kind`] says (hit: allowed; miss: default deny; deny: denied
/// by a rule). Returns a description of the first disagreement.
pub fn check_agreement(
    workload: &Workload,
    engines: &mut Engines,
    prepared: &Prepared,
) -> Result<Agreement, String> {
    let mut agreement = Agreement::default();
    let contexts = prepared.zt_contexts();
    for (index, kind) in prepared.kinds.iter().enumerate() {
        let context_of = || {
            format!(
                "{} rules, request #{index} ({}): {}",
                workload.rule_count(),
                kind.as_str(),
                workload.requests[index].document
            )
        };
        let zt = zt_outcome(&engines.zt, &contexts[index]);
        let cedar = cedar_outcome(engines, &prepared.cedar[index])
            .map_err(|e| format!("{}: {e}", context_of()))?;
        let rego_all = rego_matches(&mut engines.rego, &prepared.rego[index])
            .map_err(|e| format!("{}: {e}", context_of()))?;
        let rego = rego_all.outcome();
        if zt != cedar || zt != rego {
            return Err(format!(
                "engines disagree at {}:\n  zt:      {zt:?}\n  cedar:   {cedar:?}\n  regorus: {rego:?}",
                context_of()
            ));
        }
        let as_built = match kind {
            Kind::Hit => zt.effect == Effect::Allow && !zt.rules.is_empty(),
            Kind::Miss => zt.effect == Effect::Deny && zt.rules.is_empty(),
            Kind::Deny => zt.effect == Effect::Deny && !zt.rules.is_empty(),
        };
        let zt_all = zt_matches(&engines.zt, &contexts[index]);
        if zt_all != rego_all || zt_all.outcome() != zt {
            return Err(format!(
                "matching rules of both effects differ at {}:\n  zt (trace): {zt_all:?}\n  regorus:    {rego_all:?}\n  zt decide:  {zt:?}",
                context_of()
            ));
        }
        if !zt_all.deny.is_empty() && !zt_all.allow.is_empty() {
            agreement.overridden_allows += 1;
        }
        if !as_built {
            return Err(format!(
                "the generator built a wrong request at {}: all engines say {zt:?}",
                context_of()
            ));
        }
        agreement.requests += 1;
        match (zt.effect, zt.rules.is_empty()) {
            (Effect::Allow, _) => agreement.allowed += 1,
            (Effect::Deny, false) => agreement.denied_by_rule += 1,
            (Effect::Deny, true) => agreement.default_denied += 1,
        }
    }
    Ok(agreement)
}

/// A summary of the generated rules by kind, for the benchmark's log.
pub fn rule_mix(workload: &Workload) -> HashMap<&'static str, usize> {
    let mut mix = HashMap::new();
    for rule in &workload.rules {
        let kind = match rule {
            Rule::Route { .. } => "route",
            Rule::Group { .. } => "group",
            Rule::Kube { .. } => "kube",
            Rule::DenyAdmin { .. } => "deny-admin",
            Rule::DenyExec { .. } => "deny-exec",
        };
        *mix.entry(kind).or_default() += 1;
    }
    mix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree(rules: usize) -> Agreement {
        let workload = Workload::generate(rules, SEED);
        assert_eq!(workload.rule_count(), rules);
        let ids: HashSet<&str> = workload.rule_ids().collect();
        assert_eq!(ids.len(), rules, "rule ids are unique");
        let mut engines = Engines::build(&workload).unwrap();
        assert_eq!(engines.zt.rule_count(), rules);
        assert_eq!(engines.cedar.policies().count(), rules);
        let prepared = Prepared::build(&workload).unwrap();
        match check_agreement(&workload, &mut engines, &prepared) {
            Ok(agreement) => agreement,
            Err(message) => panic!("{message}"),
        }
    }

    #[test]
    fn engines_agree_at_10_and_100_rules() {
        for rules in [10, 100] {
            let agreement = agree(rules);
            let total: usize = MIX.iter().map(|(_, n)| n).sum();
            assert_eq!(agreement.requests, total);
            assert_eq!(agreement.allowed, 32);
            assert_eq!(agreement.default_denied, 16);
            assert_eq!(agreement.denied_by_rule, 16);
            assert!(
                agreement.overridden_allows > 0,
                "deny overrides allow is exercised"
            );
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let a = Workload::generate(100, SEED);
        let b = Workload::generate(100, SEED);
        assert_eq!(a.zt, b.zt);
        assert_eq!(a.cedar, b.cedar);
        assert_eq!(a.rego, b.rego);
        assert_eq!(Workload::generate(2_500, SEED).rego.len(), 3);
        assert_eq!(
            a.requests.iter().map(|r| &r.document).collect::<Vec<_>>(),
            b.requests.iter().map(|r| &r.document).collect::<Vec<_>>()
        );
        assert_ne!(a.zt, Workload::generate(100, SEED + 1).zt);
    }

    #[test]
    fn translations_look_as_documented() {
        let workload = Workload::generate(10, SEED);
        assert!(workload.zt.contains("request.path starts_with \"/admin\""));
        assert!(workload.cedar.contains("context.path like \"/admin*\""));
        assert!(
            workload
                .cedar
                .contains("unless { principal in Group::\"admins\" }")
        );
        assert!(
            workload
                .rego
                .concat()
                .contains("not \"admins\" in input.identity.groups")
        );
        assert_eq!(cedar_prefix_pattern("/a*b/"), "\"/a\\*b/*\"");
    }
}

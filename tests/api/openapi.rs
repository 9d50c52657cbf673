//! The OpenAPI document at `/api/v1/openapi.json` tells the truth: every parameter sits where the
//! server reads it, every operation lists the errors the shared extractors and middleware can
//! answer with, a node answers what the document says, and the web client's copy
//! (`web/openapi.json`, from which its TypeScript types are generated) is the current one.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use flowly_testkit::{Client, TestApp, code, password_of};

const REGENERATE: &str =
    "cargo run --bin flowly -- openapi > web/openapi.json && (cd web && npm run gen:api)";

/// The document `api_router()` builds, the one a node serves.
fn document() -> Value {
    let (_, openapi) = flowly::api::api_router();
    serde_json::to_value(openapi).expect("the document serialises")
}

/// One operation of the document: a method on a path template.
struct Op<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Value,
}

impl Op<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// The names of the parameters declared `in: place`.
    fn params_in(&self, place: &str) -> BTreeSet<String> {
        self.params()
            .filter(|p| p["in"] == place)
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    }

    fn params(&self) -> impl Iterator<Item = &Value> {
        self.op["parameters"].as_array().into_iter().flatten()
    }

    /// The `{name}` placeholders of the path template.
    fn placeholders(&self) -> BTreeSet<String> {
        self.path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    fn has_body(&self) -> bool {
        self.op.get("requestBody").is_some()
    }

    fn response(&self, status: u16) -> Option<&Value> {
        self.op["responses"].get(status.to_string())
    }

    /// Whether a request without credentials is refused with 401: every operation whose
    /// security is not the empty requirement, except the WebSocket, which authenticates after the
    /// upgrade and refuses with close code 4401 instead.
    fn authenticated(&self, doc: &Value) -> bool {
        let security = self.op.get("security").unwrap_or(&doc["security"]);
        let required = security.as_array().is_some_and(|reqs| {
            reqs.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        });
        required && self.path != "/api/v1/ws"
    }

    /// Whether the method is one a cookie session may only use with the CSRF header.
    fn unsafe_method(&self) -> bool {
        !matches!(self.method, "get" | "head" | "options")
    }

    /// The path with every placeholder filled: with a well-formed value of its type, or with
    /// `malformed` for the UUID and integer parameters.
    fn url(&self, malformed: bool) -> String {
        let mut url = self.path.to_owned();
        for p in self.params().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap_or_default();
            let schema = &p["schema"];
            let value = match (schema["format"].as_str(), schema["type"].as_str()) {
                (Some("uuid"), _) if malformed => "not-a-uuid".to_owned(),
                (Some("uuid"), _) => Uuid::new_v4().to_string(),
                (_, Some("integer")) if malformed => "first".to_owned(),
                (_, Some("integer")) => "0".to_owned(),
                _ => "x".to_owned(),
            };
            url = url.replace(&format!("{{{name}}}"), &value);
        }
        url
    }
}

fn operations(doc: &Value) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                ops.push(Op { method, path, op });
            }
        }
    }
    assert!(
        ops.len() > 50,
        "the document lists only {} operations",
        ops.len()
    );
    ops
}

/// Collects what is wrong, so that one run reports every operation that is.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    #[track_caller]
    fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} problems\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

/// Checks that `op` declares `status` with an `ErrorBody` whose description names each of `codes`.
fn declares(problems: &mut Problems, op: &Op<'_>, status: u16, codes: &[&str]) {
    let Some(response) = op.response(status) else {
        problems
            .0
            .push(format!("{} does not declare {status}", op.name()));
        return;
    };
    let schema = &response["content"]["application/json"]["schema"]["$ref"];
    problems.check(schema == "#/components/schemas/ErrorBody", || {
        format!("{}: {status} is not an ErrorBody: {response}", op.name())
    });
    let description = response["description"].as_str().unwrap_or_default();
    for code in codes {
        problems.check(description.split(", ").any(|c| c == *code), || {
            format!(
                "{}: {status} does not name `{code}`: {description:?}",
                op.name()
            )
        });
    }
}

#[test]
fn every_path_parameter_is_in_its_template_and_every_placeholder_is_declared() {
    let doc = document();
    let mut problems = Problems::default();
    for op in operations(&doc) {
        let declared = op.params_in("path");
        let placeholders = op.placeholders();
        for name in declared.difference(&placeholders) {
            problems.0.push(format!(
                "{}: `{name}` is declared in: path but is not in the template",
                op.name()
            ));
        }
        for name in placeholders.difference(&declared) {
            problems.0.push(format!(
                "{}: `{{{name}}}` is not declared as a path parameter",
                op.name()
            ));
        }
    }
    problems.assert_none("path parameters");
}

#[test]
fn every_operation_has_its_own_operation_id() {
    // Generated clients name an operation by its id: two with one id do not compile.
    let doc = document();
    let mut seen = BTreeSet::new();
    let mut problems = Problems::default();
    for op in operations(&doc) {
        let id = op.op["operationId"].as_str().unwrap_or_default();
        problems.check(!id.is_empty() && seen.insert(id), || {
            format!("{}: operationId {id:?} is missing or taken", op.name())
        });
    }
    problems.assert_none("operation ids");
}

#[test]
fn query_fields_are_declared_in_the_query() {
    let doc = document();
    let ops = operations(&doc);
    let mut problems = Problems::default();
    // Every field of the `ApiQuery<T>` structs, wherever it appears.
    let query_fields = [
        "limit",
        "before",
        "after",
        "offset",
        "q",
        "room",
        "status",
        "assignee",
        "due_before",
        "label",
        "token",
    ];
    for op in &ops {
        for p in op.params() {
            let name = p["name"].as_str().unwrap_or_default();
            problems.check(!query_fields.contains(&name) || p["in"] == "query", || {
                format!(
                    "{}: `{name}` is declared in: {} instead of query",
                    op.name(),
                    p["in"]
                )
            });
        }
    }
    // And each operation that takes an `ApiQuery<T>` has all of T's fields in the query.
    let expected: [(&str, &str, &[&str]); 11] = [
        (
            "get",
            "/api/v1/tasks",
            &[
                "room",
                "assignee",
                "status",
                "due_before",
                "label",
                "limit",
                "offset",
            ],
        ),
        (
            "get",
            "/api/v1/rooms/{id}/messages",
            &["before", "after", "limit"],
        ),
        (
            "get",
            "/api/v1/messages/{id}/replies",
            &["before", "after", "limit"],
        ),
        (
            "get",
            "/api/v1/tasks/{id}/messages",
            &["before", "after", "limit"],
        ),
        ("get", "/api/v1/search", &["q", "room", "limit"]),
        ("get", "/api/v1/mentions", &["before", "limit"]),
        ("get", "/api/v1/users", &["q", "limit"]),
        ("get", "/api/v1/admin/users", &["after", "limit"]),
        ("get", "/api/v1/assistant/requests", &["limit"]),
        ("get", "/api/v1/ws", &["token"]),
        ("get", "/api/v1/rooms/{id}", &[]),
    ];
    for (method, path, fields) in expected {
        let Some(op) = ops.iter().find(|o| o.method == method && o.path == path) else {
            problems
                .0
                .push(format!("{method} {path} is not in the document"));
            continue;
        };
        let fields: BTreeSet<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        let query = op.params_in("query");
        problems.check(query == fields, || {
            format!(
                "{}: query parameters {query:?}, expected {fields:?}",
                op.name()
            )
        });
    }
    problems.assert_none("query parameters");
}

#[test]
fn every_authenticated_operation_declares_401() {
    let doc = document();
    let mut problems = Problems::default();
    let mut authenticated = 0;
    for op in operations(&doc).iter().filter(|op| op.authenticated(&doc)) {
        authenticated += 1;
        declares(&mut problems, op, 401, &["unauthenticated"]);
        if op.unsafe_method() {
            declares(&mut problems, op, 403, &["csrf_failed"]);
        }
    }
    problems.assert_none("authenticated operations");
    assert!(
        authenticated > 50,
        "only {authenticated} operations need a session"
    );
}

#[test]
fn every_operation_with_a_body_declares_400_413_415_and_422() {
    let doc = document();
    let mut problems = Problems::default();
    for op in operations(&doc).iter().filter(|op| op.has_body()) {
        declares(&mut problems, op, 400, &["malformed_json", "invalid_body"]);
        declares(&mut problems, op, 413, &["payload_too_large"]);
        declares(&mut problems, op, 415, &["unsupported_media_type"]);
        declares(&mut problems, op, 422, &["invalid_body"]);
    }
    problems.assert_none("operations with a body");
}

#[test]
fn every_operation_with_parameters_declares_400() {
    let doc = document();
    let mut problems = Problems::default();
    for op in operations(&doc) {
        if !op.params_in("path").is_empty() {
            declares(&mut problems, &op, 400, &["invalid_path"]);
        }
        if !op.params_in("query").is_empty() {
            declares(&mut problems, &op, 400, &["invalid_query"]);
        }
        if op.params_in("query").contains("limit") {
            declares(&mut problems, &op, 422, &["invalid_limit"]);
        }
    }
    problems.assert_none("operations with parameters");
}

#[test]
fn every_operation_declares_500_and_503() {
    let doc = document();
    let mut problems = Problems::default();
    for op in operations(&doc) {
        declares(&mut problems, &op, 500, &["internal"]);
        // Readiness answers 503 with its own body, saying which dependency is down.
        if op.path != "/readyz" {
            declares(&mut problems, &op, 503, &["unavailable", "timeout"]);
        }
    }
    problems.assert_none("server errors");
}

#[test]
fn the_web_clients_copy_of_the_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/openapi.json");
    let committed: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    assert!(
        committed == document(),
        "web/openapi.json is not the document the API describes now; regenerate it and the web \
         client's types with\n\n    {REGENERATE}\n"
    );
}

/// Sends `body` (if any) as `content_type`, with `client`'s bearer token if it has one.
async fn send(
    client: &Client,
    method: &str,
    url: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let mut req = client.http.request(method, format!("{}{url}", client.base));
    if let Some(token) = &client.token {
        req = req.bearer_auth(token);
    }
    if let Some((content_type, bytes)) = body {
        req = req.header(header::CONTENT_TYPE, content_type).body(bytes);
    }
    let response = req.send().await.expect("request");
    let status = response.status();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}

fn empty_json(op: &Op<'_>) -> Option<(&'static str, Vec<u8>)> {
    op.has_body().then(|| ("application/json", b"{}".to_vec()))
}

#[tokio::test]
async fn without_a_session_exactly_the_authenticated_operations_answer_401() {
    let app = TestApp::spawn().await;
    let served = app.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(served.0, StatusCode::OK);
    assert!(
        served.1 == document(),
        "the served document is not the one api_router() builds"
    );

    let doc = document();
    let anonymous = app.anonymous();
    let mut problems = Problems::default();
    for op in operations(&doc) {
        let (status, body) = send(&anonymous, op.method, &op.url(false), empty_json(&op)).await;
        let unauthenticated =
            status == StatusCode::UNAUTHORIZED && code(&body) == "unauthenticated";
        problems.check(unauthenticated == op.authenticated(&doc), || {
            format!(
                "{}: the document says authenticated = {}, a request without a session got {status} {body}",
                op.name(),
                op.authenticated(&doc)
            )
        });
    }
    problems.assert_none("requests without a session");
}

#[tokio::test]
async fn bodies_that_are_not_json_malformed_or_too_large_get_the_documented_errors() {
    let app = TestApp::spawn_with(|c| c.limits.max_body_bytes = 4096).await;
    let ann = app.register("ann").await;
    let doc = document();
    let mut problems = Problems::default();
    let too_large = serde_json::to_vec(&json!({ "body": "x".repeat(8192) })).expect("json");
    for op in operations(&doc).iter().filter(|op| op.has_body()) {
        let url = op.url(false);
        let cases: [(&str, Vec<u8>, StatusCode, &str); 3] = [
            (
                "text/plain",
                b"{}".to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "application/json",
                b"{\"body\": ".to_vec(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "application/json",
                too_large.clone(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
        ];
        for (content_type, bytes, expected, expected_code) in cases {
            let (status, body) = send(&ann, op.method, &url, Some((content_type, bytes))).await;
            problems.check(status == expected && code(&body) == expected_code, || {
                format!(
                    "{}: expected {expected} {expected_code}, got {status} {body}",
                    op.name()
                )
            });
            problems.check(op.response(expected.as_u16()).is_some(), || {
                format!("{} answers {expected} but does not declare it", op.name())
            });
        }
    }
    problems.assert_none("bodies");
}

#[tokio::test]
async fn malformed_path_and_query_parameters_get_the_documented_400() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann").await;
    let doc = document();
    let mut problems = Problems::default();
    let mut tried = 0;
    for op in operations(&doc) {
        let typed = op
            .params()
            .filter(|p| p["in"] == "path")
            .any(|p| p["schema"]["format"] == "uuid" || p["schema"]["type"] == "integer");
        let mut cases = Vec::new();
        if typed {
            cases.push((op.url(true), "invalid_path"));
        }
        if op.params_in("query").contains("limit") {
            cases.push((format!("{}?limit=many", op.url(false)), "invalid_query"));
        }
        for (url, expected_code) in cases {
            tried += 1;
            let (status, body) = send(&ann, op.method, &url, empty_json(&op)).await;
            problems.check(
                status == StatusCode::BAD_REQUEST && code(&body) == expected_code,
                || {
                    format!(
                        "{} {url}: expected 400 {expected_code}, got {status} {body}",
                        op.name()
                    )
                },
            );
            let described = op
                .response(400)
                .and_then(|r| r["description"].as_str())
                .is_some_and(|d| d.split(", ").any(|c| c == expected_code));
            problems.check(described, || {
                format!(
                    "{}: answers 400 {expected_code} but does not declare it",
                    op.name()
                )
            });
        }
    }
    problems.assert_none("malformed parameters");
    assert!(tried > 40, "only {tried} malformed requests were tried");
}

#[tokio::test]
async fn cookie_writes_without_the_csrf_header_get_the_documented_403() {
    let app = TestApp::spawn().await;
    app.register("ann").await;
    let browser = Client::with_cookies(&app.base);
    let (status, _) = browser
        .post(
            "/api/v1/auth/login",
            json!({ "username": "ann", "password": password_of("ann") }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let doc = document();
    let mut problems = Problems::default();
    for op in operations(&doc)
        .iter()
        .filter(|op| op.authenticated(&doc) && op.unsafe_method())
    {
        let (status, body) = send(&browser, op.method, &op.url(false), empty_json(op)).await;
        problems.check(
            status == StatusCode::FORBIDDEN && code(&body) == "csrf_failed",
            || {
                format!(
                    "{}: expected 403 csrf_failed, got {status} {body}",
                    op.name()
                )
            },
        );
    }
    problems.assert_none("cookie writes without the CSRF header");
}

//! The OpenAPI document served at `/api/v1/openapi.json`: its header (info, tags, security
//! schemes) and the error responses that the shared extractors and middleware give every
//! operation. Those are added here from what each operation declares (its security, parameters
//! and body) rather than repeated on every handler, so a new handler gets them by being routed.
//!
//! The web client's types are generated from this document: after changing the API, run
//! `cargo run --bin flowly -- openapi > web/openapi.json && (cd web && npm run gen:api)`.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, HttpMethod, OpenApi as Document, PathItem, Ref, RefOr, Response,
        path::{Operation, ParameterIn},
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
    },
};

use super::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "Flowly API", version = "1", description = "Chat and tasks in one stream. Errors are `{\"error\": {\"code\", \"message\"}}`."),
    modifiers(&SecurityAddon),
    security(("session_cookie" = []), ("bearer" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Register, log in and out"),
        (name = "me", description = "The caller's profile and sessions"),
        (name = "users", description = "Finding people; administering accounts"),
        (name = "friends", description = "Friend requests, friends and blocks"),
        (name = "rooms", description = "DMs, group rooms and members"),
        (name = "messages", description = "Messages, reactions, mentions and search"),
        (name = "tasks", description = "Tasks, their history and discussions"),
        (name = "assistant", description = "Questions, summaries and task proposals answered from the team's chats and tasks"),
        (name = "attachments", description = "Files and images in messages and tasks"),
        (name = "invites", description = "Invite links to group rooms"),
        (name = "notifications", description = "Muting rooms; Web Push subscriptions"),
        (name = "realtime", description = "The WebSocket stream (frames in docs/protocol.md)"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub(super) struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::domain::auth::SESSION_COOKIE,
                "Set by login. Writes must also send the `X-CSRF-Token` header returned by login.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Paths that require a session but refuse a missing one without a 401: the WebSocket upgrades
/// first and then closes with code 4401 (docs/protocol.md).
const REFUSED_AFTER_UPGRADE: &[&str] = &["/api/v1/ws"];

/// Operations (`METHOD path`) whose handlers count against a rate limit (`app::limits`,
/// directly or through `app::limits::limit_writes`) and so may answer 429 `rate_limited`.
const RATE_LIMITED: &[&str] = &[
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/me/password",
    "POST /api/v1/rooms",
    "POST /api/v1/rooms/{id}/messages",
    "PATCH /api/v1/messages/{id}",
    "PUT /api/v1/messages/{id}/reactions/{emoji}",
    "POST /api/v1/messages/{id}/task",
    "POST /api/v1/tasks",
    "PATCH /api/v1/tasks/{id}",
    "POST /api/v1/tasks/{id}/move",
    "POST /api/v1/tasks/{id}/complete",
    "POST /api/v1/tasks/{id}/reopen",
    "POST /api/v1/tasks/{id}/messages",
    "POST /api/v1/assistant/ask",
    "POST /api/v1/assistant/extract-tasks",
    "POST /api/v1/rooms/{id}/summary",
    "POST /api/v1/assistant/requests/{id}/proposals/{n}/accept",
    "POST /api/v1/rooms/{id}/attachments",
    "POST /api/v1/tasks/{id}/attachments",
    "POST /api/v1/rooms/{id}/invites",
    "POST /api/v1/invites/{invite}/register",
];

/// Adds to every operation the error responses it can get without its handler saying so: from
/// `CurrentUser`/`AdminUser` (401, 403), `ApiJson` (400, 413, 415, 422), `ApiPath`/`ApiQuery`
/// (400), `page_size` (422), the rate limits (429) and the middleware (500, 503). A status the
/// operation already declares keeps its body and gains the missing codes in its description.
///
/// Run it on the assembled document: the `modifiers` of [`ApiDoc`] run before the routes are
/// merged in.
pub(super) struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut Document) {
        let default_security = openapi.security.clone().unwrap_or_default();
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in operations_mut(item) {
                let authenticated =
                    requires_session(operation.security.as_ref().unwrap_or(&default_security))
                        && !REFUSED_AFTER_UPGRADE.contains(&path.as_str());
                let name = format!("{} {path}", method_name(&method));
                for (status, codes) in common_errors(path, &method, operation, authenticated, &name)
                {
                    add_error(operation, status, &codes);
                }
            }
        }
    }
}

/// The statuses, each with its codes, that `operation` can answer besides its own.
fn common_errors(
    path: &str,
    method: &HttpMethod,
    operation: &Operation,
    authenticated: bool,
    name: &str,
) -> Vec<(u16, Vec<&'static str>)> {
    let has_body = operation.request_body.is_some();
    let params = operation.parameters.as_deref().unwrap_or_default();
    let has_param_in = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    let has_query_limit = params
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query && p.name == "limit");

    let mut bad_request = Vec::new();
    if has_body {
        bad_request.extend(["malformed_json", "invalid_body"]);
    }
    if has_param_in(ParameterIn::Path) {
        bad_request.push("invalid_path");
    }
    if has_param_in(ParameterIn::Query) {
        bad_request.push("invalid_query");
    }
    let mut forbidden = Vec::new();
    let writes = !matches!(
        method,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Options
    );
    if authenticated && writes {
        forbidden.push("csrf_failed");
    }
    if path.starts_with("/api/v1/admin/") {
        forbidden.push("admin_only");
    }
    let mut unprocessable = Vec::new();
    if has_body {
        unprocessable.push("invalid_body");
    }
    if has_query_limit {
        unprocessable.push("invalid_limit");
    }

    let mut errors = vec![(400, bad_request), (403, forbidden), (422, unprocessable)];
    if authenticated {
        errors.push((401, vec!["unauthenticated"]));
    }
    if has_body {
        errors.push((413, vec!["payload_too_large"]));
        errors.push((415, vec!["unsupported_media_type"]));
    }
    if RATE_LIMITED.contains(&name) {
        errors.push((429, vec!["rate_limited"]));
    }
    errors.push((500, vec!["internal"]));
    let mut unavailable = vec!["unavailable", "timeout"];
    if !super::admission::OUTSIDE_THE_LIMIT.contains(&path) {
        unavailable.push("overloaded");
    }
    errors.push((503, unavailable));
    errors.retain(|(_, codes)| !codes.is_empty());
    errors
}

/// Whether a security list demands credentials: anything but the empty requirement `{}`, which
/// marks an operation open to everyone.
fn requires_session(security: &[SecurityRequirement]) -> bool {
    security
        .iter()
        .any(|requirement| *requirement != SecurityRequirement::default())
}

/// Declares `status` with an `ErrorBody` naming `codes`, or, when the operation declares it
/// already, adds the codes its description lacks. A status declared with another body (such as
/// `/readyz`'s 503) is the operation's own answer and is left as it is.
fn add_error(operation: &mut Operation, status: u16, codes: &[&str]) {
    let error_body = || Content::new(Some(Ref::from_schema_name("ErrorBody")));
    let response = operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(Response::new("")));
    let RefOr::T(response) = response else {
        return;
    };
    match response.content.get("application/json") {
        None if response.content.is_empty() => {
            response
                .content
                .insert("application/json".to_owned(), error_body());
        }
        Some(content) if content.schema == error_body().schema => {}
        _ => return,
    }
    let mut named: Vec<String> = response
        .description
        .split(", ")
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect();
    for code in codes {
        if !named.iter().any(|c| c == code) {
            named.push((*code).to_owned());
        }
    }
    response.description = named.join(", ");
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, &mut item.get),
        (HttpMethod::Put, &mut item.put),
        (HttpMethod::Post, &mut item.post),
        (HttpMethod::Delete, &mut item.delete),
        (HttpMethod::Options, &mut item.options),
        (HttpMethod::Head, &mut item.head),
        (HttpMethod::Patch, &mut item.patch),
        (HttpMethod::Trace, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|op| (method, op)))
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Head => "HEAD",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Trace => "TRACE",
    }
}

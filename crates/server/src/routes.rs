//! The endpoints. Every `/v1` route needs `Authorization: Bearer KEY`;
//! `/health` and `/openapi.json` are open.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDateTime;
use mercator_data::registry::Event;
use mercator_forecast::panel::{Level, SeriesKey};
use mercator_recommend::offline::ColdStart;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::params;
use crate::state::{event_weight, AppState, CachedReply, ReplyKey};

type Shared = Arc<AppState>;

/// Maximum number of customers in one propensity request.
const MAX_BATCH: usize = 1000;

/// Builds the router over `state`.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/v1/customers/{id}/recommendations", get(recommendations))
        .route("/v1/items/{sku}/similar", get(similar))
        .route("/v1/propensity", post(propensity))
        .route("/v1/events", post(events))
        .route("/v1/forecasts", get(forecasts))
        .route("/v1/translations", post(crate::translate::translate))
        .route("/v1/translations/quality", post(crate::translate::quality))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(chat_models))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_key,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!(
            "method {} is not allowed on {}; see /openapi.json",
            request.method(),
            request.uri().path()
        ),
    }
}

/// Gives errors raised outside the handlers, such as a body over the size
/// limit, the same `{"error": "..."}` body as the handlers' own.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "request body is too large; the limit is 2 MB, so send fewer items per request"
                .to_string()
        }
        _ => {
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).trim().to_string();
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_lowercase()
            } else {
                text
            }
        }
    };
    ApiError { status, message }.into_response()
}

async fn require_key(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Some(header) = header else {
        return ApiError::unauthorized(
            "missing API key: send the header Authorization: Bearer KEY \
             (create a key with `mercator keys create --name NAME`)",
        )
        .into_response();
    };
    // The scheme name is case-insensitive (RFC 9110, section 11.1).
    let key = match header.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
        _ => "",
    };
    if key.is_empty() || !state.is_valid_key(key) {
        return ApiError::unauthorized(
            "invalid or revoked API key; list keys with `mercator keys list`",
        )
        .into_response();
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

async fn health(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "dataset": state.dataset,
        "recommend_version": state.recommend().map(|m| m.version),
        "propensity_version": state.propensity().map(|m| m.version),
        "forecast_version": state.forecast().map(|m| m.version),
        "chat_model": state.chat.as_ref().map(|m| m.name.clone()),
    }))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

fn no_recommend_model(state: &AppState) -> ApiError {
    ApiError::unavailable(format!(
        "no recommendation model is promoted for dataset {:?}; train one with \
         `mercator train recommend --dataset {}`",
        state.dataset, state.dataset
    ))
}

async fn recommendations(
    State(state): State<Shared>,
    Path(customer_id): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    params::path_id("customer id", &customer_id)?;
    let query = params::single_values(uri.query().unwrap_or(""))?;
    params::only_known(&query, &["k", "country", "exclude_purchased"])?;
    let key = ReplyKey {
        k: params::k(&query)?,
        country: params::text(&query, "country")?,
        exclude_purchased: params::flag(&query, "exclude_purchased", true)?,
        customer_id,
    };
    let served = state
        .recommend()
        .ok_or_else(|| no_recommend_model(&state))?;
    if let Some(body) = state.cached_reply(&key, served.version) {
        return Ok(json_bytes(body));
    }

    let events = state.customer_events(&key.customer_id);
    let events_seen = events.len();
    let cold = ColdStart {
        country: key.country.clone(),
        events,
    };
    let list = served
        .model
        .recommend(&key.customer_id, &cold, key.k, key.exclude_purchased);
    let body = serde_json::to_vec(&json!({
        "customer_id": key.customer_id,
        "model_version": served.version,
        "cold_start": list.cold_start,
        "country": list.country,
        "items": list.items,
    }))
    .map_err(ApiError::internal)?;
    let body = Bytes::from(body);
    state.keep_reply(
        key,
        CachedReply {
            version: served.version,
            events_seen,
            body: body.clone(),
        },
    );
    Ok(json_bytes(body))
}

/// A 200 reply with an already serialized JSON body.
fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn no_chat_model() -> ApiError {
    ApiError::unavailable(
        "no chat model is loaded; start the server with `mercator serve --llm NAME` \
         (list installed models with `mercator models list`)",
    )
}

async fn chat_completions(State(state): State<Shared>, body: Bytes) -> Response {
    let Some(model) = state.chat.clone() else {
        return no_chat_model().into_response();
    };
    match crate::chat::parse_request(&body, &model.name) {
        Ok((request, stream)) => crate::chat::complete(model, request, stream).await,
        Err(err) => err.into_response(),
    }
}

async fn chat_models(State(state): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    let model = state.chat.as_ref().ok_or_else(no_chat_model)?;
    Ok(Json(crate::chat::models_list(model)))
}

/// The forecast of one series: SKU x country, SKU, country, category or,
/// without parameters, the total.
async fn forecasts(
    State(state): State<Shared>,
    uri: axum::http::Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = params::single_values(uri.query().unwrap_or(""))?;
    params::only_known(&query, &["sku", "country", "category"])?;
    let key = SeriesKey {
        sku: params::text(&query, "sku")?,
        country: params::text(&query, "country")?,
        category: params::text(&query, "category")?,
    };
    let level = match (&key.sku, &key.country, &key.category) {
        (Some(_), Some(_), None) => Level::SkuCountry,
        (Some(_), None, None) => Level::Sku,
        (None, Some(_), None) => Level::Country,
        (None, None, Some(_)) => Level::Category,
        (None, None, None) => Level::Total,
        _ => {
            return Err(ApiError::bad_request(
                "query parameter category cannot be combined with sku or country; \
                 ask for a category alone",
            ))
        }
    };
    let served = state.forecast().ok_or_else(|| {
        ApiError::unavailable(format!(
            "no forecast is recorded for dataset {:?}; run `mercator forecast --dataset {} \
             --out DIR`",
            state.dataset, state.dataset
        ))
    })?;
    let run = &served.model;
    let Some(series) = run.find(level, &key) else {
        let message = if run.has_level(level) {
            format!(
                "the current forecast run has no series for {key}; check the spelling, \
                 or see forecast.csv of the run for the forecast series"
            )
        } else {
            format!(
                "the current forecast run has no {} series; run `mercator forecast --by {}`",
                level_name(level),
                level_name(level)
            )
        };
        return Err(ApiError::not_found(message));
    };
    let periods: Vec<serde_json::Value> = (0..run.horizon)
        .map(|step| {
            json!({
                "period_start": run.period_start(step),
                "point": series.point[step],
                "lower_80": series.lower_80[step],
                "upper_80": series.upper_80[step],
                "lower_95": series.lower_95[step],
                "upper_95": series.upper_95[step],
            })
        })
        .collect();
    Ok(Json(json!({
        "forecast_version": served.version,
        "dataset": run.dataset,
        "level": level,
        "sku": series.sku,
        "country": series.country,
        "category": series.category,
        "description": series.description,
        "model": series.model,
        "frequency": run.frequency,
        "reconciliation": run.reconciliation,
        "periods": periods,
    })))
}

/// A level as `mercator forecast --by` writes it.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::SkuCountry => "sku,country",
        Level::Sku => "sku",
        Level::Country => "country",
        Level::Category => "category",
        Level::Total => "total",
    }
}

async fn similar(
    State(state): State<Shared>,
    Path(sku): Path<String>,
    uri: axum::http::Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    params::path_id("SKU", &sku)?;
    let query = params::single_values(uri.query().unwrap_or(""))?;
    params::only_known(&query, &["k"])?;
    let k = params::k(&query)?;
    let served = state
        .recommend()
        .ok_or_else(|| no_recommend_model(&state))?;
    let items = served.model.similar(&sku, k).ok_or_else(|| {
        ApiError::not_found(format!(
            "SKU {sku:?} is not in the catalog of model version {}; ingest orders that contain \
             it and retrain",
            served.version
        ))
    })?;
    Ok(Json(
        json!({ "sku": sku, "model_version": served.version, "items": items }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropensityRequest {
    customer_ids: Vec<String>,
}

async fn propensity(
    State(state): State<Shared>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request: PropensityRequest = params::json_body(&body, "propensity request")?;
    if request.customer_ids.is_empty() || request.customer_ids.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "customer_ids has {} entries; send 1 to {MAX_BATCH}",
            request.customer_ids.len()
        )));
    }
    let served = state.propensity().ok_or_else(|| {
        ApiError::unavailable(format!(
            "no propensity model is promoted for dataset {:?}; train one with \
             `mercator train propensity --dataset {}`",
            state.dataset, state.dataset
        ))
    })?;
    let predictions: Vec<serde_json::Value> = request
        .customer_ids
        .iter()
        .map(|customer_id| match served.model.predict(customer_id) {
            Some(prediction) => json!({
                "customer_id": customer_id,
                "known": true,
                "probability": prediction.probability,
                "log_odds": prediction.log_odds,
                "base_log_odds": prediction.base_log_odds,
                "contributions": prediction.contributions.iter()
                    .map(|(feature, value)| json!({ "feature": feature, "log_odds": value }))
                    .collect::<Vec<_>>(),
            }),
            None => json!({ "customer_id": customer_id, "known": false, "probability": null }),
        })
        .collect();
    Ok(Json(json!({
        "model_version": served.version,
        "classifier": served.model.classifier,
        "window_days": served.model.window_days,
        "predictions": predictions,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsRequest {
    events: Vec<EventBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    customer_id: String,
    sku: String,
    #[serde(rename = "type")]
    kind: String,
    /// ISO 8601 time; the time of receipt when absent.
    at: Option<String>,
}

async fn events(State(state): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let request: EventsRequest = params::json_body(&body, "events request")?;
    if request.events.is_empty() || request.events.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "events has {} entries; send 1 to {MAX_BATCH}",
            request.events.len()
        )));
    }
    let now = chrono::Utc::now().naive_utc();
    let mut parsed = Vec::with_capacity(request.events.len());
    for (idx, event) in request.events.into_iter().enumerate() {
        if event_weight(&event.kind).is_none() {
            return Err(ApiError::bad_request(format!(
                "events[{idx}].type = {:?} is not an event type; use view, click, add_to_cart \
                 or purchase",
                event.kind
            )));
        }
        for (field, value) in [("customer_id", &event.customer_id), ("sku", &event.sku)] {
            if value.trim().is_empty() || value.chars().count() > 100 {
                return Err(ApiError::bad_request(format!(
                    "events[{idx}].{field} = {value:?} must have 1 to 100 characters"
                )));
            }
        }
        let occurred_at = match &event.at {
            None => now,
            Some(text) => parse_time(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "events[{idx}].at = {text:?} is not a time; use ISO 8601 such as \
                     2011-12-09T12:50:00Z"
                ))
            })?,
        };
        parsed.push(Event {
            customer_id: event.customer_id.trim().to_string(),
            sku: event.sku.trim().to_string(),
            kind: event.kind,
            occurred_at,
        });
    }
    let state_for_write = Arc::clone(&state);
    let n_events = parsed.len();
    tokio::task::spawn_blocking(move || state_for_write.record_events(&parsed))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "stored": n_events }))).into_response())
}

fn parse_time(text: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok())
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    /// Key accepted by the routers of these tests.
    const KEY: &str = "mk_test-key";

    /// Sends one request to a router over a store that holds [`KEY`] only.
    async fn send(request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = mercator_data::Store::open(dir.path()).unwrap();
        let hash = mercator_data::registry::hash_api_key(KEY);
        store.create_api_key("test", "mk_test", &hash).unwrap();
        drop(store);
        let state = Arc::new(AppState::open(dir.path(), "shop").unwrap());
        state.reload().unwrap();
        let response = router(state).oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {body:?}"));
        (status, json)
    }

    #[tokio::test]
    async fn wrong_method_gets_json_405() {
        let request = Request::delete("/health").body(Body::empty()).unwrap();
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body["error"].as_str().unwrap().contains("DELETE"), "{body}");
    }

    #[tokio::test]
    async fn oversized_body_gets_json_413() {
        let request = Request::post("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
            .unwrap();
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["error"].as_str().unwrap().contains("2 MB"), "{body}");
    }

    #[tokio::test]
    async fn chat_without_model_names_the_flag() {
        let request = Request::post("/v1/chat/completions")
            .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
            .body(Body::from(
                r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
            ))
            .unwrap();
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body["error"].as_str().unwrap().contains("--llm"), "{body}");
    }
}

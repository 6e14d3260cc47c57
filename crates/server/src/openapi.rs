//! The OpenAPI 3.1 description served at `/openapi.json`.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn k_parameter() -> Value {
    json!({
        "name": "k", "in": "query", "required": false,
        "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 10 }
    })
}

/// The API description.
pub fn document() -> Value {
    let common_errors = json!({
        "400": error_response("Invalid parameter or body"),
        "401": error_response("Missing, invalid or revoked API key"),
        "503": error_response("No model promoted yet; the message says how to train one"),
    });
    let with = |extra: Value| {
        let mut responses = common_errors.clone();
        if let (Some(map), Some(extra)) = (responses.as_object_mut(), extra.as_object()) {
            map.extend(extra.clone());
        }
        responses
    };
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Mercator API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Recommendations, similar items, purchase propensity, events, forecasts, listing translation and chat."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error"],
                    "properties": { "error": { "type": "string" } }
                },
                "Recommendation": {
                    "type": "object",
                    "properties": {
                        "sku": { "type": "string" },
                        "title": { "type": "string" },
                        "score": { "type": "number" },
                        "source": { "type": "string", "enum": ["als", "knn", "copurchase", "season", "popular"] },
                        "reason": { "type": "string" }
                    }
                }
            }
        },
        "security": [ { "bearer": [] } ]
    });
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/health".to_string(),
        json!({ "get": {
            "summary": "Liveness and served model versions", "security": [],
            "responses": { "200": { "description": "Server is up" } }
        }}),
    );
    paths.insert(
        "/openapi.json".to_string(),
        json!({ "get": {
            "summary": "This document", "security": [],
            "responses": { "200": { "description": "OpenAPI document" } }
        }}),
    );
    paths.insert("/v1/customers/{id}/recommendations".to_string(), json!({ "get": {
                "summary": "Ranked items with reasons; unknown customers get country and season popularity refined by their events",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                    k_parameter(),
                    { "name": "country", "in": "query", "required": false, "schema": { "type": "string" } },
                    { "name": "exclude_purchased", "in": "query", "required": false,
                      "schema": { "type": "boolean", "default": true } }
                ],
                "responses": with(json!({ "200": { "description": "Recommendations",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": {
                            "customer_id": { "type": "string" },
                            "model_version": { "type": "integer" },
                            "cold_start": { "type": "boolean" },
                            "country": { "type": "string" },
                            "items": { "type": "array", "items": { "$ref": "#/components/schemas/Recommendation" } }
                        }
                    }}}
                }}))
            }}));
    paths.insert("/v1/items/{sku}/similar".to_string(), json!({ "get": {
                "summary": "Items bought by the same customers, or with similar titles for products without sales",
                "parameters": [
                    { "name": "sku", "in": "path", "required": true, "schema": { "type": "string" } },
                    k_parameter()
                ],
                "responses": with(json!({
                    "200": { "description": "Similar items" },
                    "404": error_response("SKU not in the catalog")
                }))
            }}));
    paths.insert("/v1/propensity".to_string(), json!({ "post": {
                "summary": "Probability that each customer buys in the next window, with feature contributions",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "required": ["customer_ids"],
                    "properties": { "customer_ids": { "type": "array", "minItems": 1, "maxItems": 1000,
                        "items": { "type": "string" } } }
                }}}},
                "responses": with(json!({ "200": { "description": "Predictions" } }))
            }}));
    paths.insert("/v1/events".to_string(), json!({ "post": {
                "summary": "Store views, clicks, carts and purchases for cold start and the next training",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "required": ["events"],
                    "properties": { "events": { "type": "array", "minItems": 1, "maxItems": 1000, "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["customer_id", "sku", "type"],
                        "properties": {
                            "customer_id": { "type": "string" },
                            "sku": { "type": "string" },
                            "type": { "type": "string", "enum": ["view", "click", "add_to_cart", "purchase"] },
                            "at": { "type": "string", "format": "date-time" }
                        }
                    }}}
                }}}},
                "responses": with(json!({ "202": { "description": "Stored" } }))
            }}));
    paths.insert("/v1/forecasts".to_string(), json!({ "get": {
                "summary": "Demand forecast with 80% and 95% intervals of one series of the current `mercator forecast` run: sku and country, sku, country, category, or the total without parameters",
                "parameters": [
                    { "name": "sku", "in": "query", "required": false, "schema": { "type": "string" } },
                    { "name": "country", "in": "query", "required": false, "schema": { "type": "string" } },
                    { "name": "category", "in": "query", "required": false, "schema": { "type": "string" } }
                ],
                "responses": with(json!({
                    "200": { "description": "Forecast per period",
                        "content": { "application/json": { "schema": {
                            "type": "object",
                            "properties": {
                                "forecast_version": { "type": "integer" },
                                "level": { "type": "string", "enum": ["sku_country", "sku", "country", "category", "total"] },
                                "model": { "type": "string" },
                                "periods": { "type": "array", "items": {
                                    "type": "object",
                                    "properties": {
                                        "period_start": { "type": "string", "format": "date" },
                                        "point": { "type": "number" },
                                        "lower_80": { "type": "number" }, "upper_80": { "type": "number" },
                                        "lower_95": { "type": "number" }, "upper_95": { "type": "number" }
                                    }
                                }}
                            }
                        }}}
                    },
                    "404": error_response("No such series in the forecast run")
                }))
            }}));
    paths.insert("/v1/translations".to_string(), json!({ "post": {
                "summary": "Translate listings with Apertium and the translation memory (human corrections win); every field gets a quality score and flags, and low scores join the review queue",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "required": ["to", "listings"],
                    "properties": {
                        "to": { "type": "string", "description": "ISO 639-1 code of the target language" },
                        "from": { "type": "string", "default": "en" },
                        "review_threshold": { "type": "number", "minimum": 0, "maximum": 100, "default": 70 },
                        "listings": { "type": "array", "minItems": 1,
                            "maxItems": crate::translate::MAX_LISTINGS, "items": {
                            "type": "object", "required": ["sku", "title"],
                            "properties": {
                                "sku": { "type": "string" },
                                "title": { "type": "string" },
                                "description": { "type": "string", "description": "Plain text or HTML" },
                                "bullets": { "description": "An array, or one string with bullets separated by |",
                                    "oneOf": [{ "type": "array", "items": { "type": "string" } }, { "type": "string" }] },
                                "attributes": { "description": "An object, or one string of name=value pairs separated by |",
                                    "oneOf": [{ "type": "object", "additionalProperties": { "type": "string" } }, { "type": "string" }] },
                                "source_lang": { "type": "string" }
                            },
                            "additionalProperties": { "description": "Other plain fields are returned unchanged" }
                        }}
                    }
                }}}},
                "responses": with(json!({ "200": { "description": "Translated listings with qe_score, qe_flags and per-field scores" } }))
            }}));
    paths.insert("/v1/translations/quality".to_string(), json!({ "post": {
                "summary": "Quality estimate (0 to 100, with flags and signals) of translations made anywhere, one per source and translation pair",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false, "required": ["pairs"],
                    "properties": { "pairs": { "type": "array", "minItems": 1,
                        "maxItems": crate::translate::MAX_PAIRS, "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["source", "translation", "target_lang"],
                        "properties": {
                            "id": { "type": "string", "description": "Echoed in the reply; the 1-based position by default" },
                            "source": { "type": "string" },
                            "translation": { "type": "string" },
                            "source_lang": { "type": "string", "default": "en" },
                            "target_lang": { "type": "string" }
                        }
                    }}}
                }}}},
                "responses": with(json!({ "200": { "description": "One score per pair, in order" } }))
            }}));
    paths.insert("/v1/chat/completions".to_string(), json!({ "post": {
                "summary": "OpenAI-compatible chat completion from the model loaded with `mercator serve --llm NAME`; server-sent events when stream is true",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["messages"],
                    "properties": {
                        "model": { "type": "string" },
                        "messages": { "type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["role", "content"],
                            "properties": {
                                "role": { "type": "string", "enum": ["system", "user", "assistant"] },
                                "content": { "type": "string" }
                            }
                        }},
                        "max_tokens": { "type": "integer", "minimum": 1, "maximum": crate::chat::MAX_TOKENS_LIMIT },
                        "temperature": { "type": "number", "minimum": 0 },
                        "top_p": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
                        "seed": { "type": "integer", "minimum": 0 },
                        "stop": { "oneOf": [ { "type": "string" },
                            { "type": "array", "maxItems": 4, "items": { "type": "string" } } ] },
                        "stream": { "type": "boolean", "default": false }
                    }
                }}}},
                "responses": with(json!({
                    "200": { "description": "A chat.completion object, or chat.completion.chunk events" },
                    "404": error_response("Model not served here")
                }))
            }}));
    paths.insert(
        "/v1/models".to_string(),
        json!({ "get": {
            "summary": "The chat model this server answers with, in OpenAI's list format",
            "responses": with(json!({ "200": { "description": "Model list" } }))
        }}),
    );
    document["paths"] = Value::Object(paths);
    document
}

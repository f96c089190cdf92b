//! `/volumes/...`: docker's local volumes, on the engine's named and
//! anonymous volumes (the CLI's `volume` commands' own functions).

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{json, Value};
use tinydocker_engine::Engine;

use super::{json_response, Answer, ApiError, Call};

fn no_such_volume(name: &str) -> ApiError {
    ApiError::not_found(format!("get {name}: no such volume"))
}

/// `GET /volumes?filters=...` (dangling, driver, label, name).
pub async fn list(call: &Call) -> Answer {
    let filters: Vec<String> = super::containers::filters(call)?
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let volumes = call
        .blocking(move |engine| {
            crate::commands::matching_volumes(engine, &filters)
                .map_err(|e| ApiError::bad_request(crate::errors::one_line(&e)))
        })
        .await?;
    let rows: Vec<Value> = volumes.iter().map(crate::commands::volume_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Volumes": rows, "Warnings": null }),
    ))
}

/// A string map of the body (`Labels`, `DriverOpts`); null is none.
fn string_map(body: &Value, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match &body[key] {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ApiError::bad_request(format!(
                    "{key}: the value of {k:?} is not a string"
                ))),
            })
            .collect(),
        _ => Err(ApiError::bad_request(format!("{key}: not an object"))),
    }
}

/// `POST /volumes/create` `{Name, Driver, DriverOpts, Labels}`: the
/// volume (one of that name already there is kept, as docker's).
pub async fn create(call: &Call) -> Answer {
    let body = call.json()?;
    let name = body["Name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(String::from);
    let driver = body["Driver"].as_str().unwrap_or_default();
    if let Err(e) = crate::commands::check_volume_driver(name.as_deref(), driver) {
        return Err(ApiError::not_found(crate::errors::one_line(&e)));
    }
    let options = string_map(&body, "DriverOpts")?;
    if let Some(option) = options.keys().next() {
        return Err(ApiError::bad_request(format!(
            "create {}: invalid option {option:?}: tinydocker's local driver takes no options (type, device, o)",
            name.as_deref().unwrap_or_default()
        )));
    }
    let labels = string_map(&body, "Labels")?;
    let volume = call
        .blocking(move |engine| {
            engine
                .create_named_volume(name.as_deref(), labels)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &crate::commands::volume_json(&volume),
    ))
}

/// `GET /volumes/{name}`.
pub async fn inspect(call: &Call, name: &str) -> Answer {
    let name = name.to_string();
    let volume = call
        .blocking(move |engine| {
            if !engine.list_volumes()?.contains(&name) {
                return Err(no_such_volume(&name));
            }
            engine.volume(&name).map_err(ApiError::from)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &crate::commands::volume_json(&volume),
    ))
}

/// `DELETE /volumes/{name}?force=1`: 409 while a container names it, 404
/// for none (unless `force`).
pub async fn remove(call: &Call, name: &str) -> Answer {
    let force = call.query.flag("force");
    let name = name.to_string();
    call.blocking(move |engine| match engine.remove_volume(&name) {
        Ok(()) => Ok(()),
        Err(_) if force && !exists(engine, &name) => Ok(()),
        Err(e) => Err(ApiError::from(e)),
    })
    .await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

fn exists(engine: &Engine, name: &str) -> bool {
    engine
        .list_volumes()
        .map_or(true, |all| all.iter().any(|n| n == name))
}

/// `POST /volumes/prune`: every volume no container names (docker
/// 20.10's, API 1.41), `{VolumesDeleted, SpaceReclaimed}`.
pub async fn prune(call: &Call) -> Answer {
    if let Some((key, _)) = super::containers::filters(call)?.first() {
        return Err(ApiError::bad_request(format!(
            "invalid filter '{key}': tinydocker prunes every unused volume (no filters)"
        )));
    }
    let (removed, reclaimed) = call
        .blocking(|engine| engine.prune_volumes().map_err(ApiError::from))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            // docker's empty list is null.
            "VolumesDeleted": (!removed.is_empty()).then_some(removed),
            "SpaceReclaimed": reclaimed,
        }),
    ))
}
